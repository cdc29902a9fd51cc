package process

import (
	"context"
	"strings"
	"testing"
)

func data(s string) Record { r := sample(); r.Data = []byte(s); return r }

func run(t *testing.T, tr Transformer, payload string) ([]Record, error) {
	t.Helper()
	return tr.Transform(context.Background(), data(payload))
}

func TestPassthrough(t *testing.T) {
	out, err := run(t, Passthrough(), "not json at all")
	if err != nil || len(out) != 1 || string(out[0].Data) != "not json at all" {
		t.Fatalf("Passthrough = %v, %v", out, err)
	}
}

func TestJSONValidate(t *testing.T) {
	for _, ok := range []string{`{}`, `[1,2]`, `"s"`, `3.5`, ` {"a": {"b": null}} `} {
		if out, err := run(t, JSONValidate(), ok); err != nil || len(out) != 1 {
			t.Errorf("JSONValidate(%s) = %v, %v", ok, out, err)
		}
	}
	for _, bad := range []string{``, `{`, `{"a":}`, `nope`, `{"a":1}x`} {
		if _, err := run(t, JSONValidate(), bad); err == nil {
			t.Errorf("JSONValidate(%q) accepted", bad)
		}
	}
}

func TestJSONFilter(t *testing.T) {
	cases := []struct {
		field, value, payload string
		keep                  bool
	}{
		{"type", "click", `{"type":"click","n":1}`, true},
		{"type", "click", `{"type":"view"}`, false},
		{"type", "click", `{"other":"click"}`, false},
		{"status", "200", `{"status":200}`, true},
		{"status", "200", `{"status":200.0}`, false},
		{"status", "200", `{"status":"200"}`, true},
		{"ok", "true", `{"ok":true}`, true},
		{"v", "null", `{"v":null}`, true},
		{"v", "", `{"v":""}`, true},
		{"tags", `["a","b"]`, `{"tags":[ "a", "b" ]}`, true},
		{"user.country", "FR", `{"user":{"country":"FR"}}`, true},
		{"user.country", "FR", `{"user":{"country":"DE"}}`, false},
		{"user.country", "FR", `{"user":"FR"}`, false},
		{"a.b.c", "x", `{"a":{"b":{"c":"x"}}}`, true},
		{"a.b", "lit", `{"a.b":"lit","a":{"b":"nested"}}`, true},
		{"a.b", "nested", `{"a.b":"lit","a":{"b":"nested"}}`, false},
		{"name", "é", `{"name":"\u00e9"}`, true},
	}
	for _, c := range cases {
		out, err := run(t, JSONFilter(c.field, c.value), c.payload)
		if err != nil {
			t.Errorf("JSONFilter(%s=%s) on %s: %v", c.field, c.value, c.payload, err)
			continue
		}
		if got := len(out) == 1; got != c.keep {
			t.Errorf("JSONFilter(%s=%s) on %s kept=%v, want %v", c.field, c.value, c.payload, got, c.keep)
		}
	}
	for _, bad := range []string{`{`, `not json`, `[{"type":"click"}]`, `"click"`} {
		if _, err := run(t, JSONFilter("type", "click"), bad); err == nil {
			t.Errorf("JSONFilter on %q: no error", bad)
		}
	}
}

func TestChain(t *testing.T) {
	split := TransformerFunc(func(_ context.Context, r Record) ([]Record, error) {
		var out []Record
		for _, part := range strings.Split(string(r.Data), "|") {
			o := r
			o.Data = []byte(part)
			out = append(out, o)
		}
		return out, nil
	})
	tr := Chain(split, JSONFilter("k", "1"), Passthrough())
	out, err := run(t, tr, `{"k":1}|{"k":2}|{"k":1,"x":3}`)
	if err != nil || len(out) != 2 || string(out[1].Data) != `{"k":1,"x":3}` {
		t.Fatalf("Chain = %v, %v", out, err)
	}
	if _, err := run(t, tr, `{"k":1}|broken`); err == nil {
		t.Fatal("Chain swallowed an error")
	}
	if out, err := run(t, Chain(), "x"); err != nil || len(out) != 1 {
		t.Fatalf("empty Chain = %v, %v", out, err)
	}
}

func TestParseTransform(t *testing.T) {
	for spec, payload := range map[string]string{"": "x", "passthrough": "x", "json-validate": `{}`, "json-filter:a=1": `{"a":1}`, "json-filter:a.b=c=d": `{"a":{"b":"c=d"}}`} {
		tr, err := ParseTransform(spec)
		if err != nil {
			t.Fatalf("ParseTransform(%q): %v", spec, err)
		}
		if out, err := run(t, tr, payload); err != nil || len(out) != 1 {
			t.Fatalf("%q on %s = %v, %v", spec, payload, out, err)
		}
	}
	if out, _ := run(t, must(ParseTransform("json-filter:a=2")), `{"a":1}`); len(out) != 0 {
		t.Fatal("json-filter:a=2 kept a=1")
	}
	if _, err := run(t, must(ParseTransform("json-validate")), `{`); err == nil {
		t.Fatal("json-validate spec accepted bad JSON")
	}
	for _, bad := range []string{"json-filter:", "json-filter:=x", "json-filter:novalue", "uppercase", "Passthrough"} {
		_, err := ParseTransform(bad)
		if err == nil || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("ParseTransform(%q) error %v does not name the spec", bad, err)
		}
	}
}

func must(t Transformer, err error) Transformer {
	if err != nil {
		panic(err)
	}
	return t
}
