package kafkaopts

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator/config"
)

// settings is a valid Config with brokers and the changes of f applied:
// what Build gets from replicator.New.
func settings(brokers []string, f func(*config.Config)) config.Config {
	c := config.Defaults()
	c.StreamName, c.ApplicationName, c.KafkaTopic, c.KafkaBrokers = "s", "a", "t", brokers
	if f != nil {
		f(&c)
	}
	return c
}

// Build's own errors are about reading the TLS files; a bad setting is
// config.Validate's error (the setting checks are tested in config).
func TestBuildErrorsNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	ssl := func(f func(*config.Config)) func(*config.Config) {
		return func(c *config.Config) { c.SecurityProtocol = "SSL"; f(c) }
	}
	cases := []struct {
		name string
		f    func(*config.Config)
		want string
	}{
		{"missing ca file", ssl(func(c *config.Config) { c.TLSCAFile = "/nonexistent/ca.pem" }), "REPLICATOR_KAFKA_TLS_CA_FILE: open /nonexistent/ca.pem"},
		{"ca file without pem", ssl(func(c *config.Config) { c.TLSCAFile = empty }), "REPLICATOR_KAFKA_TLS_CA_FILE: no PEM certificate in " + empty},
		{"unreadable key pair", ssl(func(c *config.Config) { c.TLSCertFile, c.TLSKeyFile = empty, empty }),
			"REPLICATOR_KAFKA_TLS_CERT_FILE/REPLICATOR_KAFKA_TLS_KEY_FILE: "},
		// Validated first: the same error as config.Validate's.
		{"invalid setting", func(c *config.Config) { c.Compression = "brotli" }, `REPLICATOR_KAFKA_COMPRESSION: "brotli" is not one of`},
		{"no brokers", func(c *config.Config) { c.KafkaBrokers = nil }, "KAFKA_BOOTSTRAP_SERVERS: required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(settings([]string{"127.0.0.1:9092"}, c.f))
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error %v, want prefix %q", err, c.want)
			}
		})
	}
}

// The options a client ends up with, read back from franz-go itself.
func TestBuildOptionValues(t *testing.T) {
	opts, err := Build(settings([]string{"b1:9092", "b2:9093"}, func(c *config.Config) {
		c.KafkaClientID, c.Compression, c.Linger = "shardbridge", "zstd", 7*time.Millisecond
	}))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	checks := []struct {
		opt  any
		want string
	}{
		{kgo.SeedBrokers, "[b1:9092 b2:9093]"},
		{kgo.ClientID, "shardbridge"},
		{kgo.RequiredAcks, "{-1}"},
		{kgo.DisableIdempotentWrite, "false"},
		{kgo.ProducerLinger, "7ms"},
		{kgo.ProducerBatchCompression, "[{4 0}]"}, // codec 4 = zstd
	}
	for _, c := range checks {
		if got := strings.TrimSpace(sprint(cl.OptValue(c.opt))); got != c.want {
			t.Errorf("%T option = %s, want %s", c.opt, got, c.want)
		}
	}

	// A Config built in code with zero values: idempotent, acks=all, linger
	// as given (0), franz-go's client id and compression.
	opts, err = Build(config.Config{StreamName: "s", ApplicationName: "a", KafkaTopic: "t", KafkaBrokers: []string{"b:9092"}, WorkerID: "w"}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	cl2, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	if sprint(cl2.OptValue(kgo.DisableIdempotentWrite)) != "false" || sprint(cl2.OptValue(kgo.RequiredAcks)) != "{-1}" || sprint(cl2.OptValue(kgo.ProducerLinger)) != "0s" {
		t.Errorf("defaults: idempotence disabled=%v acks=%v linger=%v",
			cl2.OptValue(kgo.DisableIdempotentWrite), cl2.OptValue(kgo.RequiredAcks), cl2.OptValue(kgo.ProducerLinger))
	}
	if got := sprint(cl2.OptValue(kgo.ClientID)); got != "kgo" {
		t.Errorf("client id %s, want franz-go's kgo", got)
	}
}

func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, "t")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// produce builds a client from o, checks reachability and produces one
// record, which must come back with an idempotent producer id.
func produce(t *testing.T, c config.Config) {
	t.Helper()
	opts, err := Build(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := CheckReachable(ctx, opts, 5*time.Second); err != nil {
		t.Fatalf("CheckReachable: %v", err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic("t"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r := &kgo.Record{Key: []byte("k"), Value: []byte(strings.Repeat("compress me ", 50))}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if r.ProducerID < 0 {
		t.Fatalf("record produced without an idempotent producer id (%d)", r.ProducerID)
	}
}

func TestProducePlaintextEveryCodec(t *testing.T) {
	c := newCluster(t)
	for _, codec := range []string{"", "none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run("codec="+codec, func(t *testing.T) {
			produce(t, settings(c.ListenAddrs(), func(o *config.Config) { o.Compression, o.Linger = codec, time.Millisecond }))
		})
	}
}

func TestSASL(t *testing.T) {
	c := newCluster(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plainuser", "plainpass"),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "pass256"),
		kfake.Superuser("SCRAM-SHA-512", "scram512", "pass512"),
	)
	for _, tc := range []struct{ mech, user, pass string }{
		{"PLAIN", "plainuser", "plainpass"},
		{"", "plainuser", "plainpass"}, // PLAIN is the default mechanism
		{"SCRAM-SHA-256", "scram256", "pass256"},
		{"SCRAM-SHA-512", "scram512", "pass512"},
	} {
		t.Run("mech="+tc.mech, func(t *testing.T) {
			produce(t, settings(c.ListenAddrs(), func(o *config.Config) {
				o.SecurityProtocol, o.SASLMechanism, o.SASLUsername, o.SASLPassword = "SASL_PLAINTEXT", tc.mech, tc.user, tc.pass
			}))
		})
	}
	for _, tc := range []struct{ name, mech, user, pass string }{
		{"wrong scram password", "SCRAM-SHA-256", "scram256", "nope"},
		{"wrong plain password", "PLAIN", "plainuser", "nope"},
		{"scram user with the wrong hash", "SCRAM-SHA-512", "scram256", "pass256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts, err := Build(settings(c.ListenAddrs(), func(o *config.Config) {
				o.SecurityProtocol, o.SASLMechanism, o.SASLUsername, o.SASLPassword = "SASL_PLAINTEXT", tc.mech, tc.user, tc.pass
			}))
			if err != nil {
				t.Fatal(err)
			}
			// kfake answers a failed authentication by closing the
			// connection, which looks like a transient failure, so this
			// runs to the (short) timeout.
			if err := CheckReachable(context.Background(), opts, time.Second); err == nil {
				t.Fatal("bad credentials accepted")
			} else {
				t.Logf("refused as expected: %v", err)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, serverCfg := testPKI(t, dir)
	plainTLS := newCluster(t, kfake.TLS(serverCfg))
	saslTLS := newCluster(t, kfake.TLS(serverCfg), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "u", "p"))

	t.Run("ca file", func(t *testing.T) {
		produce(t, settings(plainTLS.ListenAddrs(), func(c *config.Config) { c.SecurityProtocol, c.TLSCAFile = "SSL", caFile }))
	})
	t.Run("insecure skip verify", func(t *testing.T) {
		produce(t, settings(plainTLS.ListenAddrs(), func(c *config.Config) { c.SecurityProtocol, c.TLSInsecureSkipVerify = "SSL", true }))
	})
	t.Run("sasl_ssl", func(t *testing.T) {
		produce(t, settings(saslTLS.ListenAddrs(), func(c *config.Config) {
			c.SecurityProtocol, c.TLSCAFile, c.SASLMechanism, c.SASLUsername, c.SASLPassword = "SASL_SSL", caFile, "SCRAM-SHA-512", "u", "p"
		}))
	})
	t.Run("unknown authority", func(t *testing.T) {
		opts, err := Build(settings(plainTLS.ListenAddrs(), func(c *config.Config) { c.SecurityProtocol = "SSL" }))
		if err != nil {
			t.Fatal(err)
		}
		err = CheckReachable(context.Background(), opts, time.Second)
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("untrusted certificate: %v", err)
		}
	})
	t.Run("plaintext client to tls broker", func(t *testing.T) {
		opts, err := Build(settings(plainTLS.ListenAddrs(), nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckReachable(context.Background(), opts, time.Second); err == nil {
			t.Fatal("plaintext client reached a TLS-only broker")
		}
	})
}

func TestCheckReachableIsBounded(t *testing.T) {
	// A closed port (connection refused) and a listener that accepts but
	// never answers (a hung broker): both must end at the timeout with an
	// error naming the brokers.
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() }) // the parallel subtests outlive this function body
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // hold it open, say nothing
		}
	}()

	for name, addr := range map[string]string{"refused": refusedAddr, "silent": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts, err := Build(settings([]string{addr}, nil))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- CheckReachable(context.Background(), opts, 700*time.Millisecond) }()
			select {
			case err := <-done:
				want := "kafka brokers [" + addr + "] unreachable after 700ms: "
				if err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Fatalf("error %v, want prefix %q", err, want)
				}
				t.Logf("%v", err)
			case <-time.After(30 * time.Second): // generous: only a hang trips this
				t.Fatal("CheckReachable hung")
			}
		})
	}

	// Cancelling the caller's context is not reported as unreachability.
	opts, _ := Build(settings([]string{refusedAddr}, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := CheckReachable(ctx, opts, time.Minute); err == nil || strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("cancelled check: %v", err)
	}
}

// testPKI writes a CA certificate to dir and returns its path and a server
// TLS config for 127.0.0.1 signed by it.
func testPKI(t *testing.T, dir string) (string, *tls.Config) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shardbridge test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	// The server's chain and key as PEM too, for a broker that reads files.
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	if err := os.WriteFile(filepath.Join(dir, "server-chain.pem"), chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
	}
}

func sprint(v any) string { return fmt.Sprint(v) }

// A broker that comes up while the check is retrying (compose stacks start
// everything at once) is found: refused dials are retried, not fatal.
func TestCheckReachableWaitsForALateBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts, err := Build(settings([]string{ln.Addr().String()}, nil))
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan *kfake.Cluster, 1)
	go func() {
		time.Sleep(300 * time.Millisecond) // let the first attempts be refused
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
		if err != nil {
			t.Errorf("late broker: %v", err)
		}
		started <- c
	}()
	err = CheckReachable(context.Background(), opts, 20*time.Second)
	if c := <-started; c != nil {
		defer c.Close()
	}
	if err != nil {
		t.Fatalf("late broker not found: %v", err)
	}
}
