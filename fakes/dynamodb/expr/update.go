package expr

import (
	"maps"
	"slices"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

// Runtime update errors, worded as DynamoDB words them.
const (
	msgMissingOperand = "The provided expression refers to an attribute that does not exist in the item"
	msgOperandType    = "An operand in the update expression has an incorrect data type"
	msgInvalidPath    = "The document path provided in the update expression is invalid for update"
)

// Update is a parsed UpdateExpression.
type Update struct {
	actions []action
	targets []Path
}

// ParseUpdate parses and checks an UpdateExpression.
func ParseUpdate(src string, env *Env) (*Update, error) {
	const label = "UpdateExpression"
	if err := precheck(label, src); err != nil {
		return nil, err
	}
	if env == nil {
		env = NewEnv(nil, nil)
	}
	p := newParser(src, label, gUpdate)
	actions, sections, ok := p.parseUpdate()
	if !ok {
		return nil, p.syntaxError()
	}
	c := &checker{label: label, env: env}
	targets := c.checkUpdate(actions, sections)
	if err := c.result(updateOrder); err != nil {
		return nil, err
	}
	return &Update{actions: actions, targets: targets}, nil
}

// Targets returns the document paths the update writes or removes, in
// expression order (used for key-attribute checks and UPDATED_OLD/NEW).
func (u *Update) Targets() []Path { return u.targets }

// Apply returns the item that results from applying the update to old (nil
// when the item does not exist yet). old is not modified. Every value on the
// right of SET is computed from old before anything is written, as in
// DynamoDB; REMOVEs run last, highest list index first, so indexes in one
// expression all refer to the original list.
func (u *Update) Apply(old attr.Item) (attr.Item, error) {
	vals := make([]attr.Value, len(u.actions))
	for i, a := range u.actions {
		if a.kind != aSet {
			continue
		}
		v, err := evalSet(a, old)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	item := old.Clone()
	var removes []Path
	for i, a := range u.actions {
		path := u.targets[i]
		switch a.kind {
		case aSet:
			if err := setPath(item, path, vals[i]); err != nil {
				return nil, err
			}
		case aRemove:
			removes = append(removes, path)
		case aAdd:
			cur := path.Get(item)
			add := a.a.val
			var next attr.Value
			switch {
			case !cur.Exists():
				next = add
			case cur.Kind() != add.Kind():
				return nil, errorf(msgOperandType)
			case cur.Kind() == attr.KindN:
				n, err := cur.Num().Add(add.Num())
				if err != nil {
					return nil, err
				}
				next = attr.N(n)
			default:
				next = attr.SetUnion(cur, add)
			}
			if err := setPath(item, path, next); err != nil {
				return nil, err
			}
		case aDelete:
			cur := path.Get(item)
			del := a.a.val
			if !cur.Exists() {
				if err := checkParent(item, path); err != nil {
					return nil, err
				}
				continue
			}
			if cur.Kind() != del.Kind() {
				return nil, errorf(msgOperandType)
			}
			next := attr.SetDifference(cur, del)
			var err error
			if n, _ := next.Len(); n == 0 {
				err = removePath(item, path)
			} else {
				err = setPath(item, path, next)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(removes, comparePathsDesc)
	for _, p := range removes {
		if err := removePath(item, p); err != nil {
			return nil, err
		}
	}
	return item, nil
}

// comparePathsDesc orders paths so that higher list indexes come first.
func comparePathsDesc(a, b Path) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		switch {
		case x.IsIndex && y.IsIndex && x.Index != y.Index:
			if x.Index > y.Index {
				return -1
			}
			return 1
		case !x.IsIndex && !y.IsIndex && x.Name != y.Name:
			if x.Name > y.Name {
				return -1
			}
			return 1
		}
	}
	return len(b) - len(a)
}

func evalSet(a action, old attr.Item) (attr.Value, error) {
	x, err := evalUpdateOperand(a.a, old)
	if err != nil || a.op == 0 {
		return x, err
	}
	y, err := evalUpdateOperand(a.b, old)
	if err != nil {
		return attr.Value{}, err
	}
	if x.Kind() != attr.KindN || y.Kind() != attr.KindN {
		return attr.Value{}, errorf(msgOperandType)
	}
	var n attr.Number
	if a.op == '+' {
		n, err = x.Num().Add(y.Num())
	} else {
		n, err = x.Num().Sub(y.Num())
	}
	if err != nil {
		return attr.Value{}, err
	}
	return attr.N(n), nil
}

func evalUpdateOperand(o *operand, old attr.Item) (attr.Value, error) {
	switch o.kind {
	case opValue:
		return o.val, nil
	case opPath:
		v := o.path.resolved.Get(old)
		if !v.Exists() {
			return attr.Value{}, errorf(msgMissingOperand)
		}
		return v, nil
	}
	switch o.fn {
	case "if_not_exists":
		if v := o.args[0].path.resolved.Get(old); v.Exists() {
			return v, nil
		}
		return evalUpdateOperand(o.args[1], old)
	case "list_append":
		x, err := evalUpdateOperand(o.args[0], old)
		if err != nil {
			return attr.Value{}, err
		}
		y, err := evalUpdateOperand(o.args[1], old)
		if err != nil {
			return attr.Value{}, err
		}
		if x.Kind() != attr.KindL || y.Kind() != attr.KindL {
			return attr.Value{}, errorf(msgOperandType)
		}
		l := make([]attr.Value, 0, len(x.List())+len(y.List()))
		l = append(append(l, x.List()...), y.List()...)
		return attr.L(l), nil
	}
	return attr.Value{}, errorf("Invalid function name; function: %s", o.fn)
}

// checkParent fails when the parent of a nested path does not exist.
func checkParent(item attr.Item, path Path) error {
	if len(path) > 1 && !path[:len(path)-1].Get(item).Exists() {
		return errorf(msgInvalidPath)
	}
	return nil
}

// setPath writes v at path, copying every container on the way (stored
// values are shared and immutable). The parent must exist with the right
// type; an index past the end of a list appends.
func setPath(item attr.Item, path Path, v attr.Value) error {
	name := path[0].Name
	if len(path) == 1 {
		item[name] = v
		return nil
	}
	cur, ok := item[name]
	if !ok {
		return errorf(msgInvalidPath)
	}
	nv, err := setIn(cur, path[1:], v)
	if err != nil {
		return err
	}
	item[name] = nv
	return nil
}

func setIn(cur attr.Value, rest Path, v attr.Value) (attr.Value, error) {
	e := rest[0]
	if e.IsIndex {
		if cur.Kind() != attr.KindL {
			return attr.Value{}, errorf(msgInvalidPath)
		}
		l := slices.Clone(cur.List())
		switch {
		case e.Index < len(l) && len(rest) == 1:
			l[e.Index] = v
		case e.Index < len(l):
			c, err := setIn(l[e.Index], rest[1:], v)
			if err != nil {
				return attr.Value{}, err
			}
			l[e.Index] = c
		case len(rest) == 1:
			l = append(l, v)
		default:
			return attr.Value{}, errorf(msgInvalidPath)
		}
		return attr.L(l), nil
	}
	if cur.Kind() != attr.KindM {
		return attr.Value{}, errorf(msgInvalidPath)
	}
	m := maps.Clone(cur.Map())
	if len(rest) == 1 {
		m[e.Name] = v
		return attr.M(m), nil
	}
	child, ok := m[e.Name]
	if !ok {
		return attr.Value{}, errorf(msgInvalidPath)
	}
	c, err := setIn(child, rest[1:], v)
	if err != nil {
		return attr.Value{}, err
	}
	m[e.Name] = c
	return attr.M(m), nil
}

// removePath deletes the value at path. Removing something absent is a
// no-op, but the parent of a nested path must exist.
func removePath(item attr.Item, path Path) error {
	name := path[0].Name
	if len(path) == 1 {
		delete(item, name)
		return nil
	}
	cur, ok := item[name]
	if !ok {
		return errorf(msgInvalidPath)
	}
	nv, err := removeIn(cur, path[1:])
	if err != nil {
		return err
	}
	item[name] = nv
	return nil
}

func removeIn(cur attr.Value, rest Path) (attr.Value, error) {
	e := rest[0]
	if e.IsIndex {
		if cur.Kind() != attr.KindL {
			return attr.Value{}, errorf(msgInvalidPath)
		}
		l := cur.List()
		if e.Index >= len(l) {
			if len(rest) == 1 {
				return cur, nil
			}
			return attr.Value{}, errorf(msgInvalidPath)
		}
		if len(rest) == 1 {
			return attr.L(slices.Delete(slices.Clone(l), e.Index, e.Index+1)), nil
		}
		c, err := removeIn(l[e.Index], rest[1:])
		if err != nil {
			return attr.Value{}, err
		}
		nl := slices.Clone(l)
		nl[e.Index] = c
		return attr.L(nl), nil
	}
	if cur.Kind() != attr.KindM {
		return attr.Value{}, errorf(msgInvalidPath)
	}
	child, ok := cur.Map()[e.Name]
	if !ok {
		if len(rest) == 1 {
			return cur, nil
		}
		return attr.Value{}, errorf(msgInvalidPath)
	}
	m := maps.Clone(cur.Map())
	if len(rest) == 1 {
		delete(m, e.Name)
		return attr.M(m), nil
	}
	c, err := removeIn(child, rest[1:])
	if err != nil {
		return attr.Value{}, err
	}
	m[e.Name] = c
	return attr.M(m), nil
}
