package scenariofile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks the YAML node tree itself, rather than decoding into
// tagged structs, so that every mistake carries its line and field path.
// Each method records a mistake and returns a zero value; decoding goes on
// to find the others.
type decoder struct {
	file string
	errs List
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: path, Msg: fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// resolve follows YAML aliases (*anchor) to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// absent stands for a required field that is missing: need reports it
// once, and reading it reports nothing more.
var absent = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// fields returns a mapping's values by key; keys not in known are mistakes.
func (d *decoder) fields(n *yaml.Node, path string, known ...string) (map[string]*yaml.Node, bool) {
	if n == absent {
		return map[string]*yaml.Node{}, false
	}
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping (field: value), got %s", describe(n))
		return map[string]*yaml.Node{}, false
	}
	m := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Tag == "!!merge":
			d.fail(k, path, "merge keys (<<) are not supported")
		case !slices.Contains(known, k.Value):
			d.fail(k, join(path, k.Value), "unknown field (known: %s)", strings.Join(known, ", "))
		case m[k.Value] != nil:
			d.fail(k, join(path, k.Value), "given twice")
		default:
			m[k.Value] = v
		}
	}
	return m, true
}

// describe names what a node is, for "want X, got Y".
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null":
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

func (d *decoder) scalar(n *yaml.Node, path, want string) (*yaml.Node, bool) {
	if n == absent {
		return nil, false
	}
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.fail(n, path, "want %s, got %s", want, describe(n))
		return nil, false
	}
	return n, true
}

// str accepts any scalar: `30` and `"30"` are the same setting.
func (d *decoder) str(n *yaml.Node, path string) string {
	s, ok := d.scalar(n, path, "a string")
	if !ok {
		return ""
	}
	return s.Value
}

func (d *decoder) integer(n *yaml.Node, path string) int {
	s, ok := d.scalar(n, path, "an integer")
	if !ok {
		return 0
	}
	var v int
	if s.Tag != "!!int" || s.Decode(&v) != nil {
		d.fail(s, path, "want an integer, got %s", describe(s))
	}
	return v
}

func (d *decoder) number(n *yaml.Node, path string) float64 {
	s, ok := d.scalar(n, path, "a number")
	if !ok {
		return 0
	}
	var v float64
	if (s.Tag != "!!int" && s.Tag != "!!float") || s.Decode(&v) != nil {
		d.fail(s, path, "want a number, got %s", describe(s))
	}
	return v
}

func (d *decoder) boolean(n *yaml.Node, path string) bool {
	s, ok := d.scalar(n, path, "true or false")
	if !ok {
		return false
	}
	var v bool
	if s.Tag != "!!bool" || s.Decode(&v) != nil {
		d.fail(s, path, "want true or false, got %s", describe(s))
	}
	return v
}

// duration reads a Go duration (500ms, 3s, 2m30s); a bare 0 is none.
func (d *decoder) duration(n *yaml.Node, path string) time.Duration {
	s, ok := d.scalar(n, path, "a duration")
	if !ok {
		return 0
	}
	if s.Value == "0" {
		return 0
	}
	v, err := time.ParseDuration(s.Value)
	if err != nil {
		d.fail(s, path, "bad duration %q (want e.g. 500ms, 3s, 1m30s)", s.Value)
		return 0
	}
	if v < 0 {
		d.fail(s, path, "negative duration %s", v)
	}
	return v
}

// oneOf reads a string that must be one of want.
func (d *decoder) oneOf(n *yaml.Node, path, what string, want ...string) string {
	s := d.str(n, path)
	if s != "" && !slices.Contains(want, s) {
		d.fail(n, path, "unknown %s %q (want %s)", what, s, strings.Join(want, ", "))
		return ""
	}
	return s
}

func (d *decoder) list(n *yaml.Node, path string) []*yaml.Node {
	if n == absent {
		return nil
	}
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, got %s", describe(n))
		return nil
	}
	return n.Content
}

func (d *decoder) strs(n *yaml.Node, path string) []string {
	var out []string
	for i, e := range d.list(n, path) {
		out = append(out, d.str(e, index(path, i)))
	}
	return out
}

func (d *decoder) ints(n *yaml.Node, path string) []int {
	var out []int
	for i, e := range d.list(n, path) {
		out = append(out, d.integer(e, index(path, i)))
	}
	return out
}

// strMap reads a mapping of strings to strings (settings, topic configs).
func (d *decoder) strMap(n *yaml.Node, path string) map[string]string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping (name: value), got %s", describe(n))
		return nil
	}
	m := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if _, dup := m[k.Value]; dup {
			d.fail(k, join(path, k.Value), "given twice")
		}
		m[k.Value] = d.str(n.Content[i+1], join(path, k.Value))
	}
	return m
}

// choice reads the one-key form `name: argument`, or a bare `name` (the
// argument then is nil): how triggers, actions, selectors and checks are
// written.
func (d *decoder) choice(n *yaml.Node, path, what string) (name string, arg *yaml.Node, ok bool) {
	if n == absent {
		return "", nil, false
	}
	n = resolve(n)
	switch {
	case n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		// A bare name: its missing argument is a null at the name's line.
		return n.Value, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}, true
	case n != nil && n.Kind == yaml.MappingNode && len(n.Content) == 2:
		return n.Content[0].Value, n.Content[1], true
	case n != nil && n.Kind == yaml.MappingNode:
		d.fail(n, path, "want exactly one %s (name: argument), got %d", what, len(n.Content)/2)
	default:
		d.fail(n, path, "want a %s (name, or name: argument), got %s", what, describe(n))
	}
	return "", nil, false
}

// keyNode is a one-key mapping's key, where mistakes about the name are.
func keyNode(n *yaml.Node) *yaml.Node {
	n = resolve(n)
	if n != nil && n.Kind == yaml.MappingNode && len(n.Content) > 0 {
		return n.Content[0]
	}
	return n
}
