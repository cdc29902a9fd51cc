package checker

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrUnknownTopic is returned (wrapped) when the topic to read does not exist.
var ErrUnknownTopic = errors.New("checker: unknown topic")

type readConfig struct {
	from        map[int32]int64
	missingOK   bool
	uncommitted bool
	clientOpts  []kgo.Opt
}

// ReadOption configures ReadTopic and EndOffsets.
type ReadOption func(*readConfig)

// FromOffsets starts each listed partition at the given offset instead of the
// log start, e.g. the EndOffsets taken before a replay, to read only what the
// replay wrote.
func FromOffsets(offsets map[int32]int64) ReadOption {
	return func(c *readConfig) { c.from = offsets }
}

// MissingOK makes a missing topic read as empty instead of failing (a DLQ
// topic the replicator creates only on its first dead letter).
func MissingOK() ReadOption { return func(c *readConfig) { c.missingOK = true } }

// Uncommitted reads at read_uncommitted: records of aborted (and open)
// transactions too. Compared with a read_committed read it counts what
// aborted transactions left in the log.
func Uncommitted() ReadOption { return func(c *readConfig) { c.uncommitted = true } }

// WithClientOpts adds franz-go options (SASL, TLS, logging) to the reader's
// client.
func WithClientOpts(opts ...kgo.Opt) ReadOption {
	return func(c *readConfig) { c.clientOpts = append(c.clientOpts, opts...) }
}

// EndOffsets returns every partition's high watermark now.
func EndOffsets(ctx context.Context, brokers []string, topic string, opts ...ReadOption) (map[int32]int64, error) {
	cfg := readConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, cfg.clientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("checker: kafka client: %w", err)
	}
	defer cl.Close()
	ends, err := listOffsets(ctx, kadm.NewClient(cl), topic, true)
	if errors.Is(err, ErrUnknownTopic) && cfg.missingOK {
		return map[int32]int64{}, nil
	}
	return ends, err
}

func listOffsets(ctx context.Context, adm *kadm.Client, topic string, end bool) (map[int32]int64, error) {
	list := adm.ListStartOffsets
	if end {
		list = adm.ListEndOffsets
	}
	listed, err := list(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("checker: list offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var firstErr error
	listed.Each(func(o kadm.ListedOffset) {
		if o.Topic != topic {
			return
		}
		if o.Err != nil {
			if firstErr == nil {
				firstErr = o.Err
			}
			return
		}
		out[o.Partition] = o.Offset
	})
	if errors.Is(firstErr, kerr.UnknownTopicOrPartition) || (firstErr == nil && len(out) == 0) {
		return nil, fmt.Errorf("%w %s", ErrUnknownTopic, topic)
	}
	if firstErr != nil {
		return nil, fmt.Errorf("checker: list offsets of %s: %w", topic, firstErr)
	}
	return out, nil
}

// ReadTopic reads every committed record of topic from the log start (or
// FromOffsets) up to each partition's high watermark as of the call, with
// read_committed isolation: records of aborted or still-open transactions
// are never returned (an open transaction is waited for until ctx ends).
// Records come back per partition in offset order, partitions ascending.
//
// Control records are fetched too (KeepControlRecords) but not returned:
// a transactional log ends with a commit or abort marker, and only seeing the
// marker's offset proves a partition was read to its watermark.
func ReadTopic(ctx context.Context, brokers []string, topic string, opts ...ReadOption) ([]Observed, error) {
	cfg := readConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	base := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, cfg.clientOpts...)
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("checker: kafka client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	ends, err := listOffsets(ctx, adm, topic, true)
	if err != nil {
		if errors.Is(err, ErrUnknownTopic) && cfg.missingOK {
			return nil, nil
		}
		return nil, err
	}
	starts, err := listOffsets(ctx, adm, topic, false)
	if err != nil {
		return nil, err
	}
	consume := map[int32]kgo.Offset{}
	next := map[int32]int64{}
	for p, end := range ends {
		start := starts[p]
		if from, ok := cfg.from[p]; ok && from > start {
			start = from
		}
		if start >= end {
			continue
		}
		consume[p] = kgo.NewOffset().At(start)
		next[p] = start
	}
	if len(consume) == 0 {
		return nil, nil
	}
	isolation := kgo.ReadCommitted()
	if cfg.uncommitted {
		isolation = kgo.ReadUncommitted()
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: consume}),
		kgo.FetchIsolationLevel(isolation),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("checker: kafka consumer: %w", err)
	}
	defer cl.Close()

	perPartition := map[int32][]Observed{}
	for len(next) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("checker: reading %s stopped short of the end (partitions left: %v): %w", topic, pending(next, ends), err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			var dataLoss *kgo.ErrDataLoss
			if errors.As(err, &dataLoss) { // informational: franz-go resets and goes on
				return
			}
			if ferr == nil {
				ferr = fmt.Errorf("checker: fetch %s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := ends[r.Partition]
			if !ok {
				return
			}
			// Any record at or past the end proves the partition read to
			// it: a transaction aborted after the read began has its data
			// below the end (filtered at read_committed) and its marker
			// past it.
			if n, ok := next[r.Partition]; ok && r.Offset+1 > n {
				next[r.Partition] = r.Offset + 1
			}
			if r.Offset >= end {
				return // written after the check began
			}
			if !r.Attrs.IsControl() {
				perPartition[r.Partition] = append(perPartition[r.Partition], FromRecord(r))
			}
		})
		for p, n := range next {
			if n >= ends[p] {
				delete(next, p)
			}
		}
	}
	parts := make([]int32, 0, len(perPartition))
	for p := range perPartition {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	var out []Observed
	for _, p := range parts {
		out = append(out, perPartition[p]...)
	}
	return out, nil
}

func pending(next, ends map[int32]int64) []string {
	var s []string
	for p, n := range next {
		s = append(s, fmt.Sprintf("%d at %d of %d", p, n, ends[p]))
	}
	slices.Sort(s)
	return s
}
