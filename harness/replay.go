package harness

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/harness/checker"
	"github.com/shardbridge/shardbridge/harness/sabotage"
	"github.com/shardbridge/shardbridge/harness/workload"
)

// resetCheckpoints rewinds the application to the scenario's replay
// position: with the bridge's own reset command when its bridge file has
// one, else by deleting every lease row (and the checkpoint topic, where the
// bridge keeps checkpoints in Kafka too), so the bridge starts over at its
// initial position. It returns what was done, for the run's record.
func (r *Run) resetCheckpoints(ctx context.Context, ts string) (string, error) {
	at := string(r.Scenario.Replay)
	if ts != "" {
		at += " " + ts
	}
	// The rows' checkpoints go back on purpose: not regressions.
	release := r.Leases.Hold()
	defer release()
	out, ran, err := r.Instances.Reset(ctx, string(r.Scenario.Replay), ts)
	if ran {
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("reset by the bridge's reset command to %s: %s", at, summary(out)), nil
	}
	n, err := sabotage.DeleteAllLeaseRows(ctx, r.Env.DynamoDB(), r.Names.Application)
	if err != nil {
		return "", err
	}
	detail := fmt.Sprintf("deleted %d lease rows; replaying from %s", n, at)
	if topic := r.Bridge().Capabilities().CheckpointTopicOf(r.Names.Application); topic != "" {
		// The bridge keeps checkpoints in Kafka too (exactly-once): they
		// are part of the application's state.
		if err := r.Env.DeleteTopic(ctx, topic); err != nil {
			return "", err
		}
		detail = fmt.Sprintf("deleted %d lease rows and the checkpoint topic %s; replaying from %s", n, topic, at)
	}
	return detail, nil
}

// summary is the reset command's output on one line, cut to a length a
// run's record can show.
func summary(out string) string {
	s := strings.Join(strings.Fields(strings.ReplaceAll(out, "\n", "; ")), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// replay resets the application's checkpoints and replicates again from
// the scenario's replay position into the same topic.
func (r *Run) replay(runCtx, ctx context.Context, acks []workload.Ack, opts checker.Options, before checker.Result, startClock time.Time) (*checker.Result, *checker.ReplayResult, []string) {
	var problems []string
	ends, err := checker.EndOffsets(runCtx, r.Env.Brokers(), r.Names.Topic, r.kafka())
	if err != nil {
		return nil, nil, []string{fmt.Sprintf("replay: end offsets: %v", err)}
	}
	ts := ""
	if r.Scenario.Replay == ReplayAtTimestamp {
		ts = startClock.Add(-time.Second).UTC().Format(time.RFC3339Nano)
	}
	detail, err := r.resetCheckpoints(runCtx, ts)
	if err != nil {
		return nil, nil, []string{fmt.Sprintf("replay: reset checkpoints: %v", err)}
	}
	r.Instances.SetInitialPosition(r.Scenario.Replay, ts)
	r.Record("replay", detail, "")
	for _, in := range r.Instances.Instances() {
		if in.Index() >= r.Scenario.Instances {
			break
		}
		if err := in.Start(runCtx); err != nil {
			return nil, nil, []string{fmt.Sprintf("replay: start %s: %v", in.Name(), err)}
		}
	}
	caughtUp, err := r.waitCaughtUp(runCtx, acks, ends, r.Scenario.Quiet)
	if err != nil {
		problems = append(problems, fmt.Sprintf("replay: catching up: %v", err))
	}
	if !caughtUp {
		problems = append(problems, "replay: the replay did not deliver every acknowledged record again")
	}
	if err := r.Instances.Close(context.WithoutCancel(ctx)); err != nil {
		problems = append(problems, fmt.Sprintf("replay: graceful stop: %v", err))
	}
	replayOut, _, err := r.readOutput(ctx, ends)
	if err != nil {
		return nil, nil, append(problems, fmt.Sprintf("replay: read: %v", err))
	}
	onlyAcks := acks
	if r.Names.DLQTopic != "" {
		onlyAcks = nil
		for _, a := range acks {
			if a.Kind == workload.KindNormal {
				onlyAcks = append(onlyAcks, a)
			}
		}
	}
	onlyOpts := opts
	onlyOpts.Events = r.events()
	only := checker.Check(onlyAcks, replayOut, nil, onlyOpts)
	for _, p := range only.Problems(r.Scenario.Verdicts.Delivery) {
		problems = append(problems, "replay output: "+p)
	}
	allOut, dlqOut, err := r.readOutput(ctx, nil)
	if err != nil {
		return &only, nil, append(problems, fmt.Sprintf("replay: read: %v", err))
	}
	after := checker.Check(acks, allOut, dlqOut, onlyOpts)
	cmp := checker.CompareReplay(before, after)
	return &only, &cmp, problems
}
