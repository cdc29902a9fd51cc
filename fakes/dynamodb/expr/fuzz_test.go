package expr

import (
	"strings"
	"testing"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

// The fuzzers feed arbitrary text to the parsers with a fixed set of
// placeholders, then evaluate whatever parses against a rich item. Nothing
// may panic; errors must be ValidationException-shaped.

var fuzzNames = map[string]string{"#a": "a", "#b": "b", "#m": "m", "#l": "l", "#weird": "x.y[0]"}

// fuzzFixture decodes the placeholder values and the item once; every
// iteration gets a fresh Env over the shared, read-only maps.
type fuzzFixture struct {
	vals map[string]attr.Value
	item attr.Item
}

func newFuzzFixture(f *testing.F) *fuzzFixture {
	return &fuzzFixture{vals: fuzzValues(f), item: fuzzItem(f)}
}

func (fx *fuzzFixture) env() *Env { return NewEnv(fuzzNames, fx.vals) }

func fuzzValues(t testing.TB) map[string]attr.Value {
	return mustValues(t, `{":a":{"S":"a"},":n":{"N":"1"},":l":{"L":[{"N":"1"}]},":m":{"M":{"k":{"S":"v"}}},
	 ":ss":{"SS":["a"]},":ns":{"NS":["1"]},":bs":{"BS":["AQ=="]},":b":{"B":"AQ=="},":t":{"BOOL":true},":null":{"NULL":true},
	 ":big":{"N":"9E125"},":S":{"S":"S"}}`)
}

func fuzzItem(t testing.TB) attr.Item {
	return mustItem(t, `{"a":{"S":"abc"},"b":{"N":"2"},"m":{"M":{"k":{"S":"v"},"l":{"L":[{"N":"1"},{"M":{"z":{"NS":["1"]}}}]}}},
	 "l":{"L":[{"S":"x"},{"L":[{"N":"3"}]}]},"ss":{"SS":["a","b"]},"x.y[0]":{"BOOL":false},"n":{"N":"9E125"}}`)
}

func checkErr(t *testing.T, label string, err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "Invalid "+label+": ") && !strings.HasPrefix(msg, "Invalid operator used in") &&
		!strings.HasPrefix(msg, "KeyConditionExpressions must") {
		t.Fatalf("unexpected error shape: %q", msg)
	}
}

var conditionSeeds = []string{
	"a = :a", "a <> :a AND b < :n", "NOT (a = :a OR b BETWEEN :n AND :n)", "b IN (:n, :a, :l)",
	"attribute_exists(m.l[1].z) AND attribute_not_exists(#weird)", "attribute_type(a, :S)",
	"begins_with(a, :a) OR contains(ss, :a)", "size(l[1]) >= :n", "((a = :a))", "(a) = :a",
	"a AND AND b", "a = :a )", "#m.k = :a", "l[0] = :a", "size(a)", "foo(a)", "a = a", "a[99999999999999999999] = :n",
	"a BETWEEN :n AND :a", "status = :a", "a = :zz", "(((((a = :a)))))", "NOT NOT NOT a = :a", "a <= :m",
	"contains(#l, :n) and size(#m) = :n", "a IN (:a,:a,:a,:a)", "\x00", "a = :a AND (", "é = :a",
}

func FuzzParseCondition(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, s := range conditionSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := ParseCondition("ConditionExpression", src, fx.env())
		checkErr(t, "ConditionExpression", err)
		if err == nil {
			c.Eval(fx.item)
			c.Eval(nil)
			c.TopNames()
		}
	})
}

func FuzzParseKeyCondition(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, s := range append(conditionSeeds, "a = :a AND b > :n", "a = :a AND begins_with(b, :a)", "b BETWEEN :n AND :n AND a = :a") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		kc, err := ParseKeyCondition(src, fx.env())
		checkErr(t, "KeyConditionExpression", err)
		if err == nil {
			item := fx.item
			for _, p := range kc.Parts {
				p.Match(item[p.Name])
			}
		}
	})
}

func FuzzParseUpdate(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, s := range []string{
		"SET a = :a", "SET a = a + :n, b = b - :n", "SET l[5] = :a REMOVE m.k ADD b :n DELETE ss :ss",
		"SET a = list_append(if_not_exists(l, :l), :l)", "SET m.l[1].z = :ns", "REMOVE l[0], l[1], l[7]",
		"SET a = :a SET b = :a", "SET a = :a, a.b = :a", "SET a = (b + :n)", "SET a = (b) + :n",
		"ADD n :big", "SET n = n + :big", "SET #weird = :t", "DELETE ss :ss", "ADD ss :a", "set a = :a remove b",
		"SET a[0] = :n, a.b = :n", "SET", "REMOVE", "SET a = if_not_exists(:a, :a)", "SET _x = :a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		u, err := ParseUpdate(src, fx.env())
		checkErr(t, "UpdateExpression", err)
		if err == nil {
			item := fx.item
			before := itemJSON(item)
			u.Apply(item)
			u.Apply(nil)
			if itemJSON(item) != before {
				t.Fatalf("Apply modified its input")
			}
			u.Targets()
		}
	})
}

func FuzzParseProjection(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, s := range []string{
		"a", "a, b, m.k", "l[1][0], m.l[1].z", "#m.k, #weird", "a, a", "a, a.b", "a[0], a.b", "name",
		"a,", "a b", "m.l[0], m.l[1]", "l[4294967296]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := ParseProjection(src, fx.env())
		checkErr(t, "ProjectionExpression", err)
		if err == nil {
			p.Apply(fx.item)
		}
	})
}
