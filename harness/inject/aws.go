package inject

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/harness"
)

// Fault adds a rule to the AWS fault layer for d (0: until FaultOff with
// the same name, or the end of the run). Stream and Table left empty are
// filled with the run's stream (Kinesis rules) and lease table (DynamoDB).
func Fault(name string, rule fault.Rule, d time.Duration) harness.Action {
	rule.Name = name
	return harness.Action{Kind: string(rule.Action), Desc: describeRule(rule, d), Needs: needFaultLayer, Do: func(ctx context.Context, r *harness.Run) error {
		rule := rule // this run's copy: a scenario may run again, with other names
		if rule.Service == fault.ServiceKinesis && rule.Stream == "" {
			rule.Stream = r.Names.Stream
		}
		if rule.Service == fault.ServiceDynamoDB && rule.Table == "" {
			rule.Table = r.Names.Application
		}
		if err := rule.Validate(); err != nil {
			return fmt.Errorf("fault rule %s: %w", name, err)
		}
		r.AddFaultRule(name, rule)
		r.Record(string(rule.Action), describeRule(rule, d)+" on", "")
		if d <= 0 {
			return nil
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		r.RemoveFaultRule(name)
		return nil
	}}
}

// FaultOff removes the rule Fault added under name.
func FaultOff(name string) harness.Action {
	return harness.Action{Kind: "fault-off", Desc: "end fault " + name, Do: func(ctx context.Context, r *harness.Run) error {
		if !r.RemoveFaultRule(name) {
			return fmt.Errorf("no fault rule named %s", name)
		}
		return nil
	}}
}

func describeRule(rule fault.Rule, d time.Duration) string {
	s := string(rule.Action)
	if len(rule.Operations) > 0 {
		s += fmt.Sprintf(" %v", rule.Operations)
	}
	if rule.Service != "" {
		s += " " + rule.Service
	}
	if rule.Table != "" {
		s += " table " + rule.Table
	}
	if rule.Shard != "" {
		s += " shard " + rule.Shard
	}
	if rule.Probability > 0 && rule.Probability < 1 {
		s += fmt.Sprintf(" p=%.2f", rule.Probability)
	}
	if rule.Count > 0 {
		s += fmt.Sprintf(" ×%d", rule.Count)
	}
	if d > 0 {
		s += " for " + d.String()
	}
	return s
}

// ThrottleReads answers every GetRecords of the stream with
// ProvisionedThroughputExceededException for d.
func ThrottleReads(d time.Duration) harness.Action {
	return Fault("throttle-reads", fault.Rule{Service: fault.ServiceKinesis, Operations: []string{"GetRecords"}, Action: fault.Throttle}, d)
}

// ThrottleLeaseTable throttles the lease table's requests with probability p for d.
func ThrottleLeaseTable(p float64, d time.Duration) harness.Action {
	return Fault("throttle-lease-table", fault.Rule{Service: fault.ServiceDynamoDB, Probability: p, Action: fault.Throttle}, d)
}

// ExpireIterators makes every shard iterator the replicator holds expire:
// on a backend whose clock the harness controls, by moving the clock past
// the 5-minute iterator lifetime; elsewhere through the fault layer
// (ExpiredIteratorException for the next GetRecords of each shard).
func ExpireIterators() harness.Action {
	return harness.Action{Kind: "expire-iterators", Desc: "expire every shard iterator", Needs: func(r *harness.Run) error {
		if r.Env.ControlsServiceClock() {
			return nil
		}
		return needFaultLayer(r)
	}, Do: func(ctx context.Context, r *harness.Run) error {
		if r.Env.ControlsServiceClock() {
			r.Env.Clock().Advance(5*time.Minute + 5*time.Second)
			r.Record("expire-iterators", "clock advanced 5m5s: every iterator issued before is expired", "")
			return nil
		}
		open, err := r.OpenShards(ctx)
		if err != nil {
			return err
		}
		for _, s := range open {
			r.Env.Faults().Add(fault.Rule{Name: "expire-iterators", Service: fault.ServiceKinesis, Operations: []string{"GetRecords"},
				Stream: r.Names.Stream, Shard: aws.ToString(s.ShardId), Count: 1, Action: fault.ExpiredIterator})
		}
		r.Record("expire-iterators", fmt.Sprintf("ExpiredIteratorException for the next GetRecords of %d shards (fault layer)", len(open)), "")
		return nil
	}}
}

// CompetingReaders runs n extra consumers on every open shard for d, each
// calling GetRecords perSecond times a second (throttled or not): together
// with the replicator they exceed the 5 reads/s per-shard limit.
func CompetingReaders(n int, perSecond float64, d time.Duration) harness.Action {
	every := time.Duration(float64(time.Second) / perSecond)
	return harness.Action{Kind: "competing-readers", Desc: fmt.Sprintf("%d competing readers per shard at %.0f calls/s for %s", n, perSecond, d), Do: func(ctx context.Context, r *harness.Run) error {
		open, err := r.OpenShards(ctx)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		client := r.Env.NewKinesisClient()
		done := make(chan [2]int64, n*len(open))
		for _, s := range open {
			for range n {
				go func() { done <- readLoop(rctx, client, r.Names.Stream, aws.ToString(s.ShardId), every) }()
			}
		}
		r.Record("competing-readers", fmt.Sprintf("%d readers on each of %d shards, %.0f calls/s each, for %s", n, len(open), perSecond, d), "")
		var calls, failed int64
		for range n * len(open) {
			c := <-done
			calls, failed = calls+c[0], failed+c[1]
		}
		r.Record("competing-readers-end", fmt.Sprintf("competing readers stopped after %d GetRecords calls (%d refused)", calls, failed), "")
		return nil
	}}
}

// readLoop reads a shard from LATEST once every interval; it returns its
// calls and how many of them failed.
func readLoop(ctx context.Context, c *kinesis.Client, stream, shard string, every time.Duration) [2]int64 {
	var calls, failed int64
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: ktypes.ShardIteratorTypeLatest})
	for err != nil && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		it, err = c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: ktypes.ShardIteratorTypeLatest})
	}
	if err != nil {
		return [2]int64{}
	}
	iter := it.ShardIterator
	for ctx.Err() == nil && iter != nil {
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter}, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
		calls++
		if err == nil {
			iter = out.NextShardIterator
		} else {
			failed++
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
	return [2]int64{calls, failed}
}
