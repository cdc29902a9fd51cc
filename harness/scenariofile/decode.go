package scenariofile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/checker"
)

// File is a decoded scenario file.
type File struct {
	Scenario harness.Scenario
	// Bridge is the bridge file the scenario names (`bridge:`), resolved
	// against the scenario file's directory; "" when it names none.
	Bridge string
}

// Load reads and decodes the scenario file at path; checks are the Go
// checks verdicts.checks may name (nil: none).
func Load(path string, checks Checks) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario file: %w", err)
	}
	f, err := Decode(path, b, checks)
	if err != nil {
		return nil, err
	}
	if f.Bridge != "" && !filepath.IsAbs(f.Bridge) {
		f.Bridge = filepath.Join(filepath.Dir(path), f.Bridge)
	}
	return f, nil
}

// Decode decodes a scenario file's content; name is how mistakes name the
// file. A relative `bridge:` path is returned as written.
func Decode(name string, data []byte, checks Checks) (*File, error) {
	d := &decoder{file: name}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, List{{File: name, Msg: "empty file: want a scenario (name: …, schedule: …)"}}
		}
		line, msg := syntaxError(err)
		return nil, List{{File: name, Line: line, Msg: msg}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, List{{File: name, Line: extra.Line, Msg: "more than one YAML document: one scenario per file"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	f := d.file1(root, checks)
	if len(d.errs) > 0 {
		// Fields are visited in no particular order; mistakes are listed
		// in the order of the file.
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		return nil, d.errs
	}
	return f, nil
}

// syntaxError splits a YAML syntax error ("yaml: line 3: …") into its
// line and message.
func syntaxError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
		_, rest, _ := strings.Cut(msg, ": ")
		return line, "YAML syntax: " + rest
	}
	return 0, "YAML syntax: " + msg
}

var scenarioFields = []string{
	"name", "title", "story", "guards", "items", "labels",
	"shards", "on_demand", "partitions", "instances", "processes", "settings", "dlq", "topic_config",
	"bridge", "requires", "records", "workload", "schedule", "replay", "verdicts", "timeout", "quiet",
}

// capabilities a scenario may require (bridge.Capability values).
var capabilities = []string{
	string(bridge.Processes), string(bridge.Pause), string(bridge.Headers), string(bridge.LeaseTable), string(bridge.Metrics),
	string(bridge.CutLeaseTable), string(bridge.StallSink), string(bridge.HandOffLog), string(bridge.ExactlyOnce),
}

func (d *decoder) file1(root *yaml.Node, checks Checks) *File {
	f, ok := d.fields(root, "", scenarioFields...)
	if !ok {
		return nil
	}
	out := &File{}
	sc := &out.Scenario
	if f["name"] == nil {
		d.fail(root, "name", "required")
	}
	for key, node := range f {
		switch key {
		case "name":
			sc.Name = d.str(node, key)
			if strings.ContainsAny(sc.Name, " \t/") {
				d.fail(node, key, "%q: a short name without spaces or slashes", sc.Name)
			}
		case "title":
			sc.Title = d.str(node, key)
		case "story":
			sc.Story = d.str(node, key)
		case "guards":
			sc.Guards = d.strs(node, key)
		case "items":
			sc.Items = d.ints(node, key)
		case "labels":
			sc.Labels = d.strs(node, key)
		case "shards":
			sc.Shards = d.count(node, key)
		case "on_demand":
			sc.OnDemand = d.boolean(node, key)
		case "partitions":
			sc.Partitions = int32(d.count(node, key))
		case "instances":
			sc.Instances = d.count(node, key)
		case "processes":
			sc.Processes = d.boolean(node, key)
		case "settings":
			sc.Settings = d.strMap(node, key)
		case "dlq":
			sc.DLQ = d.boolean(node, key)
		case "topic_config":
			sc.TopicConfig = d.strMap(node, key)
		case "bridge":
			out.Bridge = d.str(node, key)
		case "requires":
			for i, n := range d.list(node, key) {
				c := d.oneOf(n, index(key, i), "capability", capabilities...)
				if c != "" {
					sc.Requires = append(sc.Requires, bridge.Capability(c))
				}
			}
		case "records":
			sc.Records = int64(d.count(node, key))
		case "workload":
			sc.Workload = d.workload(node, key)
		case "schedule":
			for i, n := range d.list(node, key) {
				sc.Schedule = append(sc.Schedule, d.step(n, index(key, i)))
			}
		case "replay":
			sc.Replay = d.oneOf(node, key, "replay position", harness.ReplayTrimHorizon, harness.ReplayAtTimestamp)
		case "verdicts":
			sc.Verdicts = d.verdicts(node, key, checks)
		case "timeout":
			sc.Timeout = d.duration(node, key)
		case "quiet":
			sc.Quiet = d.duration(node, key)
		}
	}
	return out
}

// count reads an integer ≥ 0 (0: the harness's default).
func (d *decoder) count(n *yaml.Node, path string) int {
	v := d.integer(n, path)
	if v < 0 {
		d.fail(n, path, "want an integer ≥ 0 (0: the default), got %d", v)
	}
	return v
}

var verdictFields = []string{"delivery", "max_duplicates", "why", "checks", "broken"}

func (d *decoder) verdicts(n *yaml.Node, path string, checks Checks) harness.Verdicts {
	var v harness.Verdicts
	f, ok := d.fields(n, path, verdictFields...)
	if !ok {
		return v
	}
	if x := f["delivery"]; x != nil {
		v.Delivery = checker.Mode(d.oneOf(x, join(path, "delivery"), "delivery mode", string(checker.AtLeastOnce), string(checker.ExactlyOnce)))
	}
	if x := f["max_duplicates"]; x != nil {
		// "unbounded" reads better than the Go form's negative number.
		if r := resolve(x); r != nil && r.Kind == yaml.ScalarNode && r.Value == "unbounded" {
			v.MaxDuplicates = -1
		} else {
			v.MaxDuplicates = d.integer(x, join(path, "max_duplicates"))
		}
	}
	if x := f["why"]; x != nil {
		v.Why = d.str(x, join(path, "why"))
	}
	if v.MaxDuplicates != 0 && strings.TrimSpace(v.Why) == "" && f["max_duplicates"] != nil {
		d.fail(f["max_duplicates"], join(path, "why"), "required when duplicates are allowed: say what the bound rests on")
	}
	if x := f["checks"]; x != nil {
		for i, c := range d.list(x, join(path, "checks")) {
			if chk, ok := d.check(c, index(join(path, "checks"), i), checks); ok {
				v.Checks = append(v.Checks, chk)
			}
		}
	}
	if x := f["broken"]; x != nil {
		v.Broken = d.strs(x, join(path, "broken"))
	}
	return v
}
