package expr

import (
	"strings"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

// Condition is a parsed ConditionExpression or FilterExpression.
type Condition struct{ root *node }

// ParseCondition parses and checks a condition. label names the request
// parameter in error messages ("ConditionExpression", "FilterExpression").
func ParseCondition(label, src string, env *Env) (*Condition, error) {
	root, err := parseConditionTree(label, src, env)
	if err != nil {
		return nil, err
	}
	return &Condition{root: root}, nil
}

func parseConditionTree(label, src string, env *Env) (*node, error) {
	if err := precheck(label, src); err != nil {
		return nil, err
	}
	if env == nil {
		env = NewEnv(nil, nil)
	}
	p := newParser(src, label, gCondition)
	root, ok := p.parseOr()
	if ok && p.tok().kind != tEOF {
		ok = p.fail()
	}
	if !ok {
		return nil, p.syntaxError()
	}
	c := &checker{label: label, env: env}
	c.checkNode(root)
	if err := c.result(conditionOrder); err != nil {
		return nil, err
	}
	return root, nil
}

// Eval reports whether item satisfies the condition. A nil item is an item
// that does not exist (every attribute is missing).
func (c *Condition) Eval(item attr.Item) bool { return c.root.eval(item) }

func (n *node) eval(item attr.Item) bool {
	switch n.kind {
	case nAnd:
		return n.l.eval(item) && n.r.eval(item)
	case nOr:
		return n.l.eval(item) || n.r.eval(item)
	case nNot:
		return !n.l.eval(item)
	case nCmp:
		a, b := n.args[0].eval(item), n.args[1].eval(item)
		switch n.op {
		case "=":
			return attr.Equal(a, b)
		case "<>":
			return !attr.Equal(a, b)
		}
		cmp, ok := attr.Compare(a, b)
		if !ok {
			return false
		}
		switch n.op {
		case "<":
			return cmp < 0
		case "<=":
			return cmp <= 0
		case ">":
			return cmp > 0
		default:
			return cmp >= 0
		}
	case nBetween:
		x := n.args[0].eval(item)
		c1, ok1 := attr.Compare(x, n.args[1].eval(item))
		c2, ok2 := attr.Compare(x, n.args[2].eval(item))
		return ok1 && ok2 && c1 >= 0 && c2 <= 0
	case nIn:
		x := n.args[0].eval(item)
		for _, o := range n.args[1:] {
			if attr.Equal(x, o.eval(item)) {
				return true
			}
		}
		return false
	case nCall:
		return evalBoolCall(n.args[0], item)
	}
	return false
}

func evalBoolCall(call *operand, item attr.Item) bool {
	switch call.fn {
	case "attribute_exists":
		return call.args[0].eval(item).Exists()
	case "attribute_not_exists":
		return !call.args[0].eval(item).Exists()
	case "attribute_type":
		v := call.args[0].eval(item)
		return v.Exists() && v.Kind().String() == call.args[1].eval(item).Str()
	case "begins_with":
		a, b := call.args[0].eval(item), call.args[1].eval(item)
		return a.Kind() == b.Kind() && (a.Kind() == attr.KindS || a.Kind() == attr.KindB) &&
			strings.HasPrefix(a.Str(), b.Str())
	case "contains":
		return call.args[0].eval(item).ContainsMember(call.args[1].eval(item))
	}
	return false
}

// eval computes an operand in a condition; the zero Value means "missing".
func (o *operand) eval(item attr.Item) attr.Value {
	switch o.kind {
	case opPath:
		return o.path.resolved.Get(item)
	case opValue:
		return o.val
	case opCall:
		if o.fn == "size" {
			if n, ok := o.args[0].eval(item).Len(); ok {
				return attr.N(attr.NumberFromInt(int64(n)))
			}
		}
	}
	return attr.Value{}
}

// TopNames returns the top-level attribute names the condition reads, in
// order of appearance, without duplicates.
func (c *Condition) TopNames() []string {
	var names []string
	seen := map[string]bool{}
	var walkOp func(o *operand)
	walkOp = func(o *operand) {
		switch o.kind {
		case opPath:
			if n := o.path.resolved[0].Name; !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		case opCall:
			for _, a := range o.args {
				walkOp(a)
			}
		}
	}
	var walk func(n *node)
	walk = func(n *node) {
		if n.l != nil {
			walk(n.l)
		}
		if n.r != nil {
			walk(n.r)
		}
		for _, o := range n.args {
			walkOp(o)
		}
	}
	walk(c.root)
	return names
}
