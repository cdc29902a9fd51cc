package expr

import (
	"fmt"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

// category groups semantic errors; DynamoDB reports the first error of the
// most important category, which depends on the kind of expression.
type category uint8

const (
	cParens category = iota
	cUnknownFunc
	cMisusedFunc
	cReserved
	cSection
	cUndefined
	cOverlap
	cConflict
	cOperand
	cArity
	cDistinct
	cType
	numCategories
)

var (
	conditionOrder  = []category{cParens, cUnknownFunc, cMisusedFunc, cReserved, cUndefined, cArity, cDistinct, cType}
	updateOrder     = []category{cReserved, cUnknownFunc, cSection, cUndefined, cOverlap, cConflict, cOperand, cArity, cType}
	projectionOrder = []category{cReserved, cUndefined, cOverlap, cConflict}
)

type checker struct {
	label string
	env   *Env
	errs  [numCategories]string
}

func (c *checker) add(cat category, format string, args ...any) {
	if c.errs[cat] == "" {
		c.errs[cat] = fmt.Sprintf(format, args...)
	}
}

func (c *checker) result(order []category) error {
	for _, cat := range order {
		if c.errs[cat] != "" {
			return errorf("Invalid %s: %s", c.label, c.errs[cat])
		}
	}
	return nil
}

func (c *checker) resolvePath(rp *rawPath) Path {
	path := make(Path, len(rp.elems))
	for i, e := range rp.elems {
		switch {
		case e.isIndex:
			path[i] = PathElem{Index: e.index, IsIndex: true}
		case e.ref:
			name, ok := c.env.names[e.text]
			if !ok {
				c.add(cUndefined, "An expression attribute name used in the document path is not defined; attribute name: %s", e.text)
			} else {
				c.env.usedNames[e.text] = true
			}
			path[i] = PathElem{Name: name}
		default:
			if IsReserved(e.text) {
				c.add(cReserved, "Attribute name is a reserved keyword; reserved keyword: %s", e.text)
			}
			path[i] = PathElem{Name: e.text}
		}
	}
	rp.resolved = path
	return path
}

func (c *checker) resolveValue(o *operand) {
	v, ok := c.env.values[o.ref]
	if !ok {
		c.add(cUndefined, "An expression attribute value used in expression is not defined; attribute value: %s", o.ref)
		return
	}
	c.env.usedValues[o.ref] = true
	o.val = v
}

// constType is the statically known type of a constant operand, or
// KindInvalid when it depends on the item.
func constType(o *operand) attr.Kind {
	if o.kind == opValue {
		return o.val.Kind()
	}
	return attr.KindInvalid
}

// ---- conditions ----

var conditionArity = map[string]int{
	"attribute_exists":     1,
	"attribute_not_exists": 1,
	"attribute_type":       2,
	"begins_with":          2,
	"contains":             2,
	"size":                 1,
}

const validTypeNames = "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}"

func (c *checker) checkNode(n *node) {
	if n.redundant {
		c.add(cParens, "The expression has redundant parentheses;")
	}
	switch n.kind {
	case nAnd, nOr:
		c.checkNode(n.l)
		c.checkNode(n.r)
	case nNot:
		c.checkNode(n.l)
	case nCmp:
		c.checkOperands(n.args)
		c.checkDistinct(n.op, n.args)
		if n.op != "=" && n.op != "<>" {
			c.checkOrderable(n.op, n.args)
		}
	case nBetween:
		c.checkOperands(n.args)
		c.checkOrderable("BETWEEN", n.args)
		lo, hi := n.args[1], n.args[2]
		if lt, ht := constType(lo), constType(hi); lt != attr.KindInvalid && ht != attr.KindInvalid {
			if lt != ht {
				c.add(cType, "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: %s, upper bound operand: AttributeValue: %s", lo.val, hi.val)
			} else if cmp, ok := attr.Compare(lo.val, hi.val); ok && cmp > 0 {
				c.add(cType, "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: %s, upper bound operand: AttributeValue: %s", lo.val, hi.val)
			}
		}
	case nIn:
		c.checkOperands(n.args)
		if len(n.args)-1 > maxINOperands {
			c.add(cArity, "The IN operator is provided with too many operands; number of operands: %d", len(n.args)-1)
		}
	case nCall:
		call := n.args[0]
		if call.parens >= 2 {
			c.add(cParens, "The expression has redundant parentheses;")
		}
		if call.fn == "size" {
			c.add(cMisusedFunc, "The function is not allowed to be used this way in an expression; function: %s", call.fn)
		}
		c.checkCall(call)
	}
}

// checkOperands checks operands in value position, where only size() may
// appear among the functions.
func (c *checker) checkOperands(ops []*operand) {
	for _, o := range ops {
		c.checkOperand(o)
	}
}

func (c *checker) checkOperand(o *operand) {
	if o.parens >= 2 {
		c.add(cParens, "The expression has redundant parentheses;")
	}
	switch o.kind {
	case opPath:
		c.resolvePath(o.path)
	case opValue:
		c.resolveValue(o)
	case opCall:
		if _, known := conditionArity[o.fn]; known && o.fn != "size" {
			c.add(cMisusedFunc, "The function is not allowed to be used this way in an expression; function: %s", o.fn)
		}
		c.checkCall(o)
	}
}

func (c *checker) checkCall(call *operand) {
	want, known := conditionArity[call.fn]
	if !known {
		c.add(cUnknownFunc, "Invalid function name; function: %s", call.fn)
	}
	c.checkOperands(call.args)
	if !known {
		return
	}
	if len(call.args) != want {
		c.add(cArity, "Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d", call.fn, len(call.args))
		return
	}
	c.checkDistinct(call.fn, call.args)
	switch call.fn {
	case "attribute_exists", "attribute_not_exists":
		if call.args[0].kind != opPath {
			c.add(cType, "Operator or function requires a document path; operator or function: %s", call.fn)
		}
	case "attribute_type":
		if call.args[0].kind != opPath {
			c.add(cType, "Operator or function requires a document path; operator or function: %s", call.fn)
			return
		}
		t := call.args[1]
		switch k := constType(t); {
		case k == attr.KindInvalid && t.kind == opValue:
			// undefined placeholder, already reported
		case k != attr.KindS:
			name := k.String()
			if k == attr.KindInvalid {
				name = "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}"
			}
			c.add(cType, "Incorrect operand type for operator or function; operator or function: %s, operand type: %s", call.fn, name)
		default:
			if _, ok := attr.KindFromName(t.val.Str()); !ok {
				c.add(cType, "Invalid attribute type name found; type: %s, valid types: %s", t.val.Str(), validTypeNames)
			}
		}
	case "begins_with":
		for _, a := range call.args {
			if k := constType(a); k != attr.KindInvalid && k != attr.KindS && k != attr.KindB {
				c.add(cType, "Incorrect operand type for operator or function; operator or function: %s, operand type: %s", call.fn, k)
			}
		}
	case "size":
		switch k := constType(call.args[0]); k {
		case attr.KindN, attr.KindBOOL, attr.KindNULL:
			c.add(cType, "Incorrect operand type for operator or function; operator or function: %s, operand type: %s", call.fn, k)
		}
	}
}

// checkDistinct rejects "a = a" and friends: DynamoDB wants the first
// operand of a binary operator or function distinct from the second.
func (c *checker) checkDistinct(op string, args []*operand) {
	if len(args) != 2 || args[0].kind != opPath || args[1].kind != opPath {
		return
	}
	if p := args[0].path.resolved; p.equal(args[1].path.resolved) {
		c.add(cDistinct, "The first operand must be distinct from the remaining operands for this operator or function; operator: %s, first operand: %s", op, p)
	}
}

// checkOrderable rejects constants of types that <, <=, >, >= and BETWEEN
// cannot order (only S, N and B are ordered).
func (c *checker) checkOrderable(op string, args []*operand) {
	for _, a := range args {
		switch k := constType(a); k {
		case attr.KindInvalid, attr.KindS, attr.KindN, attr.KindB:
		default:
			c.add(cType, "Incorrect operand type for operator or function; operator or function: %s, operand type: %s", op, k)
		}
	}
}

// ---- paths shared by updates and projections ----

// checkPaths rejects overlapping paths (one a prefix of the other, or equal)
// and conflicting ones (a map key and a list index at the same step).
func (c *checker) checkPaths(paths []Path) {
	for j := range paths {
		for i := 0; i < j; i++ {
			p1, p2 := paths[i], paths[j]
			related := true
			for k := 0; k < len(p1) && k < len(p2); k++ {
				if p1[k].IsIndex != p2[k].IsIndex {
					c.add(cConflict, "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: %s, path two: %s", p1, p2)
					related = false
					break
				}
				if p1[k] != p2[k] {
					related = false
					break
				}
			}
			if related {
				c.add(cOverlap, "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: %s, path two: %s", p1, p2)
			}
		}
	}
}

// ---- updates ----

var updateArity = map[string]int{"if_not_exists": 2, "list_append": 2}

var updateTypeNames = map[attr.Kind]string{
	attr.KindS: "STRING", attr.KindN: "NUMBER", attr.KindB: "BINARY", attr.KindNULL: "NULL",
	attr.KindBOOL: "BOOLEAN", attr.KindL: "LIST", attr.KindM: "MAP",
}

func (c *checker) checkUpdate(actions []action, sections []actionKind) []Path {
	seen := map[actionKind]bool{}
	for _, s := range sections {
		if seen[s] {
			c.add(cSection, "The \"%s\" section can only be used once in an update expression;", actionNames[s])
		}
		seen[s] = true
	}
	paths := make([]Path, len(actions))
	for i := range actions {
		a := &actions[i]
		paths[i] = c.resolvePath(a.path)
		switch a.kind {
		case aSet:
			c.checkUpdateOperand(a.a)
			if a.b != nil {
				c.checkUpdateOperand(a.b)
				for _, o := range []*operand{a.a, a.b} {
					if k := constType(o); k != attr.KindInvalid && k != attr.KindN {
						c.add(cType, "Incorrect operand type for operator or function; operator or function: %c, operand type: %s", a.op, k)
					}
				}
			}
		case aAdd, aDelete:
			c.resolveValue(a.a)
			k := constType(a.a)
			if name, scalar := updateTypeNames[k]; scalar && !(a.kind == aAdd && k == attr.KindN) {
				c.add(cOperand, "Incorrect operand type for operator or function; operator: %s, operand type: %s", actionNames[a.kind], name)
			}
		}
	}
	c.checkPaths(paths)
	return paths
}

func (c *checker) checkUpdateOperand(o *operand) {
	switch o.kind {
	case opPath:
		c.resolvePath(o.path)
	case opValue:
		c.resolveValue(o)
	case opCall:
		want, known := updateArity[o.fn]
		if !known {
			c.add(cUnknownFunc, "Invalid function name; function: %s", o.fn)
		}
		for _, a := range o.args {
			c.checkUpdateOperand(a)
		}
		if !known {
			return
		}
		if len(o.args) != want {
			c.add(cArity, "Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d", o.fn, len(o.args))
			return
		}
		switch o.fn {
		case "if_not_exists":
			if o.args[0].kind != opPath {
				c.add(cType, "Operator or function requires a document path; operator or function: %s", o.fn)
			}
		case "list_append":
			for _, a := range o.args {
				if k := constType(a); k != attr.KindInvalid && k != attr.KindL {
					c.add(cType, "Incorrect operand type for operator or function; operator or function: %s, operand type: %s", o.fn, k)
				}
			}
		}
	}
}
