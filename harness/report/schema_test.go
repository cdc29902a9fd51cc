package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/report/reporttest"
)

// reports are the shapes WriteJSON has to cover: passing, failing (every
// anomaly, a replay, failures), empty, and the optional parts on their own.
func reports() map[string]Report {
	odd := passing()
	odd.Started = time.Time{}
	odd.Mode = ""
	odd.GaugeMaxLag = 2 * time.Second
	odd.Result.InputErrors = []string{"shardId-000000000000/1 acknowledged twice"}
	odd.Result.Unexpected = checker.Anomaly{Count: 1, Examples: []checker.Example{
		{ID: checker.ID{Shard: "shardId-000000000000", Seq: "1", SubSeq: -1}, Producer: -1, KeySeq: -1, Offset: 3,
			Detail: "never acknowledged by Kinesis", IdentifiedBy: checker.IdentityPayload},
	}}
	odd.Replay = &checker.ReplayResult{Before: 3, After: 2, MissingCount: 1, Missing: []checker.ID{{Shard: "s", Seq: "9", SubSeq: 0}},
		ReorderedCount: 1, Reordered: []checker.Example{{ID: checker.ID{Shard: "s", Seq: "7", SubSeq: -1}, Producer: 0, Key: "k", Detail: "moved"}}}
	return map[string]Report{"passing": passing(), "failing": failing(), "empty": {}, "optional parts": odd}
}

func TestJSONMatchesSchema(t *testing.T) {
	s, err := reporttest.Compile()
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range reports() {
		var b bytes.Buffer
		if err := WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		if err := reporttest.Validate(s, b.Bytes()); err != nil {
			t.Errorf("%s: %v\n%s", name, err, b.String())
		}
	}
	goldens, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	if len(goldens) == 0 {
		t.Fatal("no golden JSON reports")
	}
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		if err := reporttest.Validate(s, b); err != nil {
			t.Errorf("%s: %v", g, err)
		}
	}
}

// The schema rejects what it should, or the test above proves nothing.
func TestSchemaRejects(t *testing.T) {
	s, err := reporttest.Compile()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, failing()); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(map[string]any){
		"no seed":               func(d map[string]any) { delete(d, "seed") },
		"verdict MAYBE":         func(d map[string]any) { d["verdict"] = "MAYBE" },
		"schema version 2":      func(d map[string]any) { d["schema_version"] = "2" },
		"seq as a number":       func(d map[string]any) { anomaly(d, "lost")["id"].(map[string]any)["seq"] = 1 },
		"negative count":        func(d map[string]any) { d["records"].(map[string]any)["acked"] = -1 },
		"fault time not a time": func(d map[string]any) { d["faults"].([]any)[0].(map[string]any)["time"] = "yesterday" },
	} {
		var doc map[string]any
		if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		edit(doc)
		bad, _ := json.Marshal(doc)
		if reporttest.Validate(s, bad) == nil {
			t.Errorf("%s: the schema accepted it", name)
		}
	}
}

func anomaly(doc map[string]any, name string) map[string]any {
	return doc["anomalies"].(map[string]any)[name].(map[string]any)["examples"].([]any)[0].(map[string]any)
}

// Every field of the JSON form is in the schema, under its name, required
// exactly when it is always written (no omitempty), and the schema lists
// nothing the code does not write: adding a field to the Go struct without
// documenting it fails here.
func TestSchemaCoversJSONStruct(t *testing.T) {
	schema, err := reporttest.LoadSchema()
	if err != nil {
		t.Fatal(err)
	}
	if got := schema["properties"].(map[string]any)["schema_version"].(map[string]any)["const"]; got != SchemaVersion {
		t.Errorf("the schema's schema_version is %v, the code writes %q", got, SchemaVersion)
	}
	compare(t, "report", reflect.TypeFor[jsonReport](), schema, schema)
}

var timeType = reflect.TypeFor[time.Time]()

// compare walks a Go type and its schema node side by side.
func compare(t *testing.T, path string, typ reflect.Type, node, root map[string]any) {
	t.Helper()
	node = resolve(t, path, node, root)
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case typ == timeType:
		if node["type"] != "string" || node["format"] != "date-time" {
			t.Errorf("%s: a time, but the schema says %v", path, node)
		}
	case typ.Kind() == reflect.Struct:
		props, _ := node["properties"].(map[string]any)
		if props == nil {
			t.Errorf("%s: a struct, but the schema has no properties", path)
			return
		}
		var required []string
		for _, r := range asSlice(node["required"]) {
			required = append(required, r.(string))
		}
		fields := jsonFields(typ)
		for name, f := range fields {
			p, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s.%s is written but not in %s", path, name, reporttest.SchemaPath)
				continue
			}
			if req := slices.Contains(required, name); req == f.omitempty {
				t.Errorf("%s.%s: required in the schema: %v; always written (no omitempty): %v", path, name, req, !f.omitempty)
			}
			compare(t, path+"."+name, f.typ, p, root)
		}
		for name := range props {
			if _, ok := fields[name]; !ok {
				t.Errorf("%s.%s is in %s but the code never writes it", path, name, reporttest.SchemaPath)
			}
		}
	case typ.Kind() == reflect.Slice:
		items, _ := node["items"].(map[string]any)
		if node["type"] != "array" || items == nil {
			t.Errorf("%s: a list, but the schema says %v", path, node)
			return
		}
		compare(t, path+"[]", typ.Elem(), items, root)
	case typ.Kind() == reflect.Map:
		values, _ := node["additionalProperties"].(map[string]any)
		if node["type"] != "object" || values == nil {
			t.Errorf("%s: a map, but the schema says %v", path, node)
			return
		}
		compare(t, path+"{}", typ.Elem(), values, root)
	}
}

// resolve follows a local "$ref" (#/$defs/NAME).
func resolve(t *testing.T, path string, node, root map[string]any) map[string]any {
	t.Helper()
	ref, ok := node["$ref"].(string)
	if !ok {
		return node
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	def, _ := root["$defs"].(map[string]any)[name].(map[string]any)
	if !ok || def == nil {
		t.Fatalf("%s: unresolvable $ref %q", path, ref)
	}
	return resolve(t, path, def, root)
}

type field struct {
	typ       reflect.Type
	omitempty bool
}

// jsonFields lists what encoding/json writes for a struct: tagged names,
// embedded structs flattened, `json:"-"` left out.
func jsonFields(typ reflect.Type) map[string]field {
	out := map[string]field{}
	for f := range typ.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			for n, sub := range jsonFields(f.Type) {
				out[n] = sub
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = field{typ: f.Type, omitempty: slices.Contains(strings.Split(opts, ","), "omitempty")}
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
