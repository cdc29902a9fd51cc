package expr

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

func itemJSON(it attr.Item) string {
	b, _ := json.Marshal(it)
	return string(b)
}

const updValues = `{
 ":v":{"S":"v"}, ":one":{"N":"1"}, ":ten":{"N":"10"}, ":zero":{"N":"0"}, ":s":{"S":"str"},
 ":lst":{"L":[{"N":"9"}]}, ":ss":{"SS":["c"]}, ":sa":{"SS":["a"]}, ":sab":{"SS":["a","b"]},
 ":ns":{"NS":["7"]}, ":big":{"N":"9.9999999999999999999999999999999999999E+125"}, ":e37":{"N":"1E+37"},
 ":tenth":{"N":"0.1"}, ":m":{"M":{}}
}`

func TestUpdateApply(t *testing.T) {
	base := `{"n":{"N":"5"},"s":{"S":"hello"},"m":{"M":{"x":{"N":"1"},"y":{"L":[{"S":"p"}]}}},"l":{"L":[{"N":"1"},{"S":"two"},{"M":{"z":{"S":"deep"}}}]},"ss":{"SS":["a","b"]},"ns":{"NS":["1","2"]}}`
	for _, tc := range []struct {
		name, start, expr, want string
	}{
		{"set on new item", `{}`, "SET a = :v", `{"a":{"S":"v"}}`},
		{"set replaces", base, "SET s = :v", `"s":{"S":"v"}`},
		{"plus", base, "SET n = n + :one", `"n":{"N":"6"}`},
		{"minus", base, "SET n = n - :ten", `"n":{"N":"-5"}`},
		{"value minus path", base, "SET n = :one - n", `"n":{"N":"-4"}`},
		{"parenthesised arithmetic", base, "SET n = (n + :one)", `"n":{"N":"6"}`},
		{"copy attribute", base, "SET c = s", `"c":{"S":"hello"}`},
		{"values read before writes", base, "SET x = n, n = :ten", `"n":{"N":"10"}`},
		{"values read before writes 2", base, "SET x = n, n = :ten", `"x":{"N":"5"}`},
		{"if_not_exists absent", base, "SET z = if_not_exists(z, :zero)", `"z":{"N":"0"}`},
		{"if_not_exists present", base, "SET n = if_not_exists(n, :zero)", `"n":{"N":"5"}`},
		{"if_not_exists plus", `{}`, "SET c = if_not_exists(c, :zero) + :one", `{"c":{"N":"1"}}`},
		{"list_append tail", base, "SET l = list_append(l, :lst)", `"l":{"L":[{"N":"1"},{"S":"two"},{"M":{"z":{"S":"deep"}}},{"N":"9"}]}`},
		{"list_append head", base, "SET l = list_append(:lst, l)", `"l":{"L":[{"N":"9"},{"N":"1"}`},
		{"list_append if_not_exists", `{}`, "SET q = list_append(if_not_exists(q, :lst), :lst)", `{"q":{"L":[{"N":"9"},{"N":"9"}]}}`},
		{"nested map set", base, "SET m.x = :v", `"m":{"M":{"x":{"S":"v"},"y":`},
		{"nested map add key", base, "SET m.w = :v", `"w":{"S":"v"}`},
		{"list element replace", base, "SET l[1] = :v", `"l":{"L":[{"N":"1"},{"S":"v"},`},
		{"list index past end appends", base, "SET l[10] = :v", `{"M":{"z":{"S":"deep"}}},{"S":"v"}]}`},
		{"nested in list", base, "SET l[2].z = :v", `{"M":{"z":{"S":"v"}}}`},
		{"deep list in map", base, "SET m.y[0] = :v", `"y":{"L":[{"S":"v"}]}`},
		{"remove top", base, "REMOVE s, n", `{"l":`},
		{"remove nested", base, "REMOVE m.x", `"m":{"M":{"y":`},
		{"remove list elements use original indexes", base, "REMOVE l[0], l[2]", `"l":{"L":[{"S":"two"}]}`},
		{"remove list elements reverse order", base, "REMOVE l[2], l[0]", `"l":{"L":[{"S":"two"}]}`},
		{"remove absent is a no-op", base, "REMOVE gone, m.gone, l[9]", `"n":{"N":"5"}`},
		{"add number", base, "ADD n :one", `"n":{"N":"6"}`},
		{"add creates number", base, "ADD c :one", `"c":{"N":"1"}`},
		{"add to set", base, "ADD ss :ss", `"ss":{"SS":["a","b","c"]}`},
		{"add creates set", `{}`, "ADD q :ns", `{"q":{"NS":["7"]}}`},
		{"add existing member", base, "ADD ss :sa", `"ss":{"SS":["a","b"]}`},
		{"delete from set", base, "DELETE ss :sa", `"ss":{"SS":["b"]}`},
		{"delete empties set", base, "DELETE ss :sab", `"s":{"S":"hello"}}`},
		{"delete from absent", `{}`, "DELETE q :sa", `{}`},
		{"all clauses", base, "SET a = :v REMOVE s ADD n :one DELETE ss :sa", `{"a":{"S":"v"},"l":`},
		{"lower-case keywords", `{}`, "set a = :v add c :one", `{"a":{"S":"v"},"c":{"N":"1"}}`},
		{"exact decimals", `{"f":{"N":"0.1"}}`, "SET f = f + :tenth", `{"f":{"N":"0.2"}}`},
	} {
		vals := mustValues(t, updValues)
		u, err := ParseUpdate(tc.expr, NewEnv(nil, vals))
		if err != nil {
			t.Errorf("%s: parse %q: %v", tc.name, tc.expr, err)
			continue
		}
		start := mustItem(t, tc.start)
		before := itemJSON(start)
		got, err := u.Apply(start)
		if err != nil {
			t.Errorf("%s: apply %q: %v", tc.name, tc.expr, err)
			continue
		}
		if js := itemJSON(got); !strings.Contains(js, tc.want) {
			t.Errorf("%s: %q\n got %s\nwant substring %s", tc.name, tc.expr, js, tc.want)
		}
		if itemJSON(start) != before {
			t.Errorf("%s: Apply modified its input", tc.name)
		}
	}
}

func TestUpdateApplyErrors(t *testing.T) {
	base := `{"n":{"N":"5"},"s":{"S":"hello"},"m":{"M":{"x":{"N":"1"}}},"l":{"L":[{"N":"1"}]},"ss":{"SS":["a"]}}`
	for _, tc := range []struct{ expr, want string }{
		{"SET x = gone + :one", msgMissingOperand},
		{"SET x = gone", msgMissingOperand},
		{"SET x = list_append(gone, :lst)", msgMissingOperand},
		{"SET x = s + :one", msgOperandType},
		{"SET x = list_append(s, :lst)", msgOperandType},
		{"SET q.r = :v", msgInvalidPath},
		{"SET l[0].q = :v", msgInvalidPath},
		{"SET n[0] = :v", msgInvalidPath},
		{"SET s.x = :v", msgInvalidPath},
		{"REMOVE q.r", msgInvalidPath},
		{"REMOVE m.q.r", msgInvalidPath},
		{"ADD s :one", msgOperandType},
		{"ADD ss :ns", msgOperandType},
		{"ADD q.r :one", msgInvalidPath},
		{"DELETE s :sa", msgOperandType},
		{"SET n = :big + :big", "Number overflow"},
		{"SET n = :e37 + :tenth", "more than 38 significant digits"},
		{"ADD n :big", "more than 38 significant digits"},
	} {
		vals := mustValues(t, updValues)
		u, err := ParseUpdate(tc.expr, NewEnv(nil, vals))
		if err != nil {
			t.Errorf("parse %q: %v", tc.expr, err)
			continue
		}
		_, err = u.Apply(mustItem(t, base))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: unexpected %v", tc.expr, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: got %v, want %q", tc.expr, err, tc.want)
		}
	}
}

func TestUpdateParseErrors(t *testing.T) {
	vals := mustValues(t, updValues)
	for _, tc := range []struct{ expr, want string }{
		{"", "Invalid UpdateExpression: The expression can not be empty;"},
		{"a = :v", `Invalid UpdateExpression: Syntax error; token: "a", near: "a ="`},
		{"SET a = :v SET b = :v", `Invalid UpdateExpression: The "SET" section can only be used once in an update expression;`},
		{"SET a = :v REMOVE b SET c = :v", `The "SET" section can only be used once`},
		{"REMOVE a REMOVE b", `The "REMOVE" section can only be used once`},
		{"SET a = :v, a = :one", "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"},
		{"SET a = :v REMOVE a", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"},
		{"SET a.b = :v REMOVE a", "path one: [a, b], path two: [a]"},
		{"SET a[1] = :v, a[1].c = :v", "path one: [a, [1]], path two: [a, [1], c]"},
		{"SET a[0] = :v, a.b = :v", "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [0]], path two: [a, b]"},
		{"SET a[0] = :v, a[1] = :v", ""},
		{"SET #a = :v, #b = :v", "Two document paths overlap"},
		{"SET a = :v,", `Syntax error; token: "<EOF>", near: ","`},
		{"SET a = b + c + :one", `Syntax error; token: "+"`},
		{"SET :v = a", `Syntax error; token: ":v"`},
		{"SET a :v", `Syntax error; token: ":v", near: "a :v"`},
		{"SET _123 = :v", `Invalid UpdateExpression: Syntax error; token: "_", near: "SET _123"`},
		{"SET a = :v DELETE", `Syntax error; token: "<EOF>", near: "DELETE"`},
		{"ADD a b", `Syntax error; token: "b", near: "a b"`},
		{"UPSERT a = :v", `Syntax error; token: "UPSERT"`},
		{"SET status = :v", "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status"},
		{"SET a = :nope", "An expression attribute value used in expression is not defined; attribute value: :nope"},
		{"SET #nope = :v", "An expression attribute name used in the document path is not defined; attribute name: #nope"},
		{"SET a = foo(:v)", "Invalid UpdateExpression: Invalid function name; function: foo"},
		{"SET a = size(b)", "Invalid function name; function: size"},
		{"SET a = if_not_exists(:v, :v)", "Operator or function requires a document path; operator or function: if_not_exists"},
		{"SET a = if_not_exists(a)", "Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1"},
		{"SET a = list_append(:v, a)", "Incorrect operand type for operator or function; operator or function: list_append, operand type: S"},
		{"SET a = a + :v", "Incorrect operand type for operator or function; operator or function: +, operand type: S"},
		{"ADD a :v", "Incorrect operand type for operator or function; operator: ADD, operand type: STRING"},
		{"ADD a :lst", "operator: ADD, operand type: LIST"},
		{"DELETE a :one", "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER"},
		{"DELETE a :m", "operator: DELETE, operand type: MAP"},
	} {
		names := map[string]string{"#a": "a", "#b": "a"}
		_, err := ParseUpdate(tc.expr, NewEnv(names, vals))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: unexpected %v", tc.expr, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q:\n got %v\nwant %s", tc.expr, err, tc.want)
		}
	}
}

func TestUpdateTargets(t *testing.T) {
	u, err := ParseUpdate("SET a.b = :v, c[1] = :v REMOVE d ADD e :one DELETE f :sa", NewEnv(nil, mustValues(t, updValues)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range u.Targets() {
		got = append(got, p.String())
	}
	if want := "[a, b] [c, [1]] [d] [e] [f]"; strings.Join(got, " ") != want {
		t.Errorf("targets = %v, want %s", got, want)
	}
}

func TestProjection(t *testing.T) {
	item := mustItem(t, sampleItem)
	for _, tc := range []struct{ expr, want string }{
		{"pk", `{"pk":{"S":"k"}}`},
		{"pk, n, nope", `{"n":{"N":"5"},"pk":{"S":"k"}}`},
		{"m.x", `{"m":{"M":{"x":{"N":"1"}}}}`},
		{"m.y[1], m.x", `{"m":{"M":{"x":{"N":"1"},"y":{"L":[{"N":"2"}]}}}}`},
		{"l[2].z, l[0]", `{"l":{"L":[{"N":"1"},{"M":{"z":{"S":"deep"}}}]}}`},
		{"l[7]", `{}`},
		{"m.nope", `{}`},
		{"#m.#x", `{"m":{"M":{"x":{"N":"1"}}}}`},
		{"s.x", `{}`},
	} {
		p, err := ParseProjection(tc.expr, NewEnv(map[string]string{"#m": "m", "#x": "x"}, nil))
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if got := itemJSON(p.Apply(item)); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.expr, got, tc.want)
		}
	}
	for _, tc := range []struct{ expr, want string }{
		{"", "Invalid ProjectionExpression: The expression can not be empty;"},
		{"a,", `Invalid ProjectionExpression: Syntax error; token: "<EOF>", near: ","`},
		{"a b", `Syntax error; token: "b", near: "a b"`},
		{"a, a", "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"},
		{"a, a.b", "Two document paths overlap"},
		{"a[0], a.b", "Two document paths conflict"},
		{"name", "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"},
		{"#q", "An expression attribute name used in the document path is not defined; attribute name: #q"},
		{"a = :v", `Syntax error; token: "="`},
	} {
		_, err := ParseProjection(tc.expr, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.expr, err, tc.want)
		}
	}
}

func TestKeyCondition(t *testing.T) {
	vals := mustValues(t, `{":h":{"S":"h"},":a":{"N":"1"},":b":{"N":"5"},":p":{"S":"pre"}}`)
	for _, tc := range []struct{ expr, want string }{
		{"pk = :h", "pk = [{S:h}]"},
		{"pk = :h AND sk > :a", "pk = [{S:h}]; sk > [{N:1}]"},
		{"sk <= :a AND pk = :h", "sk <= [{N:1}]; pk = [{S:h}]"},
		{"(pk = :h) AND (sk BETWEEN :a AND :b)", "pk = [{S:h}]; sk BETWEEN [{N:1} {N:5}]"},
		{"pk = :h and begins_with(sk, :p)", "pk = [{S:h}]; sk begins_with [{S:pre}]"},
		{"#k = :h", "pk = [{S:h}]"},
	} {
		kc, err := ParseKeyCondition(tc.expr, NewEnv(map[string]string{"#k": "pk"}, vals))
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		var parts []string
		for _, p := range kc.Parts {
			s := p.Name + " " + p.Op + " ["
			for i, v := range p.Values {
				if i > 0 {
					s += " "
				}
				s += v.String()
			}
			parts = append(parts, s+"]")
		}
		if got := strings.Join(parts, "; "); got != tc.want {
			t.Errorf("%q = %s, want %s", tc.expr, got, tc.want)
		}
	}
	for _, tc := range []struct{ expr, want string }{
		{"pk = :h OR sk = :a", "Invalid operator used in KeyConditionExpression: OR"},
		{"NOT pk = :h", "Invalid operator used in KeyConditionExpression: NOT"},
		{"pk IN (:h)", "Invalid operator used in KeyConditionExpression: IN"},
		{"pk <> :h", "Invalid operator used in KeyConditionExpression: <>"},
		{"attribute_exists(pk)", "Invalid operator used in KeyConditionExpression: attribute_exists"},
		{"pk = :h AND sk = :a AND x = :b", "KeyConditionExpressions must only contain one condition per key"},
		{"pk = :h AND pk = :h", "KeyConditionExpressions must only contain one condition per key"},
		{"pk.x = :h", "nested"},
		{"pk = sk", "expression attribute value"},
		{"pk = :h AND", `Invalid KeyConditionExpression: Syntax error; token: "<EOF>", near: "AND"`},
		{"pk = :zz", "Invalid KeyConditionExpression: An expression attribute value used in expression is not defined; attribute value: :zz"},
	} {
		_, err := ParseKeyCondition(tc.expr, NewEnv(nil, vals))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.expr, err, tc.want)
		}
	}
	part := KeyPart{Name: "sk", Op: "begins_with", Values: []attr.Value{attr.S("ab")}}
	if !part.Match(attr.S("abc")) || part.Match(attr.S("a")) || part.Match(attr.N(attr.MustParseNumber("1"))) {
		t.Error("begins_with key matching")
	}
	between := KeyPart{Name: "sk", Op: "BETWEEN", Values: []attr.Value{attr.N(attr.MustParseNumber("1")), attr.N(attr.MustParseNumber("5"))}}
	if !between.Match(attr.N(attr.MustParseNumber("5"))) || between.Match(attr.N(attr.MustParseNumber("5.1"))) {
		t.Error("BETWEEN key matching")
	}
}
