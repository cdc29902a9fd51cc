package dynamodb

import (
	"encoding/json"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
	"github.com/shardbridge/shardbridge/fakes/dynamodb/expr"
)

type getItemInput struct {
	exprParams
	TableName              string    `json:"TableName"`
	Key                    attr.Item `json:"Key"`
	ConsistentRead         bool      `json:"ConsistentRead"`
	ProjectionExpression   *string   `json:"ProjectionExpression"`
	AttributesToGet        []string  `json:"AttributesToGet"`
	ReturnConsumedCapacity string    `json:"ReturnConsumedCapacity"`
}

type getItemOutput struct {
	Item             *attr.Item        `json:"Item,omitempty"`
	ConsumedCapacity *consumedCapacity `json:"ConsumedCapacity,omitempty"`
}

func (e *Emulator) getItem(in *getItemInput) (*getItemOutput, *apiError) {
	t, err := e.table(in.TableName)
	if err != nil {
		return nil, err
	}
	if in.Key == nil {
		return nil, validationErr("1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null")
	}
	if err := checkCapacityMode(in.ReturnConsumedCapacity); err != nil {
		return nil, err
	}
	env, err := in.env(in.ProjectionExpression)
	if err != nil {
		return nil, err
	}
	proj, err := parseProjection(in.ProjectionExpression, in.AttributesToGet, env)
	if err != nil {
		return nil, err
	}
	if err := exprErr(env.CheckUnused()); err != nil {
		return nil, err
	}
	h, r, err := t.parseKey(in.Key)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	s := t.get(h, r)
	t.mu.RUnlock()
	out := &getItemOutput{}
	size := 0
	if s != nil {
		item := s.item
		if proj != nil {
			item = proj.Apply(item)
		}
		out.Item = &item
		size = s.size
	}
	out.ConsumedCapacity = capacity(in.ReturnConsumedCapacity, t.name, size, false, in.ConsistentRead)
	return out, nil
}

// writeOptions are the parameters shared by the single-item writes.
type writeOptions struct {
	exprParams
	TableName                           string          `json:"TableName"`
	ConditionExpression                 *string         `json:"ConditionExpression"`
	ReturnValues                        string          `json:"ReturnValues"`
	ReturnValuesOnConditionCheckFailure string          `json:"ReturnValuesOnConditionCheckFailure"`
	ReturnConsumedCapacity              string          `json:"ReturnConsumedCapacity"`
	ReturnItemCollectionMetrics         string          `json:"ReturnItemCollectionMetrics"`
	Expected                            json.RawMessage `json:"Expected"`
	ConditionalOperator                 json.RawMessage `json:"ConditionalOperator"`
}

// check validates what every single-item write shares.
func (w *writeOptions) check(allReturnValues bool) *apiError {
	if err := legacy(map[string]json.RawMessage{"Expected": w.Expected, "ConditionalOperator": w.ConditionalOperator}); err != nil {
		return err
	}
	if allReturnValues {
		if err := checkEnum("returnValues", w.ReturnValues, "NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"); err != nil {
			return err
		}
	} else if w.ReturnValues != "" && w.ReturnValues != "NONE" && w.ReturnValues != "ALL_OLD" {
		if err := checkEnum("returnValues", w.ReturnValues, "NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"); err != nil {
			return err
		}
		return validationErr("ReturnValues can only be ALL_OLD or NONE")
	}
	if err := checkEnum("returnValuesOnConditionCheckFailure", w.ReturnValuesOnConditionCheckFailure, "ALL_OLD", "NONE"); err != nil {
		return err
	}
	if err := checkEnum("returnItemCollectionMetrics", w.ReturnItemCollectionMetrics, "SIZE", "NONE"); err != nil {
		return err
	}
	return checkCapacityMode(w.ReturnConsumedCapacity)
}

// conditionFailed builds the ConditionalCheckFailedException, carrying the
// current item when the request asked for it.
func (w *writeOptions) conditionFailed(old *stored) *apiError {
	if w.ReturnValuesOnConditionCheckFailure == "ALL_OLD" && old != nil {
		return conditionFailedErr(old.item)
	}
	return conditionFailedErr(nil)
}

type writeOutput struct {
	Attributes       attr.Item         `json:"Attributes,omitempty"`
	ConsumedCapacity *consumedCapacity `json:"ConsumedCapacity,omitempty"`
}

func itemOf(s *stored) attr.Item {
	if s == nil {
		return nil
	}
	return s.item
}

// openWrite runs the validation PutItem and DeleteItem share, in the order
// DynamoDB reports failures: the table, the required member (item or key,
// named by member for the message), the write options, then the condition
// expression and its placeholders. UpdateItem validates its update expression
// in between, so it keeps its own sequence.
func (e *Emulator) openWrite(w *writeOptions, member string, required attr.Item) (*table, *expr.Condition, *apiError) {
	t, err := e.table(w.TableName)
	if err != nil {
		return nil, nil, err
	}
	if required == nil {
		return nil, nil, validationErr("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
	}
	if err := w.check(false); err != nil {
		return nil, nil, err
	}
	env, err := w.env(w.ConditionExpression)
	if err != nil {
		return nil, nil, err
	}
	cond, err := parseCondition("ConditionExpression", w.ConditionExpression, env)
	if err != nil {
		return nil, nil, err
	}
	if err := exprErr(env.CheckUnused()); err != nil {
		return nil, nil, err
	}
	return t, cond, nil
}

type putItemInput struct {
	writeOptions
	Item attr.Item `json:"Item"`
}

func (e *Emulator) putItem(in *putItemInput) (*writeOutput, *apiError) {
	t, cond, err := e.openWrite(&in.writeOptions, "item", in.Item)
	if err != nil {
		return nil, err
	}
	h, r, err := t.itemKey(in.Item)
	if err != nil {
		return nil, err
	}
	s := t.newStored(in.Item, h, r)
	if s.size > maxItemBytes {
		return nil, validationErr("Item size has exceeded the maximum allowed size")
	}
	t.mu.Lock()
	old := t.get(h, r)
	if cond != nil && !cond.Eval(itemOf(old)) {
		t.mu.Unlock()
		return nil, in.conditionFailed(old)
	}
	t.put(s)
	t.mu.Unlock()
	out := &writeOutput{ConsumedCapacity: capacity(in.ReturnConsumedCapacity, t.name, s.size, true, true)}
	if in.ReturnValues == "ALL_OLD" {
		out.Attributes = itemOf(old)
	}
	return out, nil
}

type deleteItemInput struct {
	writeOptions
	Key attr.Item `json:"Key"`
}

func (e *Emulator) deleteItem(in *deleteItemInput) (*writeOutput, *apiError) {
	t, cond, err := e.openWrite(&in.writeOptions, "key", in.Key)
	if err != nil {
		return nil, err
	}
	h, r, err := t.parseKey(in.Key)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	old := t.get(h, r)
	if cond != nil && !cond.Eval(itemOf(old)) {
		t.mu.Unlock()
		return nil, in.conditionFailed(old)
	}
	if old != nil {
		t.remove(h, r)
	}
	t.mu.Unlock()
	size := 0
	if old != nil {
		size = old.size
	}
	out := &writeOutput{ConsumedCapacity: capacity(in.ReturnConsumedCapacity, t.name, size, true, true)}
	if in.ReturnValues == "ALL_OLD" {
		out.Attributes = itemOf(old)
	}
	return out, nil
}

type updateItemInput struct {
	writeOptions
	Key              attr.Item       `json:"Key"`
	UpdateExpression *string         `json:"UpdateExpression"`
	AttributeUpdates json.RawMessage `json:"AttributeUpdates"`
}

func (e *Emulator) updateItem(in *updateItemInput) (*writeOutput, *apiError) {
	t, err := e.table(in.TableName)
	if err != nil {
		return nil, err
	}
	if in.Key == nil {
		return nil, validationErr("1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null")
	}
	if err := legacy(map[string]json.RawMessage{"AttributeUpdates": in.AttributeUpdates}); err != nil {
		return nil, err
	}
	if err := in.check(true); err != nil {
		return nil, err
	}
	env, err := in.env(in.ConditionExpression, in.UpdateExpression)
	if err != nil {
		return nil, err
	}
	var upd *expr.Update
	if in.UpdateExpression != nil {
		u, perr := expr.ParseUpdate(*in.UpdateExpression, env)
		if perr != nil {
			return nil, exprErr(perr)
		}
		upd = u
	}
	cond, err := parseCondition("ConditionExpression", in.ConditionExpression, env)
	if err != nil {
		return nil, err
	}
	if err := exprErr(env.CheckUnused()); err != nil {
		return nil, err
	}
	h, r, err := t.parseKey(in.Key)
	if err != nil {
		return nil, err
	}
	var targets []expr.Path
	if upd != nil {
		targets = upd.Targets()
		for _, p := range targets {
			if name := p[0].Name; name == t.hash.name || t.rng != nil && name == t.rng.name {
				return nil, validationErr("One or more parameter values were invalid: Cannot update attribute %s. This attribute is part of the key", name)
			}
		}
	}

	t.mu.Lock()
	old := t.get(h, r)
	if cond != nil && !cond.Eval(itemOf(old)) {
		t.mu.Unlock()
		return nil, in.conditionFailed(old)
	}
	next := itemOf(old).Clone()
	if upd != nil {
		var aerr error
		if next, aerr = upd.Apply(itemOf(old)); aerr != nil {
			t.mu.Unlock()
			return nil, fromValueError(aerr)
		}
	}
	next[t.hash.name] = h
	if t.rng != nil {
		next[t.rng.name] = r
	}
	if _, _, kerr := t.itemKey(next); kerr != nil {
		t.mu.Unlock()
		return nil, kerr
	}
	s := t.newStored(next, h, r)
	if s.size > maxItemBytes {
		t.mu.Unlock()
		return nil, validationErr("Item size to update has exceeded the maximum allowed size")
	}
	t.put(s)
	t.mu.Unlock()

	out := &writeOutput{ConsumedCapacity: capacity(in.ReturnConsumedCapacity, t.name, s.size, true, true)}
	switch in.ReturnValues {
	case "ALL_OLD":
		out.Attributes = itemOf(old)
	case "ALL_NEW":
		out.Attributes = next
	case "UPDATED_OLD":
		out.Attributes = expr.Project(itemOf(old), targets)
	case "UPDATED_NEW":
		out.Attributes = expr.Project(next, targets)
	}
	return out, nil
}
