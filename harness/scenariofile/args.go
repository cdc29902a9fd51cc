package scenariofile

import (
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// need reads a word's mapping argument whose every field is required.
func (d *decoder) need(a arg, keys ...string) map[string]*yaml.Node {
	f, ok := d.fields(a.n, a.path, keys...)
	for _, k := range keys {
		if f[k] == nil {
			if ok {
				d.fail(a.n, join(a.path, k), "required")
			}
			f[k] = absent
		}
	}
	return f
}

// positive reads an integer ≥ 1.
func (d *decoder) positive(a arg) int {
	if a.n == absent {
		return 1
	}
	v := d.integer(a.n, a.path)
	if v < 1 {
		d.fail(a.n, a.path, "want an integer ≥ 1, got %d", v)
		return 1
	}
	return v
}

func (d *decoder) probability(n *yaml.Node, path string) float64 {
	if n == nil || n == absent {
		return 0
	}
	p := d.number(n, path)
	if p < 0 || p > 1 {
		d.fail(n, path, "want a probability in [0, 1], got %v", p)
	}
	return p
}

func (d *decoder) optDuration(n *yaml.Node, path string) time.Duration {
	if n == nil {
		return 0
	}
	return d.duration(n, path)
}

func listOf(s []string) string { return strings.Join(s, ", ") }
