package expr

import (
	"strconv"
	"strings"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

// PathElem is one step of a document path: a map key or a list index.
type PathElem struct {
	Name    string
	Index   int
	IsIndex bool
}

// Path is a resolved document path such as a.b[2].c (placeholders replaced).
type Path []PathElem

// String renders the path the way DynamoDB prints it in messages: [a, b, [2]].
func (p Path) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range p {
		if i > 0 {
			b.WriteString(", ")
		}
		if e.IsIndex {
			b.WriteString("[" + strconv.Itoa(e.Index) + "]")
		} else {
			b.WriteString(e.Name)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// Get returns the value at p in item, or the zero (absent) Value when any
// step is missing or has the wrong type.
func (p Path) Get(item attr.Item) attr.Value {
	if len(p) == 0 || p[0].IsIndex {
		return attr.Value{}
	}
	v, ok := item[p[0].Name]
	if !ok {
		return attr.Value{}
	}
	for _, e := range p[1:] {
		if e.IsIndex {
			if v.Kind() != attr.KindL || e.Index >= len(v.List()) {
				return attr.Value{}
			}
			v = v.List()[e.Index]
			continue
		}
		if v.Kind() != attr.KindM {
			return attr.Value{}
		}
		if v, ok = v.Map()[e.Name]; !ok {
			return attr.Value{}
		}
	}
	return v
}

func (p Path) equal(q Path) bool {
	if len(p) != len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// rawElem is a path element as written, before placeholders are resolved.
type rawElem struct {
	text    string // identifier or #placeholder
	ref     bool   // text is a #placeholder
	index   int
	isIndex bool
}

type rawPath struct {
	elems    []rawElem
	resolved Path
}

type opKind uint8

const (
	opPath opKind = iota
	opValue
	opCall
)

// operand is a value-producing term: a path, a :placeholder or a function call.
type operand struct {
	kind   opKind
	path   *rawPath
	ref    string     // opValue: the :placeholder
	val    attr.Value // opValue: resolved
	fn     string     // opCall
	args   []*operand
	parens int // pairs of parentheses written directly around it
}

type nodeKind uint8

const (
	nAnd nodeKind = iota
	nOr
	nNot
	nCmp
	nBetween
	nIn
	nCall
)

// node is a condition: a boolean combination, comparison or function call.
type node struct {
	kind      nodeKind
	op        string // nCmp comparator
	l, r      *node
	args      []*operand // nCmp: 2; nBetween: x, lo, hi; nIn: x, list...; nCall: the call
	grouped   bool       // written inside parentheses
	redundant bool       // written inside two or more pairs of parentheses
}

type actionKind uint8

const (
	aSet actionKind = iota
	aRemove
	aAdd
	aDelete
)

var actionNames = [...]string{"SET", "REMOVE", "ADD", "DELETE"}

// action is one SET/REMOVE/ADD/DELETE item of an update expression.
type action struct {
	kind actionKind
	path *rawPath
	a, b *operand // SET: a [op b]; ADD/DELETE: a is the :value
	op   byte     // SET arithmetic: '+', '-' or 0
}
