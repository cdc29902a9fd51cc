package soak

import (
	"context"
	"fmt"

	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
)

// Profile is what an environment offers a generated schedule. Each field
// enables the actions whose Needs it satisfies; Generate draws no other.
type Profile struct {
	Backend string // named in the description
	// Pause: the bridge's instances can be frozen (inject.Pause).
	Pause bool
	// LeaseTable: the bridge keeps a KCL lease table (lease triggers,
	// inject.CorruptLease / RepairLease).
	LeaseTable bool
	// FaultLayer: AWS requests pass the fault layer (ThrottleReads,
	// ThrottleLeaseTable).
	FaultLayer bool
	// ExpireIterators: the backend's clock or fault layer can expire
	// iterators.
	ExpireIterators bool
	// BrokerControl: the Kafka broker can be restarted (RestartBroker).
	BrokerControl bool
	// BrokerFaults: the in-process broker's fault controls (FailProduce,
	// TimeoutAfterAppend).
	BrokerFaults bool
}

// FullProfile is the embedded backend with the in-process Shardbridge:
// every action of the vocabulary.
func FullProfile() Profile {
	return Profile{Backend: string(backend.Embedded), Pause: true, LeaseTable: true, FaultLayer: true,
		ExpireIterators: true, BrokerControl: true, BrokerFaults: true}
}

// ProfileOf reads what env and a bridge with caps offer.
func ProfileOf(env *backend.Env, caps bridge.Capabilities) Profile {
	return Profile{
		Backend:         string(env.Backend()),
		Pause:           caps.Pause,
		LeaseTable:      caps.LeaseTable,
		FaultLayer:      env.HasFaultLayer(),
		ExpireIterators: env.ControlsServiceClock() || env.HasFaultLayer(),
		BrokerControl:   env.Broker() != nil,
		BrokerFaults:    env.Kafka() != nil,
	}
}

// Probe starts the backend once to learn its profile with the bridge l.
func Probe(ctx context.Context, l bridge.Launcher, opts ...backend.Option) (Profile, error) {
	env, err := backend.Start(ctx, opts...)
	if err != nil {
		return Profile{}, fmt.Errorf("probe the backend: %w", err)
	}
	defer env.Close(context.WithoutCancel(ctx))
	return ProfileOf(env, l.Capabilities()), nil
}
