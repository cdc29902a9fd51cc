package fault_test

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// stubAWS is a tiny stand-in for the emulators: enough Kinesis (iterators
// that chain) and DynamoDB (empty answers with a CRC32) for the SDK to decode
// its answers.
type stubAWS struct {
	calls atomic.Int64
	mu    sync.Mutex
	seq   int
}

func (s *stubAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	target := r.Header.Get("X-Amz-Target")
	body, _ := io.ReadAll(r.Body)
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	svc, op, _ := strings.Cut(target, ".")
	var out any
	switch op {
	case "GetShardIterator":
		out = map[string]any{"ShardIterator": s.iterator(in["ShardId"].(string))}
	case "GetRecords":
		it := in["ShardIterator"].(string)
		shard := strings.Split(it, "|")[1]
		// A struct keeps Records first: a partition key and a data-free
		// record spelling the key the proxy scans for come ahead of the real
		// NextShardIterator.
		out = struct {
			Records            []map[string]any
			NextShardIterator  string
			MillisBehindLatest int
		}{
			Records: []map[string]any{{
				"PartitionKey":   `"NextShardIterator": "bogus"`,
				"Data":           "aGVsbG8=",
				"SequenceNumber": "1",
			}, {
				"PartitionKey":   "NextShardIterator",
				"Data":           "aGVsbG8=",
				"SequenceNumber": "2",
			}},
			NextShardIterator: s.iterator(shard),
		}
	case "PutRecord":
		out = map[string]any{"ShardId": "shardId-000000000000", "SequenceNumber": "1"}
	case "ListStreams":
		out = map[string]any{"StreamNames": []string{}, "HasMoreStreams": false}
	default:
		out = map[string]any{}
	}
	b, _ := json.Marshal(out)
	if svc == "DynamoDB_20120810" {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	} else {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	}
	_, _ = w.Write(b)
}

// iterator returns a fresh opaque-looking iterator that the stub itself can
// map back to its shard.
func (s *stubAWS) iterator(shard string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("AAAA|%s|%d", shard, s.seq)
}
