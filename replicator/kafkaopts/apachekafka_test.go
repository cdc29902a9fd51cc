package kafkaopts

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/fakes/conformance/refemu"
	"github.com/shardbridge/shardbridge/replicator/config"
)

// The SASL and TLS settings against a real Apache Kafka broker (make kafka),
// not only kfake: PLAIN and SCRAM over SASL_PLAINTEXT, SSL with a CA file,
// SCRAM over SASL_SSL, and wrong credentials refused.
func TestSASLAndTLSOnApacheKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM")
	}
	dir := t.TempDir()
	caFile, _ := testPKI(t, dir)
	cert, _ := os.ReadFile(filepath.Join(dir, "server-chain.pem"))
	key, _ := os.ReadFile(filepath.Join(dir, "server-key.pem"))
	k := refemu.StartKafkaForTest(t, refemu.WithKafkaSecurity(refemu.KafkaSecurity{
		CertPEM: cert, KeyPEM: key,
		Users: map[string]map[string]string{
			"PLAIN":         {"plainuser": "plainpass"},
			"SCRAM-SHA-256": {"scram256": "pass256"},
			"SCRAM-SHA-512": {"scram512": "pass512"},
		},
	}))
	createTopic(t, k.Brokers)

	for _, tc := range []struct{ name, protocol, mech, user, pass string }{
		{"sasl_plaintext PLAIN", "SASL_PLAINTEXT", "PLAIN", "plainuser", "plainpass"},
		{"sasl_plaintext SCRAM-SHA-256", "SASL_PLAINTEXT", "SCRAM-SHA-256", "scram256", "pass256"},
		{"sasl_plaintext SCRAM-SHA-512", "SASL_PLAINTEXT", "SCRAM-SHA-512", "scram512", "pass512"},
		{"ssl", "SSL", "", "", ""},
		{"sasl_ssl SCRAM-SHA-512", "SASL_SSL", "SCRAM-SHA-512", "scram512", "pass512"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			produce(t, settings([]string{k.Listeners[tc.protocol]}, func(c *config.Config) {
				c.SecurityProtocol, c.SASLMechanism, c.SASLUsername, c.SASLPassword = tc.protocol, tc.mech, tc.user, tc.pass
				if tc.protocol == "SSL" || tc.protocol == "SASL_SSL" {
					c.TLSCAFile = caFile
				}
			}))
		})
	}
	for _, tc := range []struct{ name, mech, user, pass string }{
		{"wrong scram password", "SCRAM-SHA-256", "scram256", "nope"},
		{"wrong plain password", "PLAIN", "plainuser", "nope"},
		{"scram user with the wrong hash", "SCRAM-SHA-512", "scram256", "pass256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := Build(settings([]string{k.Listeners["SASL_PLAINTEXT"]}, func(c *config.Config) {
				c.SecurityProtocol, c.SASLMechanism, c.SASLUsername, c.SASLPassword = "SASL_PLAINTEXT", tc.mech, tc.user, tc.pass
			}))
			if err != nil {
				t.Fatal(err)
			}
			// Unlike kfake, Apache Kafka answers a failed authentication with
			// an error the client reports at once.
			if err := CheckReachable(context.Background(), opts, 5*time.Second); err == nil {
				t.Fatal("bad credentials accepted")
			} else {
				t.Logf("refused as expected: %v", err)
			}
		})
	}
}

// createTopic makes topic "t", which produce writes to (the broker creates
// none by itself).
func createTopic(t *testing.T, brokers []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
}
