package replicator

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A broker that accepts connections and never answers must not hold
// start-up past its deadline.
func TestDescribeTopicReturnsAtDeadlineOnSilentBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { go cl.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := describeTopic(ctx, kadm.NewClient(cl), "t", "KAFKA_TOPIC")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.HasPrefix(err.Error(), "KAFKA_TOPIC: ") {
			t.Fatalf("describeTopic = %v, want an error naming KAFKA_TOPIC", err)
		}
	case <-time.After(5 * time.Second): // franz-go alone would wait its 10s timeouts
		t.Fatal("describeTopic ignores its deadline on a silent broker")
	}
}
