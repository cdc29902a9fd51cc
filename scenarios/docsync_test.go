package scenarios

import (
	"os"
	"strings"
	"testing"
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
