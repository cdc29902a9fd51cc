package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pollEvery is the resolution of the catch-up time.
const pollEvery = 50 * time.Millisecond

// sample is one look at the topic and the replicator.
type sample struct {
	at      time.Time
	cpu     time.Duration   // the replicator's CPU time so far
	offsets map[int32]int64 // end offsets, or last stable offsets at exactly-once
	sum     int64           // of offsets
}

// waitCatchUp polls the topic until it holds every backlog record and
// returns the first sample that shows it.
//
// At at-least-once the end offsets count records exactly (an idempotent
// producer adds no markers). At exactly-once every committed transaction
// also takes one offset per partition for its marker, so the last stable
// offsets can sum to the backlog before every record is visible; once they
// do, a read_committed consumer counts the distinct records, and the answer
// is the first sample whose stable offsets lie past the last of them.
func waitCatchUp(ctx context.Context, adm *kadm.Client, kafkaOpts []kgo.Opt, topic string, records int, exactly bool, rep *replicator) (sample, error) {
	var history []sample
	var counted chan countResult
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if err := rep.exited(); err != nil {
			return sample{}, err
		}
		s, err := look(ctx, adm, topic, exactly, rep)
		if err != nil {
			return sample{}, err
		}
		history = append(history, s)
		if s.sum >= int64(records) {
			if !exactly {
				return s, nil
			}
			if counted == nil {
				counted = make(chan countResult, 1)
				go func() { counted <- countCommitted(ctx, kafkaOpts, topic, records) }()
			}
		}
		if counted != nil {
			select {
			case c := <-counted:
				if c.err != nil {
					return sample{}, c.err
				}
				for _, h := range history {
					if covers(h.offsets, c.last) {
						return h, nil
					}
				}
				// The count saw records no sample covers yet: wait for one.
				counted = make(chan countResult, 1)
				counted <- c
			default:
			}
		}
		select {
		case <-ctx.Done():
			var sum int64
			if len(history) > 0 {
				sum = history[len(history)-1].sum
			}
			return sample{}, fmt.Errorf("catch-up: topic offsets at %d of %d records: %w", sum, records, ctx.Err())
		case <-tick.C:
		}
	}
}

func look(ctx context.Context, adm *kadm.Client, topic string, exactly bool, rep *replicator) (sample, error) {
	cpu, _ := cpuTime(rep.pid()) // 0 where /proc is missing: the field is then left out
	list := adm.ListEndOffsets
	if exactly {
		list = adm.ListCommittedOffsets
	}
	l, err := list(ctx, topic)
	if err == nil {
		err = l.Error()
	}
	if err != nil {
		return sample{}, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	s := sample{at: time.Now(), cpu: cpu, offsets: map[int32]int64{}}
	l.Each(func(o kadm.ListedOffset) {
		s.offsets[o.Partition] = o.Offset
		s.sum += o.Offset
	})
	return s, nil
}

// covers reports whether offsets lie past every partition's last record.
func covers(offsets, last map[int32]int64) bool {
	for p, o := range last {
		if offsets[p] <= o {
			return false
		}
	}
	return true
}

type countResult struct {
	last map[int32]int64 // partition → offset of its last bench record
	err  error
}

// countCommitted reads the topic read_committed from its start until it has
// seen records distinct bench records.
func countCommitted(ctx context.Context, kafkaOpts []kgo.Opt, topic string, records int) countResult {
	cl, err := kgo.NewClient(append(slices.Clone(kafkaOpts),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return countResult{err: fmt.Errorf("count committed records: kafka client: %w", err)}
	}
	defer cl.Close()
	seen := make([]bool, records)
	distinct := 0
	last := map[int32]int64{}
	for distinct < records {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return countResult{err: fmt.Errorf("count committed records: %d of %d read: %w", distinct, records, err)}
		}
		fs.EachRecord(func(r *kgo.Record) {
			id, ok := recordID(r.Value)
			if !ok || id >= uint64(records) {
				return
			}
			if !seen[id] {
				seen[id] = true
				distinct++
			}
			last[r.Partition] = max(last[r.Partition], r.Offset)
		})
	}
	return countResult{last: last}
}
