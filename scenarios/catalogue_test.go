package scenarios

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

func TestCatalogueIsComplete(t *testing.T) {
	seen := map[string]bool{}
	items := map[int]bool{}
	for _, s := range All() {
		if s.Name == "" || seen[s.Name] {
			t.Errorf("scenario name %q empty or repeated", s.Name)
		}
		seen[s.Name] = true
		if s.Title == "" || s.Story == "" || len(s.Labels) == 0 {
			t.Errorf("%s: title, story and labels are required", s.Name)
		}
		if s.Verdicts.MaxDuplicates > 0 && s.Verdicts.Why == "" {
			t.Errorf("%s allows %d duplicates without saying why", s.Name, s.Verdicts.MaxDuplicates)
		}
		for _, it := range s.Items {
			items[it] = true
		}
		if got, ok := Get(s.Name); !ok || got.Name != s.Name {
			t.Errorf("Get(%q) failed", s.Name)
		}
	}
	// The catalogue's definition lives in docs/catalogue.md: every item it
	// defines has a scenario, and every scenario's items are defined there.
	doc, err := os.ReadFile("../docs/catalogue.md")
	if err != nil {
		t.Fatal(err)
	}
	defined := map[int]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\d+)\. `).FindAllStringSubmatch(string(doc), -1) {
		n, _ := strconv.Atoi(m[1])
		defined[n] = true
	}
	if len(defined) == 0 {
		t.Fatal("docs/catalogue.md defines no item (headings `## N. …`)")
	}
	for it := range defined {
		if !items[it] {
			t.Errorf("catalogue item %d (docs/catalogue.md) has no scenario", it)
		}
	}
	for it := range items {
		if !defined[it] {
			t.Errorf("a scenario covers item %d, which docs/catalogue.md does not define", it)
		}
	}
	if _, ok := Get("demo"); !ok {
		t.Error("the demo must be found by name")
	}
	if _, ok := Get("no-such-scenario"); ok {
		t.Error("Get found a scenario that does not exist")
	}
	labels := map[string]bool{}
	for _, s := range All() {
		for _, l := range s.Labels {
			labels[l] = true
		}
	}
	for _, l := range []string{LabelHotShard, LabelThrottling, LabelExpiredIterator, LabelCrash, LabelResharding, LabelLease, LabelReplay, LabelKafka, LabelExternal, LabelSelfTest} {
		if !labels[l] {
			t.Errorf("no scenario is labelled %s", l)
		}
	}
}

func TestScenariosAreFresh(t *testing.T) {
	a, b := HotShardSplit(), HotShardSplit()
	a.Schedule[0].Do.Desc = "changed"
	if b.Schedule[0].Do.Desc == "changed" {
		t.Fatal("scenarios share state between calls")
	}
}
