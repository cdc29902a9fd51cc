package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Transformer is the hook for users' own logic: one record in, zero or more
// out, or an error (the record then goes to the dead-letter topic with stage
// "transform"). Implementations must be safe for concurrent use: shards are
// processed in parallel.
type Transformer interface {
	Transform(ctx context.Context, r Record) ([]Record, error)
}

// TransformerFunc adapts a function to Transformer.
type TransformerFunc func(ctx context.Context, r Record) ([]Record, error)

// Transform calls f.
func (f TransformerFunc) Transform(ctx context.Context, r Record) ([]Record, error) { return f(ctx, r) }

// Passthrough returns every record unchanged.
func Passthrough() Transformer {
	return TransformerFunc(func(_ context.Context, r Record) ([]Record, error) {
		return []Record{r}, nil
	})
}

// JSONValidate passes records whose data is valid JSON and fails the rest.
func JSONValidate() Transformer {
	return TransformerFunc(func(_ context.Context, r Record) ([]Record, error) {
		if !json.Valid(r.Data) {
			return nil, errors.New("payload is not valid JSON")
		}
		return []Record{r}, nil
	})
}

// JSONFilter keeps records whose JSON object has field equal to value and
// leaves the rest out. field is a top-level key or a dotted path into nested
// objects ("user.country"); at each level a key that literally equals the
// rest of the path wins over splitting at a dot. A JSON string matches by
// its decoded text; any other JSON value (number, true, false, null, object,
// array) matches by its compact JSON text, so "status=200" matches 200 but
// not 200.0. Data that is not a JSON object fails the record.
func JSONFilter(field, value string) Transformer {
	return TransformerFunc(func(_ context.Context, r Record) ([]Record, error) {
		ok, err := jsonFieldEquals(r.Data, field, value)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil
		}
		return []Record{r}, nil
	})
}

func jsonFieldEquals(data []byte, path, want string) (bool, error) {
	raw := json.RawMessage(data)
	for depth := 0; ; depth++ {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			if depth == 0 {
				if !json.Valid(data) {
					return false, errors.New("payload is not valid JSON")
				}
				return false, errors.New("payload is not a JSON object")
			}
			return false, nil // an intermediate value is not an object: no such field
		}
		if v, ok := obj[path]; ok {
			return rawEquals(v, want), nil
		}
		head, rest, found := strings.Cut(path, ".")
		if !found {
			return false, nil
		}
		v, ok := obj[head]
		if !ok {
			return false, nil
		}
		raw, path = v, rest
	}
}

func rawEquals(v json.RawMessage, want string) bool {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		return json.Unmarshal(v, &s) == nil && s == want
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return false
	}
	return buf.String() == want
}

// Chain runs the transformers in order, feeding every output of one to the
// next. The first error fails the input record.
func Chain(ts ...Transformer) Transformer {
	return TransformerFunc(func(ctx context.Context, r Record) ([]Record, error) {
		cur := []Record{r}
		for _, t := range ts {
			var next []Record
			for _, in := range cur {
				out, err := t.Transform(ctx, in)
				if err != nil {
					return nil, err
				}
				next = append(next, out...)
			}
			if cur = next; len(cur) == 0 {
				return nil, nil
			}
		}
		return cur, nil
	})
}

// ParseTransform builds a built-in transformer from its configuration string
// (REPLICATOR_TRANSFORM): "passthrough" (also ""), "json-validate", or
// "json-filter:FIELD=VALUE" (split at the first "="; VALUE may be empty).
func ParseTransform(spec string) (Transformer, error) {
	switch {
	case spec == "" || spec == "passthrough":
		return Passthrough(), nil
	case spec == "json-validate":
		return JSONValidate(), nil
	case strings.HasPrefix(spec, "json-filter:"):
		field, value, ok := strings.Cut(strings.TrimPrefix(spec, "json-filter:"), "=")
		if !ok || field == "" {
			return nil, fmt.Errorf("transform %q: want json-filter:FIELD=VALUE", spec)
		}
		return JSONFilter(field, value), nil
	}
	return nil, fmt.Errorf("transform %q: unknown (want passthrough, json-validate or json-filter:FIELD=VALUE)", spec)
}
