package dynamodb

import (
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strings"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
	"github.com/shardbridge/shardbridge/fakes/dynamodb/expr"
)

// exprParams are the placeholder maps every expression-taking request carries.
type exprParams struct {
	ExpressionAttributeNames  map[string]string          `json:"ExpressionAttributeNames,omitempty"`
	ExpressionAttributeValues map[string]json.RawMessage `json:"ExpressionAttributeValues,omitempty"`
}

// env validates the placeholder maps and returns the request's expression
// environment. exprs are the request's expressions (empty when absent); the
// maps are only allowed when at least one expression is present.
func (p *exprParams) env(exprs ...*string) (*expr.Env, *apiError) {
	has := false
	for _, e := range exprs {
		if e != nil {
			has = true
		}
	}
	names, raw := p.ExpressionAttributeNames, p.ExpressionAttributeValues
	if names != nil {
		if !has {
			return nil, validationErr("ExpressionAttributeNames can only be specified when using expressions")
		}
		if len(names) == 0 {
			return nil, validationErr("ExpressionAttributeNames must not be empty")
		}
		for k, v := range names {
			if !strings.HasPrefix(k, "#") {
				return nil, validationErr("ExpressionAttributeNames contains invalid key: Syntax error; key: \"%s\"", k)
			}
			if v == "" {
				return nil, validationErr("ExpressionAttributeNames contains invalid value: Empty attribute name for key %s", k)
			}
		}
	}
	var values map[string]attr.Value
	if raw != nil {
		if !has {
			return nil, validationErr("ExpressionAttributeValues can only be specified when using expressions")
		}
		if len(raw) == 0 {
			return nil, validationErr("ExpressionAttributeValues must not be empty")
		}
		values = make(map[string]attr.Value, len(raw))
		keys := make([]string, 0, len(raw))
		for k := range raw {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !strings.HasPrefix(k, ":") {
				return nil, validationErr("ExpressionAttributeValues contains invalid key: Syntax error; key: \"%s\"", k)
			}
			var v attr.Value
			if err := json.Unmarshal(raw[k], &v); err != nil {
				var ae *attr.Error
				if errors.As(err, &ae) {
					if ae.Serialization {
						return nil, serializationErr(ae.Msg)
					}
					return nil, validationErr("ExpressionAttributeValues contains invalid value: %s for key %s", ae.Msg, k)
				}
				return nil, serializationErr(err.Error())
			}
			values[k] = v
		}
	}
	return expr.NewEnv(names, values), nil
}

func exprErr(err error) *apiError {
	if err == nil {
		return nil
	}
	return fromValueError(err)
}

func parseCondition(label string, src *string, env *expr.Env) (*expr.Condition, *apiError) {
	if src == nil {
		return nil, nil
	}
	c, err := expr.ParseCondition(label, *src, env)
	return c, exprErr(err)
}

func parseProjection(src *string, toGet []string, env *expr.Env) (*expr.Projection, *apiError) {
	switch {
	case src != nil && toGet != nil:
		return nil, validationErr("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}")
	case src != nil:
		p, err := expr.ParseProjection(*src, env)
		return p, exprErr(err)
	case toGet != nil:
		if len(toGet) == 0 {
			return nil, validationErr("1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
		seen := map[string]bool{}
		for _, n := range toGet {
			if seen[n] {
				return nil, validationErr("One or more parameter values were invalid: Duplicate value in attribute name: %s", n)
			}
			seen[n] = true
		}
		return expr.NewProjection(toGet), nil
	}
	return nil, nil
}

// legacy rejects the pre-expression parameters this emulator does not implement.
func legacy(params map[string]json.RawMessage) *apiError {
	names := make([]string, 0, len(params))
	for n, v := range params {
		if len(v) > 0 && string(v) != "null" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return validationErr("Legacy parameters are not supported by this emulator: {%s}; use expressions instead", strings.Join(names, ", "))
}

func checkEnum(field, v string, allowed ...string) *apiError {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return validationErr("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", v, field, strings.Join(allowed, ", "))
}

// consumedCapacity mirrors DynamoDB's ConsumedCapacity.
type consumedCapacity struct {
	TableName     string        `json:"TableName"`
	CapacityUnits float64       `json:"CapacityUnits"`
	Table         *capacityPart `json:"Table,omitempty"`
}

type capacityPart struct {
	CapacityUnits float64 `json:"CapacityUnits"`
}

// capacity computes consumed capacity with DynamoDB's unit sizes: 1 KB per
// write unit, 4 KB per read unit, half for eventually consistent reads.
func capacity(mode, table string, bytes int, write, consistent bool) *consumedCapacity {
	if mode != "TOTAL" && mode != "INDEXES" {
		return nil
	}
	var units float64
	if write {
		units = math.Max(1, math.Ceil(float64(bytes)/1024))
	} else {
		units = math.Max(1, math.Ceil(float64(bytes)/4096))
		if !consistent {
			units /= 2
		}
	}
	c := &consumedCapacity{TableName: table, CapacityUnits: units}
	if mode == "INDEXES" {
		c.Table = &capacityPart{CapacityUnits: units}
	}
	return c
}

func checkCapacityMode(mode string) *apiError {
	return checkEnum("returnConsumedCapacity", mode, "INDEXES", "TOTAL", "NONE")
}
