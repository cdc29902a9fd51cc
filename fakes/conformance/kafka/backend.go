package kafkaconf

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shardbridge/shardbridge/fakes/conformance/refemu"
	fakekafka "github.com/shardbridge/shardbridge/fakes/kafka"
)

// Names of the backends, as used in subtest names and logs.
const (
	Kfake       = "kfake"
	ApacheKafka = "apache-kafka"
)

// kfakeModule is the module whose version StartKfake reports.
const kfakeModule = "github.com/twmb/franz-go/pkg/kfake"

// Backend is one running Kafka broker the suite checks.
type Backend struct {
	Name    string   // Kfake or ApacheKafka
	Version string   // kfake's module version, or Apache Kafka's release
	Brokers []string // seed addresses (host:port)

	// Kfake is the in-process cluster (nil for Apache Kafka).
	Kfake *fakekafka.Cluster
	// Apache is the reference broker (nil for kfake).
	Apache *refemu.Kafka

	closeOnce sync.Once
}

// StartKfake starts an in-process kfake broker through fakes/kafka.
func StartKfake(ctx context.Context, opts ...fakekafka.Option) (*Backend, error) {
	c, err := fakekafka.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Kfake, err)
	}
	return &Backend{Name: Kfake, Version: kfakeVersion(), Brokers: c.Brokers(), Kfake: c}, nil
}

// StartApacheKafka starts the reference Apache Kafka broker (see
// refemu.StartKafka). The error matches refemu.ErrNotInstalled when it is
// not installed.
func StartApacheKafka(ctx context.Context, opts ...refemu.Option) (*Backend, error) {
	k, err := refemu.StartKafka(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return &Backend{Name: ApacheKafka, Version: k.Version, Brokers: append([]string(nil), k.Brokers...), Apache: k}, nil
}

// Restart stops the broker cleanly and starts it again on the same address
// with its data kept.
func (b *Backend) Restart(ctx context.Context) error {
	if b.Kfake != nil {
		return b.Kfake.Restart(ctx)
	}
	return b.Apache.Restart(ctx)
}

// Close stops the broker for good and removes its data.
func (b *Backend) Close() error {
	var err error
	b.closeOnce.Do(func() {
		if b.Kfake != nil {
			b.Kfake.Close()
			return
		}
		err = b.Apache.Close()
	})
	return err
}

// kfakeVersion is the version of kfake linked into this binary: from the
// build information, else (test binaries carry no dependencies there) from
// the module-cache path of kfake's source ("…/kfake@VERSION/…"); "" when
// neither tells.
func kfakeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == kfakeModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	file, _ := runtime.FuncForPC(reflect.ValueOf(kfake.NewCluster).Pointer()).FileLine(0)
	_, rest, ok := strings.Cut(filepath.ToSlash(file), "/kfake@")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, "/")
	return v
}
