package inject

import (
	"context"
	"fmt"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/bridge"
)

func instanceAction(kind, verb string, sel harness.InstanceSelector, needs func(*harness.Run) error, f func(ctx context.Context, in *bridge.Instance) error) harness.Action {
	return harness.Action{Kind: kind, Desc: verb + " " + sel.Desc, Needs: needs, Do: func(ctx context.Context, r *harness.Run) error {
		in, err := sel.Pick(ctx, r)
		if err != nil {
			return err
		}
		if err := f(ctx, in); err != nil {
			return fmt.Errorf("%s %s: %w", verb, in.Name(), err)
		}
		// After the action: a started instance shows its new life's worker id.
		r.Record(kind, fmt.Sprintf("%s %s (%s)", verb, in.Name(), in.WorkerID()), "")
		return nil
	}}
}

// Kill kills an instance: SIGKILL, or an in-process instance cut off at once.
func Kill(sel harness.InstanceSelector) harness.Action {
	return instanceAction("kill", "killed", sel, nil, func(_ context.Context, in *bridge.Instance) error { return in.Kill() })
}

// Stop stops an instance gracefully (SIGTERM): an instance leaving.
func Stop(sel harness.InstanceSelector) harness.Action {
	return instanceAction("stop", "stopped", sel, nil, func(ctx context.Context, in *bridge.Instance) error { return in.Stop(ctx) })
}

// Restart stops an instance gracefully and starts it again.
func Restart(sel harness.InstanceSelector) harness.Action {
	return instanceAction("restart", "restarted", sel, nil, func(ctx context.Context, in *bridge.Instance) error { return in.Restart(ctx) })
}

// StartAgain starts a new life of a stopped or killed instance.
func StartAgain(sel harness.InstanceSelector) harness.Action {
	return instanceAction("start", "started", sel, nil, func(ctx context.Context, in *bridge.Instance) error { return in.Start(ctx) })
}

// Pause freezes an instance (SIGSTOP) until Resume: a zombie in the making.
func Pause(sel harness.InstanceSelector) harness.Action {
	return instanceAction("pause", "paused", sel, need(bridge.Pause), func(_ context.Context, in *bridge.Instance) error { return in.Pause() })
}

// Resume thaws a paused instance.
func Resume(sel harness.InstanceSelector) harness.Action {
	return instanceAction("resume", "resumed", sel, need(bridge.Pause), func(_ context.Context, in *bridge.Instance) error { return in.Resume() })
}

// CutOffLeaseTable cuts an instance off from the lease table (every DynamoDB
// call it makes fails with a network error) while its Kinesis reads and
// Kafka writes go on, until ReconnectLeaseTable: a worker partitioned from
// DynamoDB, whose leases the others take over. In-process instances only.
func CutOffLeaseTable(sel harness.InstanceSelector) harness.Action {
	return instanceAction("lease-table-cut", "cut off from the lease table", sel, need(bridge.CutLeaseTable),
		func(_ context.Context, in *bridge.Instance) error { return in.CutLeaseTable() })
}

// ReconnectLeaseTable ends CutOffLeaseTable.
func ReconnectLeaseTable(sel harness.InstanceSelector) harness.Action {
	return instanceAction("lease-table-reconnect", "reconnected to the lease table", sel, need(bridge.CutLeaseTable),
		func(_ context.Context, in *bridge.Instance) error { return in.RestoreLeaseTable() })
}

// AddInstance starts one more instance: a worker joining.
func AddInstance() harness.Action {
	return harness.Action{Kind: "join", Desc: "add an instance", Do: func(ctx context.Context, r *harness.Run) error {
		in, err := r.Instances.Add(ctx)
		if err != nil {
			return err
		}
		r.Record("join", fmt.Sprintf("started %s (%s)", in.Name(), in.WorkerID()), "")
		return nil
	}}
}

// StallSink holds back every record the in-process instances hand to Kafka
// until ReleaseSink.
func StallSink() harness.Action {
	return harness.Action{Kind: "sink-stall", Desc: "stall the Kafka sink", Needs: need(bridge.StallSink), Do: func(_ context.Context, r *harness.Run) error {
		if err := r.Instances.StallSink(); err != nil {
			return err
		}
		r.Record("sink-stall", "Kafka sink stalled", "")
		return nil
	}}
}

// ReleaseSink ends StallSink.
func ReleaseSink() harness.Action {
	return harness.Action{Kind: "sink-release", Desc: "release the Kafka sink", Needs: need(bridge.StallSink), Do: func(_ context.Context, r *harness.Run) error {
		r.Instances.ReleaseSink()
		r.Record("sink-release", "Kafka sink released", "")
		return nil
	}}
}
