package harness

import (
	"fmt"
	"math/big"
	"sort"

	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/leasewatch"
)

// unexplainedDuplicates checks the at-least-once bound record by record:
// a record may come again only if its shard's lease moved to another worker
// (a steal, or a takeover after a crash or pause), or lapsed and was
// re-taken by the same worker (leasewatch.Change.Lapse), while the record was not
// yet covered by the shard's checkpoint, since the new owner resumes at the
// checkpoint; or if the harness deleted the shard's lease row. An ID with k
// copies needs k-1 such moves. It returns how many IDs have more copies than
// their shard's lease history explains, and a few examples.
//
// Produce failures also re-send (a shard rewinds to its last acknowledged
// record); the lease table cannot show them, so callers excuse runs whose
// instances counted any.
func unexplainedDuplicates(out []checker.Observed, changes []leasewatch.Change, resets map[string]int) (int, []string) {
	copies := map[checker.ID]int{}
	var order []checker.ID
	for _, o := range out {
		id, err := o.ID()
		if err != nil {
			continue
		}
		if copies[id] == 0 {
			order = append(order, id)
		}
		copies[id]++
	}
	moves := map[string][]leasewatch.Row{}
	for _, c := range changes {
		if c.From != "" && c.To != "" {
			moves[c.Shard] = append(moves[c.Shard], leasewatch.Row{Checkpoint: c.Checkpoint, SubSequence: c.SubSequence})
		}
	}
	n := 0
	var examples []string
	for _, id := range order {
		k := copies[id]
		if k < 2 {
			continue
		}
		if resets[id.Shard] > 0 {
			continue
		}
		rec := leasewatch.Row{Checkpoint: id.Seq, SubSequence: max(id.SubSeq, 0)}
		if _, ok := new(big.Int).SetString(id.Seq, 10); !ok {
			continue
		}
		explained := 0
		for _, cp := range moves[id.Shard] {
			if leasewatch.ComparePositions(rec, cp) > 0 {
				explained++
			}
		}
		if k-1 > explained {
			n++
			if len(examples) < 5 {
				examples = append(examples, fmt.Sprintf("%s: %d copies, but its shard's lease moved from a checkpoint below it %d times", id, k, explained))
			}
		}
	}
	sort.Strings(examples)
	return n, examples
}
