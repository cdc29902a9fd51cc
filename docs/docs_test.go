// Package docs_test checks that the user documentation in docs/ says what the
// code does: every setting of config.Settings is in configuration.md with its
// flag and default (and nothing else is); every metric the metrics package
// registers is in operations.md with its type and labels (and every metric
// named anywhere in the docs exists); every scenario guarantees.md cites
// exists and is judged on what the page says it proves; the JSON report's
// fields are those of report.schema.json; every relative link in
// docs/*.md and README.md resolves, anchors included.
package docs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/report/reporttest"
	"github.com/shardbridge/shardbridge/replicator/config"
	"github.com/shardbridge/shardbridge/replicator/metrics"
	catalog "github.com/shardbridge/shardbridge/scenarios"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// table returns the rows of the first Markdown table whose header row starts
// with the given cells; cells are trimmed.
func table(t *testing.T, doc string, header ...string) [][]string {
	t.Helper()
	var rows [][]string
	in := false
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if in {
				break
			}
			continue
		}
		cells := splitRow(line)
		if !in {
			if len(cells) >= len(header) && slices.Equal(cells[:len(header)], header) {
				in = true
			}
			continue
		}
		if strings.Trim(line, "|-: ") == "" {
			continue // the separator row
		}
		rows = append(rows, cells)
	}
	if !in {
		t.Fatalf("no table with header %v", header)
	}
	return rows
}

func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	for _, c := range strings.Split(line, "|") {
		cells = append(cells, strings.TrimSpace(c))
	}
	return cells
}

// code strips one pair of backticks: "`x`" → "x"; "—" and "" → "".
func code(cell string) string {
	if cell == "—" {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(cell, "`"), "`")
}

func TestConfigurationMatchesSettings(t *testing.T) {
	rows := table(t, read(t, "configuration.md"), "Variable", "Flag", "Default", "Meaning")
	documented := map[string][]string{}
	for _, r := range rows {
		if len(r) != 4 {
			t.Errorf("row %v has %d cells, want 4", r, len(r))
			continue
		}
		env := code(r[0])
		if _, dup := documented[env]; dup {
			t.Errorf("%s documented twice", env)
		}
		documented[env] = r
		if r[3] == "" {
			t.Errorf("%s has no meaning", env)
		}
	}
	settings := config.Settings()
	if len(settings) == 0 {
		t.Fatal("config.Settings is empty")
	}
	parsed := map[string]bool{}
	for _, s := range settings {
		parsed[s.Env] = true
		r, ok := documented[s.Env]
		if !ok {
			t.Errorf("setting %s (flag -%s) is missing from configuration.md", s.Env, s.Flag)
			continue
		}
		if got := code(r[1]); got != "-"+s.Flag {
			t.Errorf("%s: documented flag %q, code has -%s", s.Env, got, s.Flag)
		}
		if got := code(r[2]); got != s.Default {
			t.Errorf("%s: documented default %q, code has %q", s.Env, got, s.Default)
		}
	}
	for env := range documented {
		if !parsed[env] {
			t.Errorf("configuration.md documents %s, which config.Settings does not parse", env)
		}
	}
	// The migration note names the Python bridge's variables; each must be
	// a setting.
	doc := read(t, "configuration.md")
	_, note, ok := strings.Cut(doc, "## Moving from the Python KCL bridge")
	if !ok {
		t.Fatal("configuration.md has no migration note")
	}
	for _, m := range regexp.MustCompile("`((?:KCL|KAFKA|CHECKPOINT)_[A-Z_]+)`").FindAllStringSubmatch(note, -1) {
		if !parsed[m[1]] {
			t.Errorf("migration note names %s, which is not a setting", m[1])
		}
	}
	for _, name := range []string{"KCL_STREAM_NAME", "KCL_APPLICATION_NAME", "KCL_REGION", "KCL_INITIAL_POSITION", "KAFKA_TOPIC",
		"KAFKA_BOOTSTRAP_SERVERS", "KAFKA_CLIENT_ID", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_MECHANISM",
		"KAFKA_SECURITY_PROTOCOL", "CHECKPOINT_FREQ_SECONDS"} {
		if !strings.Contains(note, "`"+name+"`") {
			t.Errorf("migration note does not list the bridge's %s", name)
		}
	}
}

// metricInfo is what the metrics package registers for one metric.
type metricInfo struct {
	typ    string
	labels []string
}

var (
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
)

// registeredMetrics builds the replicator's metrics on a fresh registry and
// returns every replicator_* metric with its type and labels. Every
// labelled instrument gets one series so that Gather reports it.
func registeredMetrics(t *testing.T) map[string]metricInfo {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, func() time.Time { return time.Unix(1000, 0) })
	m.CheckpointDone("shardId-000000000000", time.Unix(900, 0))
	m.ShardReading("shardId-000000000000", time.Unix(900, 0), time.Second)
	m.WatchLeaseTable(func() metrics.LeaseTableStats { return metrics.LeaseTableStats{} })
	m.WatchMemory(func() metrics.MemoryStats { return metrics.MemoryStats{} })
	labels := map[string][]string{}
	v := reflect.ValueOf(m).Elem()
	collector := reflect.TypeFor[prometheus.Collector]()
	for i := range v.NumField() {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() || !f.Type().Implements(collector) || f.IsNil() {
			continue
		}
		if _, isRegistry := f.Interface().(*prometheus.Registry); isRegistry {
			continue // it describes everything registered, runtime collectors included
		}
		ch := make(chan *prometheus.Desc)
		go func(c prometheus.Collector) {
			c.Describe(ch)
			close(ch)
		}(f.Interface().(prometheus.Collector))
		for d := range ch {
			s := d.String()
			name := descName.FindStringSubmatch(s)
			if name == nil {
				t.Fatalf("cannot read the name of %s", s)
			}
			var ls []string
			if l := descLabels.FindStringSubmatch(s); l != nil && strings.TrimSpace(l[1]) != "" {
				for _, x := range strings.Split(l[1], ",") {
					ls = append(ls, strings.TrimSpace(x))
				}
			}
			labels[name[1]] = ls
			if w := f.MethodByName("WithLabelValues"); w.IsValid() {
				args := make([]reflect.Value, len(ls))
				for j := range args {
					args[j] = reflect.ValueOf("x")
				}
				w.Call(args)
			}
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]metricInfo{}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "replicator_") {
			continue // Go runtime and process collectors
		}
		ls := labels[name]
		if ls == nil && len(mf.GetMetric()) > 0 {
			for _, lp := range mf.GetMetric()[0].GetLabel() {
				ls = append(ls, lp.GetName())
			}
		}
		out[name] = metricInfo{typ: strings.ToLower(dto.MetricType_name[int32(mf.GetType())]), labels: ls}
	}
	if len(out) < 10 {
		t.Fatalf("only %d replicator metrics registered: %v", len(out), out)
	}
	return out
}

var metricRef = regexp.MustCompile(`\breplicator_[a-z0-9_]+`)

func TestOperationsMatchesMetrics(t *testing.T) {
	reg := registeredMetrics(t)
	rows := table(t, read(t, "operations.md"), "Metric", "Type", "Labels", "Meaning")
	documented := map[string]bool{}
	for _, r := range rows {
		if len(r) != 4 {
			t.Errorf("row %v has %d cells, want 4", r, len(r))
			continue
		}
		name := code(r[0])
		documented[name] = true
		info, ok := reg[name]
		if !ok {
			t.Errorf("operations.md documents %s, which the metrics package does not register", name)
			continue
		}
		if r[1] != info.typ {
			t.Errorf("%s: documented type %q, registered %q", name, r[1], info.typ)
		}
		var want []string
		for _, l := range strings.Split(r[2], ",") {
			if l = code(strings.TrimSpace(l)); l != "" {
				want = append(want, l)
			}
		}
		if !slices.Equal(want, info.labels) {
			t.Errorf("%s: documented labels %v, registered %v", name, want, info.labels)
		}
	}
	for name := range reg {
		if !documented[name] {
			t.Errorf("metric %s is registered but missing from operations.md's table", name)
		}
	}
	// Every metric named anywhere in the docs exists (histogram series
	// suffixes allowed).
	for _, file := range docFiles(t) {
		for _, ref := range metricRef.FindAllString(read(t, file), -1) {
			base := ref
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if _, ok := reg[ref]; !ok {
					if b := strings.TrimSuffix(ref, suf); b != ref && reg[b].typ == "histogram" {
						base = b
					}
				}
			}
			if _, ok := reg[base]; !ok {
				t.Errorf("%s names %s, which the metrics package does not register", file, ref)
			}
		}
	}
}

func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs: %v", err)
	}
	return append(files, "../README.md")
}

var (
	fence      = regexp.MustCompile("(?s)```.*?```")
	inlineCode = regexp.MustCompile("`[^`\n]*`")
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	heading    = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)
)

// anchors returns the GitHub-style anchors of a Markdown file's headings.
func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(fence.ReplaceAllString(doc, ""), -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

func TestRelativeLinksResolve(t *testing.T) {
	checked := 0
	for _, file := range docFiles(t) {
		doc := read(t, file)
		text := inlineCode.ReplaceAllString(fence.ReplaceAllString(doc, ""), "")
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			path, frag, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), path)
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s links to %s, which does not exist", file, target)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(dest, ".md") && !anchors(read(t, dest))[frag] {
				t.Errorf("%s links to %s: no heading with anchor #%s in %s", file, target, frag, dest)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative links found: the link pattern is broken")
	}
}

func TestAnchors(t *testing.T) {
	a := anchors("# Moving from the Python KCL bridge\n## What to alarm on\n```\n# not a heading\n```\n## What to alarm on\n")
	for _, want := range []string{"moving-from-the-python-kcl-bridge", "what-to-alarm-on", "what-to-alarm-on-1"} {
		if !a[want] {
			t.Errorf("anchor %s missing from %v", want, a)
		}
	}
	if a["not-a-heading"] {
		t.Error("a line in a code fence was taken for a heading")
	}
}

var scenarioRef = regexp.MustCompile("`([a-z0-9]+(?:-[a-z0-9]+)*)`")

func TestGuaranteesCiteScenarios(t *testing.T) {
	doc := read(t, "guarantees.md")
	all := map[string]harness.Scenario{}
	for _, s := range catalog.All() {
		all[s.Name] = s
	}
	// Every scenario's delivery verdict judges loss, order, unexpected
	// records and dead letters (so exactly-once after deduplication); a
	// scenario with a Replay also judges the replay; a scenario run in
	// exactly-once mode (its own, or the suite's exactly-once dimension)
	// judges exactly once at read_committed.
	asserts := func(s harness.Scenario, what string) bool {
		switch what {
		case "BeUnchangedByReplay":
			return s.Replay != ""
		case "ExactlyOnce":
			return !expectedToFail(s) && (s.Verdicts.Delivery == checker.ExactlyOnce || catalog.ExactlyOnceApplies(s))
		}
		return !expectedToFail(s)
	}
	// What each promise's scenarios must assert.
	want := map[string]string{
		"**No loss**":                                      "LoseNothing",
		"**Order per shard**":                              "KeepPerShardOrder",
		"**Order per key**":                                "KeepPerKeyOrder",
		"**Exactly once after deduplication**":             "BeExactlyOnceByIdempotence",
		"**Exactly once at read_committed**":               "ExactlyOnce",
		"**Replay is idempotent**":                         "BeUnchangedByReplay",
		"**Nothing dropped silently**":                     "AccountForEveryDLQRecord",
		"**Duplicates only after a failure, and bounded**": "",
	}
	rows := table(t, doc, "Promise", "Exactly", "Proved by")
	cited := map[string]bool{}
	for _, r := range rows {
		if len(r) != 3 {
			t.Errorf("row %v has %d cells", r, len(r))
			continue
		}
		refs := scenarioRef.FindAllStringSubmatch(r[2], -1)
		if len(refs) == 0 && !strings.HasPrefix(r[2], "every scenario") {
			t.Errorf("promise %s cites no scenario", r[0])
		}
		for _, m := range refs {
			s, ok := all[m[1]]
			if !ok {
				t.Errorf("promise %s cites %s, which is not a scenario (catalog.Names: %v)", r[0], m[1], catalog.Names())
				continue
			}
			cited[m[1]] = true
			if what := want[r[0]]; what != "" && !asserts(s, what) {
				t.Errorf("promise %s cites %s, which does not assert %s", r[0], m[1], what)
			}
		}
		if strings.HasPrefix(r[2], "every scenario") {
			for _, s := range catalog.All() {
				if !expectedToFail(s) && !asserts(s, want[r[0]]) {
					t.Errorf("promise %s claims every scenario, but %s does not assert %s", r[0], s.Name, want[r[0]])
				}
			}
		}
		if r[0] == "**Exactly once at read_committed**" {
			// The row lists the whole exactly-once dimension.
			for _, s := range catalog.All() {
				if catalog.ExactlyOnceApplies(s) && !strings.Contains(r[2], "`"+s.Name+"`") {
					t.Errorf("%s runs in exactly-once mode (ExactlyOnceApplies) but the row %s does not cite it", s.Name, r[0])
				}
			}
		}
		if r[0] == "**Duplicates only after a failure, and bounded**" {
			none, bounded, ok := strings.Cut(r[2], "bounded:")
			if !ok {
				t.Fatalf("duplicates row does not separate none from bounded: %s", r[2])
			}
			for _, m := range scenarioRef.FindAllStringSubmatch(none, -1) {
				if s := all[m[1]]; s.Verdicts.MaxDuplicates != 0 {
					t.Errorf("%s is cited as allowing no duplicates but has MaxDuplicates %d", m[1], s.Verdicts.MaxDuplicates)
				}
			}
			for _, m := range scenarioRef.FindAllStringSubmatch(bounded, -1) {
				if s := all[m[1]]; s.Verdicts.MaxDuplicates <= 0 {
					t.Errorf("%s is cited as bounded but has MaxDuplicates %d", m[1], s.Verdicts.MaxDuplicates)
				}
			}
		}
	}
	for _, name := range []string{"**No loss**", "**Order per key**", "**Duplicates only after a failure, and bounded**", "**Replay is idempotent**",
		"**Exactly once at read_committed**"} {
		if !slices.ContainsFunc(rows, func(r []string) bool { return r[0] == name }) {
			t.Errorf("guarantees.md has no row %s", name)
		}
	}
	// The self-tests are named, and each really is one.
	_, selfTests, _ := strings.Cut(doc, "The checker itself is tested")
	selfTests, _, _ = strings.Cut(selfTests, "##")
	for _, m := range scenarioRef.FindAllStringSubmatch(selfTests, -1) {
		s, ok := all[m[1]]
		if !ok || !expectedToFail(s) {
			t.Errorf("%s is cited as a self-test but is not one", m[1])
		}
		cited[m[1]] = true
	}
	// And every scenario in the catalogue is cited somewhere.
	for _, name := range catalog.Names() {
		if !cited[name] {
			t.Errorf("scenario %s is not cited in guarantees.md", name)
		}
	}
}

func TestPagesExist(t *testing.T) {
	for _, p := range []string{"architecture.md", "guarantees.md", "configuration.md", "operations.md", "scenario-authoring.md"} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("docs/%s: missing or empty (%v)", p, err)
		}
	}
}

// expectedToFail reports whether a scenario is a self-test of a sabotaged bridge.
func expectedToFail(s harness.Scenario) bool { return len(s.Verdicts.Broken) > 0 }

// The JSON report's fields table in scenario-authoring.md names every
// top-level field of report.schema.json, and nothing else.
func TestReportFieldsTableMatchesSchema(t *testing.T) {
	schema, err := reporttest.LoadSchema()
	if err != nil {
		t.Fatal(err)
	}
	inSchema := map[string]bool{}
	for name := range schema["properties"].(map[string]any) {
		inSchema[name] = true
	}
	documented := map[string]bool{}
	for _, r := range table(t, read(t, "scenario-authoring.md"), "Field", "Meaning") {
		for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(r[0], -1) {
			documented[m[1]] = true
			if !inSchema[m[1]] {
				t.Errorf("scenario-authoring.md documents report field %s, which report.schema.json does not have", m[1])
			}
		}
	}
	for name := range inSchema {
		if !documented[name] {
			t.Errorf("report field %s (report.schema.json) is missing from scenario-authoring.md's table", name)
		}
	}
}
