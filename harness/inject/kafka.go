package inject

import (
	"context"
	"fmt"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
)

// GrowTopic raises the data topic's partition count to total, as an operator
// would after a reshard with REPLICATOR_PARTITIONING=shard.
func GrowTopic(total int) harness.Action {
	return harness.Action{Kind: "grow-topic", Desc: fmt.Sprintf("grow the topic to %d partitions", total), Do: func(ctx context.Context, r *harness.Run) error {
		if err := r.Env.GrowTopic(ctx, r.Names.Topic, total); err != nil {
			return err
		}
		r.Record("grow-topic", fmt.Sprintf("topic %s grown to %d partitions", r.Names.Topic, total), "")
		return nil
	}}
}

// RestartBroker stops the Kafka broker and starts it again with its data.
func RestartBroker() harness.Action {
	return harness.Action{Kind: "broker-restart", Desc: "restart the Kafka broker", Needs: needBroker, Do: func(ctx context.Context, r *harness.Run) error {
		if err := r.Env.Broker().Restart(ctx); err != nil {
			return fmt.Errorf("restart broker: %w", err)
		}
		r.Record("broker-restart", "Kafka broker restarted (data kept)", "")
		return nil
	}}
}

// StopBroker takes the Kafka broker down for d.
func StopBroker(d time.Duration) harness.Action {
	return harness.Action{Kind: "broker-down", Desc: "Kafka broker down for " + d.String(), Needs: needBroker, Do: func(ctx context.Context, r *harness.Run) error {
		if err := r.Env.Broker().Stop(ctx); err != nil {
			return fmt.Errorf("stop broker: %w", err)
		}
		r.Record("broker-down", "Kafka broker stopped for "+d.String(), "")
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		if err := r.Env.Broker().Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start broker: %w", err)
		}
		r.Record("broker-up", "Kafka broker started", "")
		return nil
	}}
}

// CrashBroker kills the Kafka broker (SIGKILL: requests in flight get no
// answer, so their outcome is unknown to the producer), keeps it down for d,
// and starts it again on its data.
func CrashBroker(d time.Duration) harness.Action {
	return harness.Action{Kind: "broker-crash", Desc: "crash the Kafka broker for " + d.String(), Needs: needKiller, Do: func(ctx context.Context, r *harness.Run) error {
		if err := r.Env.Broker().(backend.BrokerKiller).Kill(); err != nil {
			return fmt.Errorf("kill broker: %w", err)
		}
		r.Record("broker-crash", "Kafka broker killed (SIGKILL), down for "+d.String(), "")
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		if err := r.Env.Broker().Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start broker: %w", err)
		}
		r.Record("broker-up", "Kafka broker started on its data", "")
		return nil
	}}
}

// FailProduce makes the next n produce requests to the topic fail with the
// Kafka error code (e.g. 6 NOT_LEADER_OR_FOLLOWER).
func FailProduce(code int16, n int) harness.Action {
	return harness.Action{Kind: "produce-error", Desc: fmt.Sprintf("fail %d produce requests with code %d", n, code), Needs: needKafka,
		Do: func(_ context.Context, r *harness.Run) error {
			r.Env.Kafka().FailProduce(r.Names.Topic, code, n)
			r.Record("produce-error", fmt.Sprintf("next %d produce requests fail with Kafka error %d", n, code), "")
			return nil
		}}
}

// TimeoutAfterAppend makes the next n produce requests to the topic append
// and then answer REQUEST_TIMED_OUT: the outcome is unknown to the producer.
func TimeoutAfterAppend(n int) harness.Action {
	return harness.Action{Kind: "produce-timeout", Desc: fmt.Sprintf("time out %d produce requests after appending", n), Needs: needKafka,
		Do: func(_ context.Context, r *harness.Run) error {
			r.Env.Kafka().TimeoutAfterAppend(r.Names.Topic, n)
			r.Record("produce-timeout", fmt.Sprintf("next %d produce requests append, then time out (unknown outcome)", n), "")
			return nil
		}}
}

// MoveLeaders moves the leadership of every partition of the topic.
func MoveLeaders() harness.Action {
	return harness.Action{Kind: "leader-move", Desc: "move every partition's leader", Needs: needKafka, Do: func(_ context.Context, r *harness.Run) error {
		for p := int32(0); p < r.Partitions; p++ {
			if err := r.Env.Kafka().MoveLeader(r.Names.Topic, p); err != nil {
				return fmt.Errorf("move leader of partition %d: %w", p, err)
			}
		}
		r.Record("leader-move", fmt.Sprintf("moved the leader of %d partitions", r.Partitions), "")
		return nil
	}}
}

// BrokerLatency delays every Kafka request by latency for d.
func BrokerLatency(latency, d time.Duration) harness.Action {
	return harness.Action{Kind: "broker-latency", Desc: fmt.Sprintf("Kafka latency %s for %s", latency, d), Needs: needKafka, Do: func(ctx context.Context, r *harness.Run) error {
		r.Env.Kafka().SetLatency(latency)
		r.Record("broker-latency", fmt.Sprintf("every Kafka request delayed %s for %s", latency, d), "")
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		r.Env.Kafka().SetLatency(0)
		return nil
	}}
}
