package expr

import "github.com/shardbridge/shardbridge/fakes/dynamodb/attr"

// KeyPart is one condition of a KeyConditionExpression on one key attribute.
// Op is one of "=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"; Values
// holds one value (two for BETWEEN).
type KeyPart struct {
	Name   string
	Op     string
	Values []attr.Value
}

// KeyCondition is a parsed KeyConditionExpression: one or two KeyParts
// joined by AND, each on a different top-level attribute.
type KeyCondition struct{ Parts []KeyPart }

// ParseKeyCondition parses and checks a KeyConditionExpression. It checks
// the shape DynamoDB allows for key conditions; whether the names are the
// table's keys is for the caller, which knows the schema.
func ParseKeyCondition(src string, env *Env) (*KeyCondition, error) {
	const label = "KeyConditionExpression"
	root, err := parseConditionTree(label, src, env)
	if err != nil {
		return nil, err
	}
	var leaves []*node
	var flatten func(n *node) error
	flatten = func(n *node) error {
		switch n.kind {
		case nAnd:
			if err := flatten(n.l); err != nil {
				return err
			}
			return flatten(n.r)
		case nOr:
			return errorf("Invalid operator used in KeyConditionExpression: OR")
		case nNot:
			return errorf("Invalid operator used in KeyConditionExpression: NOT")
		case nIn:
			return errorf("Invalid operator used in KeyConditionExpression: IN")
		case nCmp:
			if n.op == "<>" {
				return errorf("Invalid operator used in KeyConditionExpression: <>")
			}
		case nCall:
			if fn := n.args[0].fn; fn != "begins_with" {
				return errorf("Invalid operator used in KeyConditionExpression: %s", fn)
			}
		}
		leaves = append(leaves, n)
		return nil
	}
	if err := flatten(root); err != nil {
		return nil, err
	}
	if len(leaves) > 2 {
		return nil, errorf("KeyConditionExpressions must only contain one condition per key")
	}
	kc := &KeyCondition{}
	for _, n := range leaves {
		var part KeyPart
		args := n.args
		switch n.kind {
		case nCmp:
			part.Op = n.op
		case nBetween:
			part.Op = "BETWEEN"
		case nCall:
			part.Op = "begins_with"
			args = n.args[0].args
		}
		key := args[0]
		if key.kind != opPath {
			return nil, errorf("Invalid KeyConditionExpression: The left-hand side of a key condition must be a key attribute name")
		}
		if len(key.path.resolved) != 1 {
			return nil, errorf("Invalid KeyConditionExpression: Key conditions can not address nested attributes: %s", key.path.resolved)
		}
		part.Name = key.path.resolved[0].Name
		for _, a := range args[1:] {
			if a.kind != opValue {
				return nil, errorf("Invalid KeyConditionExpression: Key conditions must compare a key attribute with an expression attribute value")
			}
			part.Values = append(part.Values, a.val)
		}
		for _, p := range kc.Parts {
			if p.Name == part.Name {
				return nil, errorf("KeyConditionExpressions must only contain one condition per key")
			}
		}
		kc.Parts = append(kc.Parts, part)
	}
	return kc, nil
}

// Match reports whether v satisfies the part's operator (used for the
// range key; the hash key is matched by lookup).
func (p KeyPart) Match(v attr.Value) bool {
	if p.Op == "begins_with" {
		w := p.Values[0]
		return v.Kind() == w.Kind() && (v.Kind() == attr.KindS || v.Kind() == attr.KindB) &&
			len(v.Str()) >= len(w.Str()) && v.Str()[:len(w.Str())] == w.Str()
	}
	c, ok := attr.Compare(v, p.Values[0])
	if !ok {
		return false
	}
	switch p.Op {
	case "=":
		return c == 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "BETWEEN":
		c2, ok := attr.Compare(v, p.Values[1])
		return c >= 0 && ok && c2 <= 0
	}
	return false
}
