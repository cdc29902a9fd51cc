package expr

import (
	"sort"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

// Projection is a parsed ProjectionExpression.
type Projection struct{ paths []Path }

// ParseProjection parses and checks a ProjectionExpression.
func ParseProjection(src string, env *Env) (*Projection, error) {
	const label = "ProjectionExpression"
	if err := precheck(label, src); err != nil {
		return nil, err
	}
	if env == nil {
		env = NewEnv(nil, nil)
	}
	p := newParser(src, label, gProjection)
	raws, ok := p.parseProjection()
	if !ok {
		return nil, p.syntaxError()
	}
	c := &checker{label: label, env: env}
	paths := make([]Path, len(raws))
	for i, rp := range raws {
		paths[i] = c.resolvePath(rp)
	}
	c.checkPaths(paths)
	if err := c.result(projectionOrder); err != nil {
		return nil, err
	}
	return &Projection{paths: paths}, nil
}

// NewProjection projects onto the given top-level attribute names (the
// legacy AttributesToGet parameter).
func NewProjection(names []string) *Projection {
	paths := make([]Path, len(names))
	for i, n := range names {
		paths[i] = Path{{Name: n}}
	}
	return &Projection{paths: paths}
}

// Paths returns the projected paths.
func (p *Projection) Paths() []Path { return p.paths }

// Apply returns a new item holding only the projected paths that exist in
// item. List elements keep their order and are packed together, as in
// DynamoDB: projecting a[1], a[3] yields a two-element list.
func (p *Projection) Apply(item attr.Item) attr.Item { return Project(item, p.paths) }

// projNode is the union of the projected paths as a tree.
type projNode struct {
	leaf    bool
	names   map[string]*projNode
	indexes map[int]*projNode
}

func (n *projNode) child(e PathElem) *projNode {
	if e.IsIndex {
		if n.indexes == nil {
			n.indexes = map[int]*projNode{}
		}
		if n.indexes[e.Index] == nil {
			n.indexes[e.Index] = &projNode{}
		}
		return n.indexes[e.Index]
	}
	if n.names == nil {
		n.names = map[string]*projNode{}
	}
	if n.names[e.Name] == nil {
		n.names[e.Name] = &projNode{}
	}
	return n.names[e.Name]
}

// Project returns the parts of item addressed by paths (see Projection.Apply).
func Project(item attr.Item, paths []Path) attr.Item {
	root := &projNode{}
	for _, p := range paths {
		n := root
		for _, e := range p {
			n = n.child(e)
		}
		n.leaf = true
	}
	out := attr.Item{}
	for name, child := range root.names {
		v, ok := item[name]
		if !ok {
			continue
		}
		if pv, ok := child.project(v); ok {
			out[name] = pv
		}
	}
	return out
}

func (n *projNode) project(v attr.Value) (attr.Value, bool) {
	if n.leaf {
		return v, true
	}
	if len(n.names) > 0 {
		if v.Kind() != attr.KindM {
			return attr.Value{}, false
		}
		m := map[string]attr.Value{}
		for name, child := range n.names {
			if cv, ok := v.Map()[name]; ok {
				if pv, ok := child.project(cv); ok {
					m[name] = pv
				}
			}
		}
		return attr.M(m), len(m) > 0
	}
	if v.Kind() != attr.KindL {
		return attr.Value{}, false
	}
	idx := make([]int, 0, len(n.indexes))
	for i := range n.indexes {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var l []attr.Value
	for _, i := range idx {
		if i < len(v.List()) {
			if pv, ok := n.indexes[i].project(v.List()[i]); ok {
				l = append(l, pv)
			}
		}
	}
	return attr.L(l), len(l) > 0
}
