package dynamodb

import (
	"encoding/json"
	"sort"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
	"github.com/shardbridge/shardbridge/fakes/dynamodb/expr"
)

// maxPageBytes is DynamoDB's 1 MB limit on the data one Query or Scan
// page evaluates.
const maxPageBytes = 1 << 20

// view is what a Query or Scan reads: the base table or one of its indexes.
type view struct {
	t    *table
	ix   *indexDef // nil for the base table
	hash keyDef
	rng  *keyDef
}

func (t *table) view(indexName *string) (*view, *apiError) {
	if indexName == nil {
		return &view{t: t, hash: t.hash, rng: t.rng}, nil
	}
	ix := t.indexes[*indexName]
	if ix == nil {
		return nil, validationErr("The table does not have the specified index: %s", *indexName)
	}
	return &view{t: t, ix: ix, hash: ix.hash, rng: ix.rng}, nil
}

// pos is an item's place in a view's order: by hash token and hash key,
// then range key, then (for indexes, whose keys need not be unique) the
// base table's order.
type pos struct {
	tok  uint32
	enc  string
	rng  attr.Value
	base *pos
}

func cmpPos(a, b *pos) int {
	switch {
	case a.tok != b.tok:
		if a.tok < b.tok {
			return -1
		}
		return 1
	case a.enc != b.enc:
		if a.enc < b.enc {
			return -1
		}
		return 1
	}
	if a.rng.Exists() {
		if c := compareRange(a.rng, b.rng); c != 0 {
			return c
		}
	}
	if a.base != nil && b.base != nil {
		return cmpPos(a.base, b.base)
	}
	return 0
}

func (t *table) posOf(s *stored) *pos {
	enc := encodeKey(s.hash)
	return &pos{tok: tokenOf(enc), enc: enc, rng: s.rng}
}

func (v *view) posOf(s *stored) *pos {
	if v.ix == nil {
		return v.t.posOf(s)
	}
	enc := encodeKey(s.item[v.hash.name])
	p := &pos{tok: tokenOf(enc), enc: enc, base: v.t.posOf(s)}
	if v.rng != nil {
		p.rng = s.item[v.rng.name]
	}
	return p
}

// indexItems returns the items that appear in index ix (those holding all
// of its key attributes), in the index's order.
func (t *table) indexItems(ix *indexDef) []*stored {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.indexItemsLocked(ix)
}

func (t *table) indexItemsLocked(ix *indexDef) []*stored {
	v := &view{t: t, ix: ix, hash: ix.hash, rng: ix.rng}
	var items []*stored
	var keys []*pos
	for _, p := range t.order {
		for _, s := range p.items {
			if _, ok := s.item[ix.hash.name]; !ok {
				continue
			}
			if ix.rng != nil {
				if _, ok := s.item[ix.rng.name]; !ok {
					continue
				}
			}
			items = append(items, s)
			keys = append(keys, v.posOf(s))
		}
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return cmpPos(keys[idx[a]], keys[idx[b]]) < 0 })
	out := make([]*stored, len(items))
	for i, j := range idx {
		out[i] = items[j]
	}
	return out
}

// lastKey is the LastEvaluatedKey for s: the table key plus the index key.
func (v *view) lastKey(s *stored) attr.Item {
	k := v.t.keyItem(s.item)
	if v.ix != nil {
		k[v.hash.name] = s.item[v.hash.name]
		if v.rng != nil {
			k[v.rng.name] = s.item[v.rng.name]
		}
	}
	return k
}

// startPos validates an ExclusiveStartKey and returns its position.
func (v *view) startPos(esk attr.Item) (*pos, *apiError) {
	invalid := validationErr("The provided starting key is invalid: The provided key element does not match the schema")
	want := map[string]attr.Kind{v.t.hash.name: v.t.hash.kind}
	if v.t.rng != nil {
		want[v.t.rng.name] = v.t.rng.kind
	}
	if v.ix != nil {
		for _, k := range v.ix.keys() {
			want[k.name] = k.kind
		}
	}
	if len(esk) != len(want) {
		return nil, invalid
	}
	for name, kind := range want {
		if val, ok := esk[name]; !ok || val.Kind() != kind {
			return nil, invalid
		}
	}
	s := &stored{item: esk, hash: esk[v.t.hash.name]}
	if v.t.rng != nil {
		s.rng = esk[v.t.rng.name]
	}
	return v.posOf(s), nil
}

// selectSpec is how a Query or Scan shapes its output items.
type selectSpec struct {
	count bool
	proj  *expr.Projection
	// indexProj limits items read through a GSI (or an LSI without
	// ALL_ATTRIBUTES) to what the index projects.
	indexProj []expr.Path
}

func (v *view) selectSpec(sel string, projSrc *string, toGet []string, consistent bool, env *expr.Env) (*selectSpec, *apiError) {
	if err := checkEnum("select", sel, "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT"); err != nil {
		return nil, err
	}
	proj, err := parseProjection(projSrc, toGet, env)
	if err != nil {
		return nil, err
	}
	if v.ix != nil && v.ix.global && consistent {
		return nil, validationErr("Consistent reads are not supported on global secondary indexes")
	}
	switch sel {
	case "COUNT":
		if proj != nil {
			return nil, validationErr("Cannot specify the ProjectionExpression when choosing to get only the Count")
		}
	case "ALL_ATTRIBUTES":
		if proj != nil {
			return nil, validationErr("Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES")
		}
		if v.ix != nil && v.ix.global && v.ix.projection != "ALL" {
			return nil, validationErr("One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index %s because its projection type is not ALL", v.ix.name)
		}
	case "ALL_PROJECTED_ATTRIBUTES":
		if v.ix == nil {
			return nil, validationErr("One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is not supported for a table without an index")
		}
		if proj != nil {
			return nil, validationErr("Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES")
		}
	case "SPECIFIC_ATTRIBUTES":
		if proj == nil {
			return nil, validationErr("One or more parameter values were invalid: SPECIFIC_ATTRIBUTES requires a ProjectionExpression or AttributesToGet")
		}
	}
	spec := &selectSpec{count: sel == "COUNT", proj: proj}
	if v.ix != nil && v.ix.projection != "ALL" && (v.ix.global || sel != "ALL_ATTRIBUTES" && proj == nil) {
		names := []string{v.t.hash.name, v.hash.name}
		if v.t.rng != nil {
			names = append(names, v.t.rng.name)
		}
		if v.rng != nil {
			names = append(names, v.rng.name)
		}
		names = append(names, v.ix.nonKey...)
		seen := map[string]bool{}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				spec.indexProj = append(spec.indexProj, expr.Path{{Name: n}})
			}
		}
	}
	return spec, nil
}

func (sp *selectSpec) shape(item attr.Item) attr.Item {
	if sp.indexProj != nil {
		item = expr.Project(item, sp.indexProj)
	}
	if sp.proj != nil {
		item = sp.proj.Apply(item)
	}
	return item
}

// page collects one page of results from candidates in order.
type page struct {
	spec    *selectSpec
	filter  *expr.Condition
	limit   int // 0 = none
	view    *view
	items   []attr.Item
	count   int
	scanned int
	bytes   int
	last    attr.Item
}

// add evaluates one candidate and reports whether the page can take more.
func (pg *page) add(s *stored) bool {
	pg.scanned++
	pg.bytes += s.size
	if pg.filter == nil || pg.filter.Eval(s.item) {
		pg.count++
		if !pg.spec.count {
			pg.items = append(pg.items, pg.spec.shape(s.item))
		}
	}
	if pg.limit > 0 && pg.scanned >= pg.limit || pg.bytes >= maxPageBytes {
		// DynamoDB returns a LastEvaluatedKey whenever it stops early,
		// even when nothing is left; clients must page until it is absent.
		pg.last = pg.view.lastKey(s)
		return false
	}
	return true
}

type readOutput struct {
	Items            *[]attr.Item      `json:"Items,omitempty"`
	Count            int               `json:"Count"`
	ScannedCount     int               `json:"ScannedCount"`
	LastEvaluatedKey attr.Item         `json:"LastEvaluatedKey,omitempty"`
	ConsumedCapacity *consumedCapacity `json:"ConsumedCapacity,omitempty"`
}

func (pg *page) output(mode, table string, consistent bool) *readOutput {
	out := &readOutput{Count: pg.count, ScannedCount: pg.scanned, LastEvaluatedKey: pg.last,
		ConsumedCapacity: capacity(mode, table, pg.bytes, false, consistent)}
	if !pg.spec.count {
		items := pg.items
		if items == nil {
			items = []attr.Item{}
		}
		out.Items = &items
	}
	return out
}

type queryInput struct {
	exprParams
	TableName              string          `json:"TableName"`
	IndexName              *string         `json:"IndexName"`
	Select                 string          `json:"Select"`
	Limit                  *int            `json:"Limit"`
	ConsistentRead         bool            `json:"ConsistentRead"`
	KeyConditionExpression *string         `json:"KeyConditionExpression"`
	FilterExpression       *string         `json:"FilterExpression"`
	ProjectionExpression   *string         `json:"ProjectionExpression"`
	AttributesToGet        []string        `json:"AttributesToGet"`
	ScanIndexForward       *bool           `json:"ScanIndexForward"`
	ExclusiveStartKey      attr.Item       `json:"ExclusiveStartKey"`
	ReturnConsumedCapacity string          `json:"ReturnConsumedCapacity"`
	KeyConditions          json.RawMessage `json:"KeyConditions"`
	QueryFilter            json.RawMessage `json:"QueryFilter"`
	ConditionalOperator    json.RawMessage `json:"ConditionalOperator"`
}

func checkLimit(limit *int) (int, *apiError) {
	if limit == nil {
		return 0, nil
	}
	if *limit < 1 {
		return 0, validationErr("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *limit)
	}
	return *limit, nil
}

func (e *Emulator) query(in *queryInput) (*readOutput, *apiError) {
	t, err := e.table(in.TableName)
	if err != nil {
		return nil, err
	}
	if err := legacy(map[string]json.RawMessage{"KeyConditions": in.KeyConditions, "QueryFilter": in.QueryFilter, "ConditionalOperator": in.ConditionalOperator}); err != nil {
		return nil, err
	}
	if in.KeyConditionExpression == nil {
		return nil, validationErr("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
	}
	limit, err := checkLimit(in.Limit)
	if err != nil {
		return nil, err
	}
	if err := checkCapacityMode(in.ReturnConsumedCapacity); err != nil {
		return nil, err
	}
	v, err := t.view(in.IndexName)
	if err != nil {
		return nil, err
	}
	env, err := in.env(in.KeyConditionExpression, in.FilterExpression, in.ProjectionExpression)
	if err != nil {
		return nil, err
	}
	kc, perr := expr.ParseKeyCondition(*in.KeyConditionExpression, env)
	if perr != nil {
		return nil, exprErr(perr)
	}
	filter, err := parseCondition("FilterExpression", in.FilterExpression, env)
	if err != nil {
		return nil, err
	}
	spec, err := v.selectSpec(in.Select, in.ProjectionExpression, in.AttributesToGet, in.ConsistentRead, env)
	if err != nil {
		return nil, err
	}
	if err := exprErr(env.CheckUnused()); err != nil {
		return nil, err
	}
	hashPart, rangePart, err := v.keyParts(kc)
	if err != nil {
		return nil, err
	}
	if filter != nil {
		// DynamoDB refuses filters on the key attributes being queried:
		// those belong in the key condition.
		for _, name := range filter.TopNames() {
			if name == v.hash.name || v.rng != nil && name == v.rng.name {
				return nil, validationErr("Filter Expression can only contain non-primary key attributes: Primary key attribute: %s", name)
			}
		}
	}
	var start *pos
	if in.ExclusiveStartKey != nil {
		if start, err = v.startPos(in.ExclusiveStartKey); err != nil {
			return nil, err
		}
		if !attr.Equal(in.ExclusiveStartKey[v.hash.name], hashPart.Values[0]) {
			return nil, validationErr("The provided starting key is outside query boundaries based on provided conditions")
		}
		if rangePart != nil && !rangePart.Match(in.ExclusiveStartKey[v.rng.name]) {
			return nil, validationErr("The provided starting key does not match the range key predicate")
		}
	}
	forward := in.ScanIndexForward == nil || *in.ScanIndexForward
	pg := &page{spec: spec, filter: filter, limit: limit, view: v}

	t.mu.RLock()
	defer t.mu.RUnlock()
	var cands []*stored
	if v.ix == nil {
		if p := t.parts[encodeKey(hashPart.Values[0])]; p != nil {
			cands = p.items
		}
	} else {
		enc := encodeKey(hashPart.Values[0])
		for _, s := range t.indexItemsLocked(v.ix) {
			if encodeKey(s.item[v.hash.name]) == enc {
				cands = append(cands, s)
			}
		}
	}
	lo, hi := 0, len(cands)
	if start != nil {
		i := sort.Search(len(cands), func(i int) bool { return cmpPos(v.posOf(cands[i]), start) > 0 })
		j := sort.Search(len(cands), func(i int) bool { return cmpPos(v.posOf(cands[i]), start) >= 0 })
		if forward {
			lo = i
		} else {
			hi = j
		}
	}
	for k := 0; k < hi-lo; k++ {
		idx := lo + k
		if !forward {
			idx = hi - 1 - k
		}
		s := cands[idx]
		if rangePart != nil && !rangePart.Match(s.item[v.rng.name]) {
			continue
		}
		if !pg.add(s) {
			break
		}
	}
	return pg.output(in.ReturnConsumedCapacity, t.name, in.ConsistentRead), nil
}

// keyParts matches a key condition against the view's key schema.
func (v *view) keyParts(kc *expr.KeyCondition) (hash expr.KeyPart, rng *expr.KeyPart, err *apiError) {
	found := false
	for i := range kc.Parts {
		p := &kc.Parts[i]
		switch {
		case p.Name == v.hash.name:
			if p.Op != "=" {
				return hash, nil, validationErr("Query key condition not supported")
			}
			hash, found = *p, true
		case v.rng != nil && p.Name == v.rng.name:
			rng = p
		default:
			if len(kc.Parts) == 1 {
				return hash, nil, validationErr("Query condition missed key schema element: %s", v.hash.name)
			}
			return hash, nil, validationErr("Query key condition not supported")
		}
	}
	if !found {
		return hash, nil, validationErr("Query condition missed key schema element: %s", v.hash.name)
	}
	if hash.Values[0].Kind() != v.hash.kind {
		return hash, nil, validationErr("One or more parameter values were invalid: Condition parameter type does not match schema type")
	}
	if rng != nil {
		for _, val := range rng.Values {
			if val.Kind() != v.rng.kind {
				return hash, nil, validationErr("One or more parameter values were invalid: Condition parameter type does not match schema type")
			}
		}
		if rng.Op == "begins_with" && v.rng.kind == attr.KindN {
			return hash, nil, validationErr("Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N")
		}
	}
	return hash, rng, nil
}

type scanInput struct {
	exprParams
	TableName              string          `json:"TableName"`
	IndexName              *string         `json:"IndexName"`
	Select                 string          `json:"Select"`
	Limit                  *int            `json:"Limit"`
	ConsistentRead         bool            `json:"ConsistentRead"`
	FilterExpression       *string         `json:"FilterExpression"`
	ProjectionExpression   *string         `json:"ProjectionExpression"`
	AttributesToGet        []string        `json:"AttributesToGet"`
	ExclusiveStartKey      attr.Item       `json:"ExclusiveStartKey"`
	Segment                *int            `json:"Segment"`
	TotalSegments          *int            `json:"TotalSegments"`
	ReturnConsumedCapacity string          `json:"ReturnConsumedCapacity"`
	ScanFilter             json.RawMessage `json:"ScanFilter"`
	ConditionalOperator    json.RawMessage `json:"ConditionalOperator"`
}

func (e *Emulator) scan(in *scanInput) (*readOutput, *apiError) {
	t, err := e.table(in.TableName)
	if err != nil {
		return nil, err
	}
	if err := legacy(map[string]json.RawMessage{"ScanFilter": in.ScanFilter, "ConditionalOperator": in.ConditionalOperator}); err != nil {
		return nil, err
	}
	limit, err := checkLimit(in.Limit)
	if err != nil {
		return nil, err
	}
	if err := checkCapacityMode(in.ReturnConsumedCapacity); err != nil {
		return nil, err
	}
	seg, total := 0, 1
	switch {
	case in.Segment != nil && in.TotalSegments == nil:
		return nil, validationErr("The TotalSegments parameter is required but was not present in the request when Segment parameter is present")
	case in.Segment == nil && in.TotalSegments != nil:
		return nil, validationErr("The Segment parameter is required but was not present in the request when parameter TotalSegments is present")
	case in.Segment != nil:
		seg, total = *in.Segment, *in.TotalSegments
		if total < 1 || total > 1000000 {
			return nil, validationErr("1 validation error detected: Value '%d' at 'totalSegments' failed to satisfy constraint: Member must have value between 1 and 1000000", total)
		}
		if seg < 0 {
			return nil, validationErr("1 validation error detected: Value '%d' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0", seg)
		}
		if seg >= total {
			return nil, validationErr("The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: %d is not less than TotalSegments: %d", seg, total)
		}
	}
	v, err := t.view(in.IndexName)
	if err != nil {
		return nil, err
	}
	env, err := in.env(in.FilterExpression, in.ProjectionExpression)
	if err != nil {
		return nil, err
	}
	filter, err := parseCondition("FilterExpression", in.FilterExpression, env)
	if err != nil {
		return nil, err
	}
	spec, err := v.selectSpec(in.Select, in.ProjectionExpression, in.AttributesToGet, in.ConsistentRead, env)
	if err != nil {
		return nil, err
	}
	if err := exprErr(env.CheckUnused()); err != nil {
		return nil, err
	}
	var start *pos
	if in.ExclusiveStartKey != nil {
		if start, err = v.startPos(in.ExclusiveStartKey); err != nil {
			return nil, err
		}
		if segmentOf(start.tok, total) != seg {
			return nil, validationErr("The provided Exclusive start key does not map to the provided Segment and TotalSegments values.")
		}
	}
	pg := &page{spec: spec, filter: filter, limit: limit, view: v}
	inSegment := func(tok uint32) int { return segmentOf(tok, total) - seg }

	t.mu.RLock()
	defer t.mu.RUnlock()
	if v.ix != nil {
		for _, s := range t.indexItemsLocked(v.ix) {
			p := v.posOf(s)
			if inSegment(p.tok) != 0 || start != nil && cmpPos(p, start) <= 0 {
				continue
			}
			if !pg.add(s) {
				break
			}
		}
		return pg.output(in.ReturnConsumedCapacity, t.name, in.ConsistentRead), nil
	}
	i := sort.Search(len(t.order), func(i int) bool { return inSegment(t.order[i].token) >= 0 })
	if start != nil {
		i = sort.Search(len(t.order), func(i int) bool {
			p := t.order[i]
			return p.token > start.tok || p.token == start.tok && p.enc >= start.enc
		})
	}
	for ; i < len(t.order) && inSegment(t.order[i].token) == 0; i++ {
		p := t.order[i]
		items := p.items
		if start != nil && p.enc == start.enc && t.rng != nil {
			j := sort.Search(len(items), func(j int) bool { return compareRange(items[j].rng, start.rng) > 0 })
			items = items[j:]
		} else if start != nil && p.enc == start.enc {
			items = nil
		}
		for _, s := range items {
			if !pg.add(s) {
				return pg.output(in.ReturnConsumedCapacity, t.name, in.ConsistentRead), nil
			}
		}
	}
	return pg.output(in.ReturnConsumedCapacity, t.name, in.ConsistentRead), nil
}
