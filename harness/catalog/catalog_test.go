package catalog

import (
	"slices"
	"strings"
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
		if s.Title == "" || s.Story == "" || len(s.Labels) == 0 || len(s.Asserts) == 0 {
			t.Errorf("%s: title, story, labels and asserts are required", s.Name)
		}
		if !ExpectedToFail(s) && !slices.ContainsFunc(s.Asserts, func(a string) bool { return strings.HasPrefix(a, "LoseNothing") }) {
			t.Errorf("%s does not assert LoseNothing", s.Name)
		}
		for _, it := range s.Items {
			items[it] = true
		}
		if got, ok := Get(s.Name); !ok || got.Name != s.Name {
			t.Errorf("Get(%q) failed", s.Name)
		}
	}
	// design.md's chaos catalogue items this suite must cover.
	for _, it := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17} {
		if !items[it] {
			t.Errorf("catalogue item %d has no scenario", it)
		}
	}
	if _, ok := Get("demo"); !ok {
		t.Error("the demo must be found by name")
	}
	if _, ok := Get("no-such-scenario"); ok {
		t.Error("Get found a scenario that does not exist")
	}
	// Every fault kind the suites filter on is used.
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
