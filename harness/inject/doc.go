// Package inject is the catalogue of actions a scenario's schedule takes
// against the system under test: resharding, AWS faults, instance crashes
// and pauses, Kafka broker faults and lease-row damage.
//
// Contract:
//   - Every function returns a harness.Action for harness.Then; the action
//     records what it did on the Run (its kind, a detail, the shard), so the
//     report and the live demo show each fault with its time.
//   - An action that needs something a backend or bridge may lack says so
//     through Action.Needs (wrapping bridge.ErrUnsupported) before the run
//     starts, so the scenario skips with the reason instead of failing late.
package inject

import (
	"fmt"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
)

// need checks that the run's bridge offers every capability named.
func need(caps ...bridge.Capability) func(r *harness.Run) error {
	return func(r *harness.Run) error { return bridge.Missing(r.Bridge(), caps...) }
}

func needEmulator(r *harness.Run) error {
	if r.Env.KinesisEmulator() == nil {
		return fmt.Errorf("the in-process Kinesis emulator (backend %s has none): %w", r.Env.Backend(), bridge.ErrUnsupported)
	}
	return nil
}

func needKafka(r *harness.Run) error {
	if r.Env.Kafka() == nil {
		return fmt.Errorf("the in-process Kafka broker's fault controls (brokers are external): %w", bridge.ErrUnsupported)
	}
	return nil
}

func needBroker(r *harness.Run) error {
	if r.Env.Broker() == nil {
		return fmt.Errorf("control of the Kafka broker (backend %s gives none): %w", r.Env.Backend(), bridge.ErrUnsupported)
	}
	return nil
}

func needKiller(r *harness.Run) error {
	if err := needBroker(r); err != nil {
		return err
	}
	if _, ok := r.Env.Broker().(backend.BrokerKiller); !ok {
		return fmt.Errorf("a Kafka broker that can be killed (backend %s's cannot): %w", r.Env.Backend(), bridge.ErrUnsupported)
	}
	return nil
}

func needFaultLayer(r *harness.Run) error {
	if !r.Env.HasFaultLayer() {
		return fmt.Errorf("the AWS fault layer (backend %s sends requests to AWS directly): %w", r.Env.Backend(), bridge.ErrUnsupported)
	}
	return nil
}
