package checker

import (
	"fmt"
	"slices"
)

// ReplayResult compares the deduplicated main-topic output before and after
// a replay run.
type ReplayResult struct {
	Before    int       `json:"before"`              // distinct IDs before
	After     int       `json:"after"`               // distinct IDs after
	Missing   []ID      `json:"missing,omitempty"`   // before, not after (up to 10)
	Extra     []ID      `json:"extra,omitempty"`     // after, not before (up to 10)
	Reordered []Example `json:"reordered,omitempty"` // first divergence per (partition, key), up to 10
	// Counts of each, whatever the examples kept.
	MissingCount   int `json:"missing_count"`
	ExtraCount     int `json:"extra_count"`
	ReorderedCount int `json:"reordered_count"`
}

// OK reports whether the replay left the deduplicated output unchanged.
func (r ReplayResult) OK() bool {
	return r.MissingCount == 0 && r.ExtraCount == 0 && r.ReorderedCount == 0
}

// Problems lists the differences in words.
func (r ReplayResult) Problems() []string {
	var p []string
	if r.MissingCount > 0 {
		p = append(p, fmt.Sprintf("%d IDs gone after the replay", r.MissingCount))
	}
	if r.ExtraCount > 0 {
		p = append(p, fmt.Sprintf("%d new IDs after the replay", r.ExtraCount))
	}
	if r.ReorderedCount > 0 {
		p = append(p, fmt.Sprintf("%d (partition, key) sequences reordered by the replay", r.ReorderedCount))
	}
	return p
}

// CompareReplay checks that a replay run left the main topic, deduplicated
// by ID, unchanged: the same set of IDs, and per (partition, Kafka key) the
// same IDs in the same first-occurrence order. before and after must come
// from Check (a Result decoded from JSON carries no output to compare).
//
// Two ways to use it: check the whole topic after the replay (then a replay
// that only re-sends copies is unchanged, and new or missing IDs show), or
// read only what the replay wrote (ReadTopic with FromOffsets at the
// EndOffsets taken before it) so its own order is compared too.
func CompareReplay(before, after Result) ReplayResult {
	const maxExamples = 10
	r := ReplayResult{}
	bset, aset := idSet(before.deduped), idSet(after.deduped)
	r.Before, r.After = len(bset), len(aset)
	for _, id := range sortedIDs(bset) {
		if !aset[id] {
			r.MissingCount++
			if len(r.Missing) < maxExamples {
				r.Missing = append(r.Missing, id)
			}
		}
	}
	for _, id := range sortedIDs(aset) {
		if !bset[id] {
			r.ExtraCount++
			if len(r.Extra) < maxExamples {
				r.Extra = append(r.Extra, id)
			}
		}
	}
	keys := make([]partKey, 0, len(before.deduped))
	for k := range before.deduped {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b partKey) int {
		if a.partition != b.partition {
			return int(a.partition - b.partition)
		}
		return compareStrings(a.key, b.key)
	})
	for _, k := range keys {
		// Compare only IDs present on both sides: presence is judged above.
		b := common(before.deduped[k], aset)
		a := common(after.deduped[k], bset)
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				r.ReorderedCount++
				if len(r.Reordered) < maxExamples {
					r.Reordered = append(r.Reordered, Example{
						ID: a[i], Producer: -1, Key: k.key, KeySeq: -1, Partition: k.partition, Offset: -1,
						Detail: fmt.Sprintf("position %d of key %q in partition %d: %s after the replay, %s before", i, k.key, k.partition, a[i], b[i]),
					})
				}
				break
			}
		}
	}
	return r
}

func idSet(d map[partKey][]ID) map[ID]bool {
	s := map[ID]bool{}
	for _, ids := range d {
		for _, id := range ids {
			s[id] = true
		}
	}
	return s
}

func sortedIDs(s map[ID]bool) []ID {
	ids := make([]ID, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b ID) int {
		if c := compareStrings(a.Shard, b.Shard); c != 0 {
			return c
		}
		return compareID(a, b)
	})
	return ids
}

func common(ids []ID, other map[ID]bool) []ID {
	var out []ID
	for _, id := range ids {
		if other[id] {
			out = append(out, id)
		}
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
