package scenariofile

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestFieldsDocumented keeps the YAML reference's field tables in
// docs/scenario-authoring.md equal to the fields the decoder knows.
func TestFieldsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/scenario-authoring.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for header, fields := range map[string][]string{
		"| YAML | Go (`harness.Scenario`) |":        scenarioFields,
		"| `workload:` | Go (`harness/workload`) |": workloadFields,
		"| `verdicts:` | Go (`harness.Verdicts`) |": verdictFields,
	} {
		i := strings.Index(doc, header)
		if i < 0 {
			t.Errorf("no table %q", header)
			continue
		}
		documented := map[string]bool{}
		for _, line := range strings.Split(doc[i:], "\n")[2:] {
			if !strings.HasPrefix(line, "| ") {
				break
			}
			first := strings.SplitN(line, " | ", 2)[0]
			for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(first, -1) {
				documented[m[1]] = true
			}
		}
		for _, f := range fields {
			if !documented[f] {
				t.Errorf("table %q lacks field %s", header, f)
			}
			delete(documented, f)
		}
		for f := range documented {
			t.Errorf("table %q documents %s, which the decoder does not know", header, f)
		}
	}
}
