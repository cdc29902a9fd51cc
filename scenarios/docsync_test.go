package scenarios

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shardbridge/shardbridge/harness/scenariofile"
)

// TestAuthoringDocExample keeps docs/scenario-authoring.md's example and
// example_test.go identical, so the documented scenario always compiles and
// runs.
func TestAuthoringDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/scenario-authoring.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	example := between(t, string(src), "// BEGIN EXAMPLE\n", "// END EXAMPLE")
	block := between(t, string(doc), "<!-- example: scenarios/example_test.go -->\n```go\n", "```")
	if strings.TrimSpace(block) != strings.TrimSpace(example) {
		t.Errorf("docs/scenario-authoring.md's example differs from scenarios/example_test.go; copy the code between BEGIN/END EXAMPLE into the doc")
	}
}

func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("marker %q not found", start)
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		t.Fatalf("marker %q not found", end)
	}
	return s[:j]
}

// TestAuthoringYAMLExample keeps the YAML example of
// docs/scenario-authoring.md identical to scenarios/yaml/hot-shard-split.yaml,
// which TestYAMLTwins proves equal to the Go scenario.
func TestAuthoringYAMLExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/scenario-authoring.md")
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile("yaml/hot-shard-split.yaml")
	if err != nil {
		t.Fatal(err)
	}
	block := between(t, string(doc), "<!-- example: scenarios/yaml/hot-shard-split.yaml -->\n```yaml\n", "```")
	if strings.TrimSpace(block) != strings.TrimSpace(string(file)) {
		t.Errorf("docs/scenario-authoring.md's YAML example differs from scenarios/yaml/hot-shard-split.yaml; copy the file into the doc")
	}
}

// TestAuthoringYAMLReference keeps the YAML reference's tables of triggers,
// actions and checks equal to the vocabulary and to Checks.
func TestAuthoringYAMLReference(t *testing.T) {
	doc, err := os.ReadFile("../docs/scenario-authoring.md")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, w := range scenariofile.Vocabulary() {
		want[w.Kind] = append(want[w.Kind], fmt.Sprintf("`%s` | `%s` | %s", w.Name, w.Go, cell(w.Usage)))
	}
	for name, c := range Checks() {
		want["check"] = append(want["check"], fmt.Sprintf("`%s` | %s | %s", name, cell(c.Usage), c.Doc))
	}
	headers := map[string]string{"trigger": "| trigger | Go |", "action": "| action | Go |", "check": "| check | argument |"}
	for kind, rows := range want {
		got := tableRows(string(doc), headers[kind])
		slices.Sort(got)
		slices.Sort(rows)
		if !slices.Equal(got, rows) {
			t.Errorf("docs/scenario-authoring.md's %s table\n%s\nwant\n%s", kind, strings.Join(got, "\n"), strings.Join(rows, "\n"))
		}
	}
}

func cell(usage string) string {
	if usage == "" {
		return "—"
	}
	return "`" + usage + "`"
}

// tableRows are the rows of the Markdown table whose header starts with
// header, without their outer pipes.
func tableRows(doc, header string) []string {
	var rows []string
	in := false
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case strings.HasPrefix(line, header):
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "| "):
			rows = append(rows, strings.TrimSuffix(strings.TrimPrefix(line, "| "), " |"))
		case in:
			return rows
		}
	}
	return rows
}
