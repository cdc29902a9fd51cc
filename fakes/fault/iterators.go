package fault

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"sync"
)

// shardLoc is where an iterator reads.
type shardLoc struct{ stream, shard string }

// iteratorMap remembers iterator → shard for the newest cap iterators. Old
// iterators are forgotten first-in first-out: iterators live five minutes and a
// consumer only ever uses its newest one (or retries the one before), so the
// oldest entries are the ones nobody will present again.
type iteratorMap struct {
	mu    sync.Mutex
	cap   int
	m     map[string]shardLoc
	order []string // ring of keys in insertion order
	head  int      // next slot to overwrite once the ring is full
}

func newIteratorMap(capacity int) *iteratorMap {
	return &iteratorMap{cap: capacity, m: make(map[string]shardLoc)}
}

func (im *iteratorMap) get(it string) (shardLoc, bool) {
	im.mu.Lock()
	defer im.mu.Unlock()
	loc, ok := im.m[it]
	return loc, ok
}

func (im *iteratorMap) put(it string, loc shardLoc) {
	if it == "" || loc.shard == "" {
		return
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	if _, ok := im.m[it]; ok {
		im.m[it] = loc
		return
	}
	if len(im.order) < im.cap {
		im.order = append(im.order, it)
	} else {
		delete(im.m, im.order[im.head])
		im.order[im.head] = it
		im.head = (im.head + 1) % im.cap
	}
	im.m[it] = loc
}

func (im *iteratorMap) len() int {
	im.mu.Lock()
	defer im.mu.Unlock()
	return len(im.m)
}

// learnsIterators reports whether req's response must be buffered to learn
// an iterator from it.
func (q *request) learnsIterators() bool {
	return q.service == ServiceKinesis && (q.op == "GetShardIterator" || q.op == "GetRecords")
}

// learn records the iterator a successful GetShardIterator or GetRecords
// response hands out.
func (i *Injector) learn(q *request, status int, h http.Header, body []byte) {
	if status != http.StatusOK {
		return
	}
	if h.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			return
		}
		body = plain
	}
	q.parse(i.iters)
	switch q.op {
	case "GetShardIterator":
		if len(q.shards) == 0 {
			return
		}
		var resp struct {
			ShardIterator string `json:"ShardIterator"`
		}
		if json.Unmarshal(body, &resp) == nil {
			i.iters.put(resp.ShardIterator, shardLoc{stream: q.stream, shard: q.shards[0]})
		}
	case "GetRecords":
		if len(q.shards) == 0 {
			return // the request's iterator was never learned
		}
		if next, ok := nextShardIterator(body); ok {
			i.iters.put(next, shardLoc{stream: q.stream, shard: q.shards[0]})
		}
	}
}

var nextIteratorKey = []byte(`"NextShardIterator"`)

// nextShardIterator finds the top-level NextShardIterator of a GetRecords
// response without decoding the records, which can be 10 MB. The quoted key
// followed by a colon cannot occur inside a string value (quotes in values
// are escaped, and a value is never followed by a colon), so the first such
// occurrence is the key itself.
func nextShardIterator(body []byte) (string, bool) {
	rest := body
	for {
		at := bytes.Index(rest, nextIteratorKey)
		if at < 0 {
			return "", false
		}
		rest = rest[at+len(nextIteratorKey):]
		v := bytes.TrimLeft(rest, " \t\r\n")
		if len(v) == 0 || v[0] != ':' {
			continue
		}
		v = bytes.TrimLeft(v[1:], " \t\r\n")
		if bytes.HasPrefix(v, []byte("null")) {
			return "", false
		}
		end := stringEnd(v)
		if end < 0 {
			return fallbackNextIterator(body)
		}
		var s string
		if json.Unmarshal(v[:end], &s) != nil {
			return fallbackNextIterator(body)
		}
		return s, s != ""
	}
}

// stringEnd returns the length of the JSON string literal at the start of v,
// or -1.
func stringEnd(v []byte) int {
	if len(v) == 0 || v[0] != '"' {
		return -1
	}
	for j := 1; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

func fallbackNextIterator(body []byte) (string, bool) {
	var resp struct {
		NextShardIterator string `json:"NextShardIterator"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return "", false
	}
	return resp.NextShardIterator, resp.NextShardIterator != ""
}
