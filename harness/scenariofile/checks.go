package scenariofile

import (
	"errors"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/shardbridge/shardbridge/harness"
)

// Checks are the Go verdict checks a scenario file may name in
// verdicts.checks, by their YAML name (children_delivered). Package
// scenarios has the catalogue's (scenarios.Checks).
type Checks map[string]CheckDef

// CheckDef makes one named check from its arguments as written.
type CheckDef struct {
	Usage string // its argument, "" when it takes none: "{reshards: N, parents: N}"
	Doc   string // what it checks, one line
	Make  func(a Args) (harness.Check, error)
}

// Args is a check's argument as written in the file.
type Args struct {
	d    *decoder
	n    *yaml.Node
	path string
}

// Ints reads a mapping of exactly the named integer fields.
func (a Args) Ints(keys ...string) (map[string]int, error) {
	before := len(a.d.errs)
	f := a.d.need(arg{a.n, a.path}, keys...)
	out := map[string]int{}
	for _, k := range keys {
		if f[k] != nil {
			out[k] = a.d.integer(f[k], join(a.path, k))
		}
	}
	return out, a.failed(before)
}

// Strings reads a non-empty list of strings.
func (a Args) Strings() ([]string, error) {
	before := len(a.d.errs)
	s := a.d.strs(a.n, a.path)
	if len(a.d.errs) == before && len(s) == 0 {
		a.d.fail(a.n, a.path, "want at least one")
	}
	return s, a.failed(before)
}

// Errorf is a mistake in the argument, at its line.
func (a Args) Errorf(format string, args ...any) error {
	return &Error{File: a.d.file, Line: lineOf(a.n), Field: a.path, Msg: fmt.Sprintf(format, args...)}
}

// failed reports the mistakes recorded since before as one error (they
// are in the decoder's list already).
func (a Args) failed(before int) error {
	if len(a.d.errs) > before {
		return errAlreadyRecorded
	}
	return nil
}

var errAlreadyRecorded = errors.New("mistakes recorded")

func lineOf(n *yaml.Node) int {
	if n = resolve(n); n != nil {
		return n.Line
	}
	return 0
}

// check reads one entry of verdicts.checks: a bare name, or `name: ARG`.
func (d *decoder) check(n *yaml.Node, path string, reg Checks) (harness.Check, bool) {
	name, a, ok := d.choice(n, path, "check")
	if !ok {
		return harness.Check{}, false
	}
	def, ok := reg[name]
	if !ok {
		known := make([]string, 0, len(reg))
		for k := range reg {
			known = append(known, k)
		}
		slices.Sort(known)
		d.fail(keyNode(n), path, "unknown check %q (want %s)", name, listOf(known))
		return harness.Check{}, false
	}
	if !d.arity(Word{Name: name, Usage: def.Usage}, a, join(path, name)) {
		return harness.Check{}, false
	}
	c, err := def.Make(Args{d: d, n: a, path: join(path, name)})
	var e *Error
	switch {
	case err == nil:
		return c, true
	case errors.As(err, &e):
		d.errs = append(d.errs, e)
	case !errors.Is(err, errAlreadyRecorded):
		d.fail(a, join(path, name), "%v", err)
	}
	return harness.Check{}, false
}
