package expr

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

func mustItem(t testing.TB, js string) attr.Item {
	t.Helper()
	var it attr.Item
	if err := json.Unmarshal([]byte(js), &it); err != nil {
		t.Fatalf("item %s: %v", js, err)
	}
	return it
}

func mustValues(t testing.TB, js string) map[string]attr.Value {
	t.Helper()
	if js == "" {
		return nil
	}
	return mustItem(t, js)
}

const sampleItem = `{
 "pk":{"S":"k"}, "n":{"N":"5"}, "s":{"S":"hello"}, "b":{"B":"AQID"}, "t":{"BOOL":true},
 "nul":{"NULL":true}, "e":{"S":""},
 "m":{"M":{"x":{"N":"1"},"y":{"L":[{"S":"p"},{"N":"2"}]}}},
 "l":{"L":[{"N":"1"},{"S":"two"},{"M":{"z":{"S":"deep"}}}]},
 "ss":{"SS":["a","b"]}, "ns":{"NS":["1","2.5"]}, "bs":{"BS":["AQ=="]}
}`

const sampleValues = `{
 ":zero":{"N":"0"}, ":one":{"N":"1"}, ":two":{"N":"2"}, ":three":{"N":"3"}, ":four":{"N":"4"},
 ":five":{"N":"5"}, ":fivef":{"N":"5.000"}, ":six":{"N":"6"}, ":seven":{"N":"7"}, ":twofive":{"N":"2.50"},
 ":str5":{"S":"5"}, ":a":{"S":"a"}, ":z":{"S":"z"}, ":he":{"S":"he"}, ":ell":{"S":"ell"},
 ":hello":{"S":"hello"}, ":p":{"S":"p"}, ":twos":{"S":"two"}, ":empty":{"S":""},
 ":b01":{"B":"AQ=="}, ":true":{"BOOL":true}, ":false":{"BOOL":false}, ":null":{"NULL":true},
 ":SS":{"S":"SS"}, ":S":{"S":"S"}, ":N":{"S":"N"}, ":M":{"S":"M"},
 ":ssrev":{"SS":["b","a"]}, ":deep":{"M":{"z":{"S":"deep"}}}
}`

func TestConditionEval(t *testing.T) {
	item := mustItem(t, sampleItem)
	vals := mustValues(t, sampleValues)
	names := map[string]string{"#m": "m", "#y": "y", "#dot": "a.b"}
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{"n = :five", true}, {"n = :fivef", true}, {"n <> :five", false}, {"n <> :six", true},
		{"n < :six", true}, {"n < :five", false}, {"n <= :five", true}, {"n > :four", true}, {"n >= :six", false},
		{"n < :str5", false}, {"n = :str5", false}, {"n <> :str5", true},
		{"nope = :five", false}, {"nope <> :five", true}, {"nope < :five", false}, {":five > nope", false},
		{"nope = gone", false}, {"nope <> gone", true},
		{"s BETWEEN :a AND :z", true}, {"n BETWEEN :four AND :six", true}, {"n BETWEEN :five AND :five", true},
		{"n BETWEEN :six AND :seven", false}, {"s BETWEEN :one AND :two", false},
		{"n IN (:four, :five)", true}, {"n IN (:four)", false}, {"nope IN (:five)", false}, {"s IN (:a, :hello, :z)", true},
		{"attribute_exists(m.y[1])", true}, {"attribute_exists(m.y[2])", false}, {"attribute_not_exists(m.q)", true},
		{"attribute_exists(l[2].z)", true}, {"attribute_exists(n.x)", false}, {"attribute_exists(l.x)", false},
		{"attribute_exists(e)", true}, {"attribute_not_exists(pk)", false},
		{"attribute_type(ss, :SS)", true}, {"attribute_type(n, :S)", false}, {"attribute_type(n, :N)", true},
		{"attribute_type(nope, :N)", false}, {"attribute_type(m, :M)", true},
		{"begins_with(s, :he)", true}, {"begins_with(s, :ell)", false}, {"begins_with(b, :b01)", true},
		{"begins_with(n, :he)", false}, {"begins_with(s, :empty)", true},
		{"contains(s, :ell)", true}, {"contains(s, :z)", false}, {"contains(ss, :a)", true}, {"contains(ss, :z)", false},
		{"contains(ns, :twofive)", true}, {"contains(ns, :two)", false}, {"contains(l, :twos)", true},
		{"contains(l, :five)", false}, {"contains(l, :deep)", true}, {"contains(bs, :b01)", true}, {"contains(n, :five)", false},
		{"size(s) = :five", true}, {"size(ss) = :two", true}, {"size(m) = :two", true}, {"size(l) = :three", true},
		{"size(b) = :three", true}, {"size(e) = :zero", true}, {"size(n) > :zero", false}, {"size(nope) = :zero", false},
		{"size(m.y) < size(l)", true},
		{"NOT n = :five", false}, {"NOT NOT n = :five", true}, {"n = :five AND s = :hello", true}, {"n = :four AND s = :hello", false},
		{"n = :four OR s = :hello", true},
		{"n = :four OR s = :hello AND t = :true", true},
		{"n = :five OR s = :z AND t = :false", true},
		{"(n = :five OR s = :z) AND t = :false", false},
		{"NOT (n = :four) AND s = :hello", true},
		{"NOT n = :four AND s = :z", false},
		{"m.y[0] = :p", true}, {"#m.#y[1] = :two", true}, {"#m.y[1] = :one", false}, {"#dot = :one", false},
		{"ss = :ssrev", true}, {"nul = :null", true}, {"t = :true", true}, {"t = :false", false}, {"e = :empty", true},
		{"l[2] = :deep", true}, {"(n) = :five", true}, {"(size(s)) = :five", true},
		{"  n   =   :five  ", true}, {"n=:five and s=:hello", true}, {"n between :four and :six", true},
	} {
		env := NewEnv(names, vals)
		c, err := ParseCondition("ConditionExpression", tc.expr, env)
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if got := c.Eval(item); got != tc.want {
			t.Errorf("%q = %v, want %v", tc.expr, got, tc.want)
		}
	}
	// A nope item behaves like an item with no attributes.
	c, _ := ParseCondition("ConditionExpression", "attribute_not_exists(pk)", nil)
	if !c.Eval(nil) {
		t.Error("attribute_not_exists on a nope item must be true")
	}
}

func TestConditionErrors(t *testing.T) {
	vals := mustValues(t, sampleValues)
	vals[":list"] = attr.L(nil)
	vals[":map"] = attr.M(nil)
	names := map[string]string{"#s": "status"}
	for _, tc := range []struct{ expr, want string }{
		{"", "Invalid ConditionExpression: The expression can not be empty;"},
		{"   ", "Invalid ConditionExpression: The expression can not be empty;"},
		{"a AND AND b", `Invalid ConditionExpression: Syntax error; token: "AND", near: "a AND AND"`},
		{"foo", `Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "foo"`},
		{"a = ", `Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "="`},
		{"a = :one AND", `Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND"`},
		{"a == :one", `Invalid ConditionExpression: Syntax error; token: "=", near: "== :one"`},
		{"_a = :one", `Invalid ConditionExpression: Syntax error; token: "_", near: "_a"`},
		{"1a = :one", `Invalid ConditionExpression: Syntax error; token: "1", near: "1a"`},
		{"a-b = :one", `Invalid ConditionExpression: Syntax error; token: "-", near: "a-b"`},
		{"a = :one)", `Invalid ConditionExpression: Syntax error; token: ")", near: ":one)"`},
		{"(a = :one", `Invalid ConditionExpression: Syntax error; token: "<EOF>", near: ":one"`},
		{"a IN ()", `Syntax error; token: ")"`},
		{"a BETWEEN :one", `Syntax error; token: "<EOF>"`},
		{"a[x] = :one", `Syntax error; token: "x", near: "[x]"`},
		{"a = :one $", `Syntax error; token: "$", near: ":one $"`},
		{"attribute_exists()", `Syntax error; token: ")"`},
		{"AND = :one", `Syntax error; token: "AND"`},
		{"a.in = :one", `Syntax error; token: "in"`},
		{"status = :one", "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"},
		{"a.Size = :one", "Attribute name is a reserved keyword; reserved keyword: Size"},
		{"#s = :one", ""},
		{"a = :nope", "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :nope"},
		{"#nope = :one", "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #nope"},
		{"((a = :one))", "Invalid ConditionExpression: The expression has redundant parentheses;"},
		{"((a)) = :one", "Invalid ConditionExpression: The expression has redundant parentheses;"},
		{"(a = :one) AND ((b = :two))", "The expression has redundant parentheses;"},
		{"foo(a)", "Invalid ConditionExpression: Invalid function name; function: foo"},
		{"if_not_exists(a, :one)", "Invalid function name; function: if_not_exists"},
		{"size(a)", "The function is not allowed to be used this way in an expression; function: size"},
		{"attribute_exists(a) = :one", "The function is not allowed to be used this way in an expression; function: attribute_exists"},
		{"contains(begins_with(a, :he), :a)", "The function is not allowed to be used this way in an expression; function: begins_with"},
		{"attribute_exists(a, b)", "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"},
		{"begins_with(a)", "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1"},
		{"attribute_exists(:one)", "Operator or function requires a document path; operator or function: attribute_exists"},
		{"attribute_type(a, :one)", "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"},
		{"attribute_type(a, :hello)", "Invalid attribute type name found; type: hello, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"},
		{"begins_with(a, :one)", "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"},
		{"size(:one) = :one", "Incorrect operand type for operator or function; operator or function: size, operand type: N"},
		{"a < :list", "Incorrect operand type for operator or function; operator or function: <, operand type: L"},
		{":map >= a", "Incorrect operand type for operator or function; operator or function: >=, operand type: M"},
		{"a BETWEEN :one AND :a", "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:a}"},
		{"a BETWEEN :six AND :one", "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:6}, upper bound operand: AttributeValue: {N:1}"},
		{"a = a", "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]"},
		{"contains(a.b, a.b)", "The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [a, b]"},
		{"a IN (" + strings.Repeat(":one, ", 100) + ":one)", "The IN operator is provided with too many operands; number of operands: 101"},
		{"a = :one AND " + strings.Repeat("b", 5000), "Expression size has exceeded the maximum allowed size"},
	} {
		_, err := ParseCondition("ConditionExpression", tc.expr, NewEnv(names, vals))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: unexpected error %v", tc.expr, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q:\n got %v\nwant %s", tc.expr, err, tc.want)
		}
	}
	// The label names the parameter.
	_, err := ParseCondition("FilterExpression", "a AND", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "Invalid FilterExpression: Syntax error") {
		t.Errorf("label: %v", err)
	}
	// IN takes up to 100 operands.
	if _, err := ParseCondition("ConditionExpression", "a IN ("+strings.Repeat(":one, ", 99)+":one)", NewEnv(nil, vals)); err != nil {
		t.Errorf("IN with 100 operands: %v", err)
	}
}

func TestUnusedPlaceholders(t *testing.T) {
	vals := mustValues(t, `{":a":{"N":"1"},":x":{"N":"2"},":y":{"N":"3"}}`)
	env := NewEnv(map[string]string{"#n": "n", "#unused": "u"}, vals)
	if _, err := ParseCondition("ConditionExpression", "#n = :a", env); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseUpdate("SET b = :x", env); err != nil {
		t.Fatal(err)
	}
	err := env.CheckUnused()
	if err == nil || err.Error() != "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}" {
		t.Errorf("names: %v", err)
	}
	env = NewEnv(nil, vals)
	if _, err := ParseCondition("ConditionExpression", "a = :a", env); err != nil {
		t.Fatal(err)
	}
	err = env.CheckUnused()
	if err == nil || err.Error() != "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x, :y}" {
		t.Errorf("values: %v", err)
	}
}

func TestReservedWords(t *testing.T) {
	for _, w := range []string{"status", "STATUS", "name", "data", "timestamp", "count", "size", "key", "value", "year", "user", "owner", "ttl", "counter", "comment"} {
		if !IsReserved(w) {
			t.Errorf("%s must be reserved", w)
		}
	}
	for _, w := range []string{"leaseKey", "leaseOwner", "leaseCounter", "checkpoint", "pk", "sk", "foo"} {
		if IsReserved(w) {
			t.Errorf("%s must not be reserved", w)
		}
	}
	if len(reserved) < 570 {
		t.Errorf("reserved word list has %d entries; DynamoDB has 573", len(reserved))
	}
}
