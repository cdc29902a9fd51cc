package scenariofile

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/shardbridge/shardbridge/harness"
)

// step reads `{when: TRIGGER, action: ACTION}`.
func (d *decoder) step(n *yaml.Node, path string) harness.Step {
	f, ok := d.fields(n, path, "when", "action")
	if !ok {
		return harness.Step{}
	}
	for _, k := range []string{"when", "action"} {
		if f[k] == nil {
			d.fail(n, join(path, k), "required")
		}
	}
	var st harness.Step
	if f["when"] != nil {
		st.When = d.trigger(f["when"], join(path, "when"))
	}
	if f["action"] != nil {
		st.Do = d.action(f["action"], join(path, "action"))
	}
	return st
}

func (d *decoder) trigger(n *yaml.Node, path string) harness.Trigger {
	name, a, ok := d.choice(n, path, "trigger")
	if !ok {
		return harness.Trigger{}
	}
	i := slices.IndexFunc(triggers, func(t triggerWord) bool { return t.Name == name })
	if i < 0 {
		d.fail(keyNode(n), path, "unknown trigger %q (want %s)", name, namesOf("trigger"))
		return harness.Trigger{}
	}
	if !d.arity(triggers[i].Word, a, join(path, name)) {
		return harness.Trigger{}
	}
	return triggers[i].make(d, arg{a, join(path, name)})
}

func (d *decoder) action(n *yaml.Node, path string) harness.Action {
	name, a, ok := d.choice(n, path, "action")
	if !ok {
		return harness.Action{}
	}
	i := slices.IndexFunc(actions, func(w actionWord) bool { return w.Name == name })
	if i < 0 {
		d.fail(keyNode(n), path, "unknown action %q (want %s)", name, namesOf("action"))
		return harness.Action{}
	}
	if !d.arity(actions[i].Word, a, join(path, name)) {
		return harness.Action{}
	}
	return actions[i].make(d, arg{a, join(path, name)})
}

// arity checks that a word that takes no argument got none and one that
// takes one got it.
func (d *decoder) arity(w Word, a *yaml.Node, path string) bool {
	switch {
	case w.Usage == "" && !isNull(a):
		d.fail(a, path, "takes no argument, got %s", describe(a))
		return false
	case w.Usage != "" && isNull(a):
		d.fail(a, path, "needs an argument: %s: %s", w.Name, w.Usage)
		return false
	}
	return true
}

// namesOf lists the words of a kind, for "want …" in mistakes.
func namesOf(kind string) string {
	var s []string
	for _, w := range Vocabulary() {
		if w.Kind == kind {
			s = append(s, w.Name)
		}
	}
	return strings.Join(s, ", ")
}
