package refemu

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The reference broker starts, keeps its data across a clean restart and a
// crash, and reports its version.
func TestKafkaStartsAndKeepsItsDataAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	k, err := StartKafka(ctx)
	if errors.Is(err, ErrNotInstalled) {
		skipOrFail(t, ApacheKafka, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	t.Logf("%s %s started in %s", ApacheKafka, k.Version, time.Since(start).Round(10*time.Millisecond))
	if k.Version == "" || len(k.Brokers) != 1 {
		t.Fatalf("version %q, brokers %v", k.Version, k.Brokers)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	produce := func(v string) {
		t.Helper()
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := cl.ProduceSync(pctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
	produce("before")
	if err := k.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	produce("after restart")
	if err := k.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	produce("after crash")
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("t", 0); o.Offset != 3 {
		t.Errorf("end offset %d after three writes across a restart and a crash, want 3", o.Offset)
	}
}
