package dynamodb

import (
	"hash/fnv"
	"sort"
	"sync"
	"time"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

// DynamoDB's key and item size limits.
const (
	maxItemBytes     = 400 * 1024
	maxHashKeyBytes  = 2048
	maxRangeKeyBytes = 1024
)

type keyDef struct {
	name string
	kind attr.Kind
}

// indexDef is a secondary index. Index contents are not stored separately:
// queries and scans derive them from the base table, which keeps indexes
// trivially consistent with every write.
type indexDef struct {
	name       string
	global     bool
	hash       keyDef
	rng        *keyDef
	projection string // ALL | KEYS_ONLY | INCLUDE
	nonKey     []string
	read       int64
	write      int64
	arn        string
}

// stored is one item as kept in a table; it is never modified after it has
// been stored, so readers may use it after releasing the table lock.
type stored struct {
	item attr.Item
	hash attr.Value
	rng  attr.Value // zero Value when the table has no range key
	size int
}

// partition holds the items sharing one hash key, sorted by range key.
type partition struct {
	enc   string // canonical encoding of the hash key
	token uint32 // position in scan order; also decides the scan segment
	items []*stored
}

type table struct {
	name     string
	hash     keyDef
	rng      *keyDef
	attrDefs []attributeDefinition
	created  time.Time
	billing  string
	read     int64
	write    int64
	arn      string
	id       string
	protect  bool
	gsis     []*indexDef
	lsis     []*indexDef
	indexes  map[string]*indexDef

	// mu covers the items below; writers hold it across condition check
	// and write, which is what makes conditional writes atomic.
	mu    sync.RWMutex
	parts map[string]*partition
	order []*partition // sorted by (token, enc): the scan order
	count int64
	bytes int64
}

// encodeKey is a canonical string for a key value: equal values (including
// numbers written differently, "1" and "1.0") encode equally.
func encodeKey(v attr.Value) string {
	switch v.Kind() {
	case attr.KindN:
		return "N" + v.Num().String()
	case attr.KindB:
		return "B" + v.Str()
	}
	return "S" + v.Str()
}

func tokenOf(enc string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(enc))
	return h.Sum32()
}

// segmentOf maps a token to one of total scan segments; segments are
// contiguous token ranges, so a segment is a contiguous run of the scan order.
func segmentOf(token uint32, total int) int {
	return int(uint64(token) * uint64(total) >> 32)
}

func partLess(tok uint32, enc string, p *partition) bool {
	return tok < p.token || tok == p.token && enc < p.enc
}

// compareRange orders two range-key values of the same type.
func compareRange(a, b attr.Value) int {
	c, _ := attr.Compare(a, b)
	return c
}

// find returns the position of range value r in p (or where it would go).
func (p *partition) find(r attr.Value, hasRange bool) (int, bool) {
	if !hasRange {
		return 0, len(p.items) == 1
	}
	i := sort.Search(len(p.items), func(i int) bool { return compareRange(p.items[i].rng, r) >= 0 })
	return i, i < len(p.items) && compareRange(p.items[i].rng, r) == 0
}

func (t *table) get(h, r attr.Value) *stored {
	p := t.parts[encodeKey(h)]
	if p == nil {
		return nil
	}
	if i, ok := p.find(r, t.rng != nil); ok {
		return p.items[i]
	}
	return nil
}

// put stores s, replacing any item with the same key. Callers hold t.mu.
func (t *table) put(s *stored) {
	enc := encodeKey(s.hash)
	p := t.parts[enc]
	if p == nil {
		p = &partition{enc: enc, token: tokenOf(enc)}
		t.parts[enc] = p
		i := sort.Search(len(t.order), func(i int) bool { return partLess(p.token, p.enc, t.order[i]) })
		t.order = append(t.order, nil)
		copy(t.order[i+1:], t.order[i:])
		t.order[i] = p
	}
	i, found := p.find(s.rng, t.rng != nil)
	if found {
		t.bytes -= int64(p.items[i].size)
		p.items[i] = s
	} else {
		p.items = append(p.items, nil)
		copy(p.items[i+1:], p.items[i:])
		p.items[i] = s
		t.count++
	}
	t.bytes += int64(s.size)
}

// remove deletes the item with key (h, r) if present. Callers hold t.mu.
func (t *table) remove(h, r attr.Value) {
	enc := encodeKey(h)
	p := t.parts[enc]
	if p == nil {
		return
	}
	i, found := p.find(r, t.rng != nil)
	if !found {
		return
	}
	t.bytes -= int64(p.items[i].size)
	t.count--
	p.items = append(p.items[:i], p.items[i+1:]...)
	if len(p.items) == 0 {
		delete(t.parts, enc)
		j := sort.Search(len(t.order), func(j int) bool { return !partLess(t.order[j].token, t.order[j].enc, p) })
		for j < len(t.order) && t.order[j] != p {
			j++
		}
		if j < len(t.order) {
			t.order = append(t.order[:j], t.order[j+1:]...)
		}
	}
}

// keyItem returns the primary-key attributes of an item.
func (t *table) keyItem(item attr.Item) attr.Item {
	k := attr.Item{t.hash.name: item[t.hash.name]}
	if t.rng != nil {
		k[t.rng.name] = item[t.rng.name]
	}
	return k
}

// parseKey validates a Key parameter: exactly the key attributes, with
// the schema's types and non-empty values.
func (t *table) parseKey(key attr.Item) (h, r attr.Value, err *apiError) {
	want := 1
	if t.rng != nil {
		want = 2
	}
	if len(key) != want {
		return h, r, validationErr("The provided key element does not match the schema")
	}
	h, ok := key[t.hash.name]
	if !ok || h.Kind() != t.hash.kind {
		return h, r, validationErr("The provided key element does not match the schema")
	}
	if err := checkKeyValue(t.hash, h, true, ""); err != nil {
		return h, r, err
	}
	if t.rng != nil {
		r, ok = key[t.rng.name]
		if !ok || r.Kind() != t.rng.kind {
			return h, r, validationErr("The provided key element does not match the schema")
		}
		if err := checkKeyValue(*t.rng, r, false, ""); err != nil {
			return h, r, err
		}
	}
	return h, r, nil
}

// itemKey validates an item's key and index-key attributes and returns
// its primary key.
func (t *table) itemKey(item attr.Item) (h, r attr.Value, err *apiError) {
	keys := []keyDef{t.hash}
	if t.rng != nil {
		keys = append(keys, *t.rng)
	}
	var vals [2]attr.Value
	for i, k := range keys {
		v, ok := item[k.name]
		if !ok {
			return h, r, validationErr("One or more parameter values were invalid: Missing the key %s in the item", k.name)
		}
		if v.Kind() != k.kind {
			return h, r, validationErr("One or more parameter values were invalid: Type mismatch for key %s expected: %s actual: %s", k.name, k.kind, v.Kind())
		}
		if err := checkKeyValue(k, v, i == 0, ""); err != nil {
			return h, r, err
		}
		vals[i] = v
	}
	for _, ix := range t.allIndexes() {
		for _, k := range ix.keys() {
			v, ok := item[k.name]
			if !ok {
				continue
			}
			if v.Kind() != k.kind {
				return h, r, validationErr("One or more parameter values were invalid: Type mismatch for Index Key %s Expected: %s Actual: %s IndexName: %s", k.name, k.kind, v.Kind(), ix.name)
			}
			if err := checkKeyValue(k, v, k == ix.hash, ix.name); err != nil {
				return h, r, err
			}
		}
	}
	return vals[0], vals[1], nil
}

func checkKeyValue(k keyDef, v attr.Value, isHash bool, index string) *apiError {
	if v.Kind() == attr.KindS || v.Kind() == attr.KindB {
		if len(v.Str()) == 0 {
			what := "string"
			if v.Kind() == attr.KindB {
				what = "binary"
			}
			if index != "" {
				return validationErr("One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty %s value. IndexName: %s, IndexKey: %s", what, index, k.name)
			}
			return validationErr("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s", what, k.name)
		}
		if isHash && len(v.Str()) > maxHashKeyBytes {
			return validationErr("One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes")
		}
		if !isHash && len(v.Str()) > maxRangeKeyBytes {
			return validationErr("One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes")
		}
	}
	return nil
}

func (t *table) allIndexes() []*indexDef {
	if len(t.gsis) == 0 {
		return t.lsis
	}
	return append(append([]*indexDef(nil), t.lsis...), t.gsis...)
}

func (ix *indexDef) keys() []keyDef {
	if ix.rng == nil {
		return []keyDef{ix.hash}
	}
	return []keyDef{ix.hash, *ix.rng}
}

// newStored builds the stored form of a validated item.
func (t *table) newStored(item attr.Item, h, r attr.Value) *stored {
	return &stored{item: item, hash: h, rng: r, size: item.Size()}
}
