package refemu

import (
	"context"
	"errors"
	"os"
	"testing"
)

// EnvRequireReference, set to 1 (as CI does), turns a missing reference
// service into a test failure instead of a skip.
const EnvRequireReference = "SHARDBRIDGE_REQUIRE_REFERENCE"

// StartKafkaForTest starts Apache Kafka for a test and closes it when the
// test ends. A broker that is not installed skips the test with the reason
// (fails it under SHARDBRIDGE_REQUIRE_REFERENCE=1); any other start error
// fails it.
func StartKafkaForTest(tb testing.TB, opts ...Option) *Kafka {
	tb.Helper()
	k, err := StartKafka(context.Background(), opts...)
	switch {
	case errors.Is(err, ErrNotInstalled) && os.Getenv(EnvRequireReference) == "1":
		tb.Fatalf("%s required (%s=1) but unavailable: %v", ApacheKafka, EnvRequireReference, err)
	case errors.Is(err, ErrNotInstalled):
		tb.Skipf("%s not installed (run make kafka): %v", ApacheKafka, err)
	case err != nil:
		tb.Fatalf("%s: %v", ApacheKafka, err)
	}
	tb.Cleanup(func() { _ = k.Close() })
	return k
}
