package dynamodb

import (
	"sort"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

// DynamoDB's batch limits.
const (
	maxBatchGetKeys  = 100
	maxBatchWrites   = 25
	maxBatchGetBytes = 16 << 20
)

type keysAndAttributes struct {
	exprParams
	Keys                 []attr.Item `json:"Keys"`
	ConsistentRead       bool        `json:"ConsistentRead"`
	ProjectionExpression *string     `json:"ProjectionExpression,omitempty"`
	AttributesToGet      []string    `json:"AttributesToGet,omitempty"`
}

type batchGetInput struct {
	RequestItems           map[string]*keysAndAttributes `json:"RequestItems"`
	ReturnConsumedCapacity string                        `json:"ReturnConsumedCapacity"`
}

type batchGetOutput struct {
	Responses        map[string][]attr.Item        `json:"Responses"`
	UnprocessedKeys  map[string]*keysAndAttributes `json:"UnprocessedKeys"`
	ConsumedCapacity []*consumedCapacity           `json:"ConsumedCapacity,omitempty"`
}

func (e *Emulator) batchGetItem(in *batchGetInput) (*batchGetOutput, *apiError) {
	if len(in.RequestItems) == 0 {
		return nil, validationErr("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if err := checkCapacityMode(in.ReturnConsumedCapacity); err != nil {
		return nil, err
	}
	total := 0
	for _, ka := range in.RequestItems {
		if ka == nil || len(ka.Keys) == 0 {
			return nil, validationErr("1 validation error detected: Value null at 'requestItems.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
		total += len(ka.Keys)
	}
	if total > maxBatchGetKeys {
		return nil, validationErr("Too many items requested for the BatchGetItem call")
	}
	type job struct {
		t    *table
		ka   *keysAndAttributes
		keys [][2]attr.Value
	}
	names := sortedKeys(in.RequestItems)
	jobs := make([]job, 0, len(names))
	for _, name := range names {
		ka := in.RequestItems[name]
		t, err := e.table(name)
		if err != nil {
			return nil, err
		}
		j := job{t: t, ka: ka}
		seen := map[string]bool{}
		for _, k := range ka.Keys {
			h, r, err := t.parseKey(k)
			if err != nil {
				return nil, err
			}
			id := encodeKey(h) + "\x00" + encodeKey(r)
			if seen[id] {
				return nil, validationErr("Provided list of item keys contains duplicates")
			}
			seen[id] = true
			j.keys = append(j.keys, [2]attr.Value{h, r})
		}
		jobs = append(jobs, j)
	}
	out := &batchGetOutput{Responses: map[string][]attr.Item{}, UnprocessedKeys: map[string]*keysAndAttributes{}}
	size := 0
	for _, j := range jobs {
		env, err := j.ka.env(j.ka.ProjectionExpression)
		if err != nil {
			return nil, err
		}
		proj, err := parseProjection(j.ka.ProjectionExpression, j.ka.AttributesToGet, env)
		if err != nil {
			return nil, err
		}
		if err := exprErr(env.CheckUnused()); err != nil {
			return nil, err
		}
		items := []attr.Item{}
		read := 0
		j.t.mu.RLock()
		for i, k := range j.keys {
			s := j.t.get(k[0], k[1])
			if s == nil {
				continue
			}
			if size+s.size > maxBatchGetBytes {
				// DynamoDB hands back what does not fit in 16 MB as unprocessed.
				rest := *j.ka
				rest.Keys = j.ka.Keys[i:]
				out.UnprocessedKeys[j.t.name] = &rest
				break
			}
			size += s.size
			read += s.size
			item := s.item
			if proj != nil {
				item = proj.Apply(item)
			}
			items = append(items, item)
		}
		j.t.mu.RUnlock()
		out.Responses[j.t.name] = items
		if c := capacity(in.ReturnConsumedCapacity, j.t.name, read, false, j.ka.ConsistentRead); c != nil {
			out.ConsumedCapacity = append(out.ConsumedCapacity, c)
		}
	}
	return out, nil
}

type writeRequest struct {
	PutRequest *struct {
		Item attr.Item `json:"Item"`
	} `json:"PutRequest,omitempty"`
	DeleteRequest *struct {
		Key attr.Item `json:"Key"`
	} `json:"DeleteRequest,omitempty"`
}

type batchWriteInput struct {
	RequestItems                map[string][]writeRequest `json:"RequestItems"`
	ReturnConsumedCapacity      string                    `json:"ReturnConsumedCapacity"`
	ReturnItemCollectionMetrics string                    `json:"ReturnItemCollectionMetrics"`
}

type batchWriteOutput struct {
	UnprocessedItems map[string][]writeRequest `json:"UnprocessedItems"`
	ConsumedCapacity []*consumedCapacity       `json:"ConsumedCapacity,omitempty"`
}

// batchWriteItem validates the whole request first, then applies each write;
// like DynamoDB, the batch as a whole is not atomic, each item write is.
func (e *Emulator) batchWriteItem(in *batchWriteInput) (*batchWriteOutput, *apiError) {
	if len(in.RequestItems) == 0 {
		return nil, validationErr("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if err := checkCapacityMode(in.ReturnConsumedCapacity); err != nil {
		return nil, err
	}
	if err := checkEnum("returnItemCollectionMetrics", in.ReturnItemCollectionMetrics, "SIZE", "NONE"); err != nil {
		return nil, err
	}
	total := 0
	for _, reqs := range in.RequestItems {
		if len(reqs) == 0 {
			return nil, validationErr("1 validation error detected: Value '[]' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]")
		}
		total += len(reqs)
	}
	if total > maxBatchWrites {
		return nil, validationErr("1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]")
	}
	type op struct {
		t    *table
		s    *stored // put
		h, r attr.Value
	}
	var ops []op
	for _, name := range sortedKeys(in.RequestItems) {
		t, err := e.table(name)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, w := range in.RequestItems[name] {
			var o op
			switch {
			case w.PutRequest != nil && w.DeleteRequest != nil || w.PutRequest == nil && w.DeleteRequest == nil:
				return nil, validationErr("One or more parameter values were invalid: a WriteRequest must contain exactly one of PutRequest or DeleteRequest")
			case w.PutRequest != nil:
				if w.PutRequest.Item == nil {
					return nil, validationErr("1 validation error detected: Value null at 'requestItems.%s.member.putRequest.item' failed to satisfy constraint: Member must not be null", name)
				}
				h, r, err := t.itemKey(w.PutRequest.Item)
				if err != nil {
					return nil, err
				}
				o = op{t: t, s: t.newStored(w.PutRequest.Item, h, r), h: h, r: r}
				if o.s.size > maxItemBytes {
					return nil, validationErr("Item size has exceeded the maximum allowed size")
				}
			default:
				if w.DeleteRequest.Key == nil {
					return nil, validationErr("1 validation error detected: Value null at 'requestItems.%s.member.deleteRequest.key' failed to satisfy constraint: Member must not be null", name)
				}
				h, r, err := t.parseKey(w.DeleteRequest.Key)
				if err != nil {
					return nil, err
				}
				o = op{t: t, h: h, r: r}
			}
			id := encodeKey(o.h) + "\x00" + encodeKey(o.r)
			if seen[id] {
				return nil, validationErr("Provided list of item keys contains duplicates")
			}
			seen[id] = true
			ops = append(ops, o)
		}
	}
	units := map[string]int{}
	for _, o := range ops {
		o.t.mu.Lock()
		if o.s != nil {
			o.t.put(o.s)
			units[o.t.name] += max(1, (o.s.size+1023)/1024)
		} else {
			o.t.remove(o.h, o.r)
			units[o.t.name]++
		}
		o.t.mu.Unlock()
	}
	out := &batchWriteOutput{UnprocessedItems: map[string][]writeRequest{}}
	for _, name := range sortedKeys(units) {
		if c := capacity(in.ReturnConsumedCapacity, name, units[name]*1024, true, true); c != nil {
			out.ConsumedCapacity = append(out.ConsumedCapacity, c)
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
