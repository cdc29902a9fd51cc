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
)

func TestBuildErrorsNameTheSetting(t *testing.T) {
	base := Options{Brokers: []string{"127.0.0.1:9092"}}
	with := func(f func(*Options)) Options { o := base; f(&o); return o }
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"no brokers", Options{}, "KAFKA_BOOTSTRAP_SERVERS: required"},
		{"blank brokers", Options{Brokers: []string{" ", ""}}, "KAFKA_BOOTSTRAP_SERVERS: required"},
		{"protocol", with(func(o *Options) { o.SecurityProtocol = "SASL_TLS" }), `KAFKA_SECURITY_PROTOCOL: unsupported "SASL_TLS"`},
		{"gssapi", with(func(o *Options) {
			o.SecurityProtocol, o.SASLMechanism, o.SASLUsername, o.SASLPassword = "SASL_SSL", "GSSAPI", "u", "p"
		}), `KAFKA_SASL_MECHANISM: unsupported "GSSAPI" (want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)`},
		{"sasl without user", with(func(o *Options) { o.SecurityProtocol, o.SASLPassword = "SASL_PLAINTEXT", "p" }), "KAFKA_SASL_USERNAME: required"},
		{"sasl without password", with(func(o *Options) { o.SecurityProtocol, o.SASLUsername = "SASL_PLAINTEXT", "u" }), "KAFKA_SASL_PASSWORD: required"},
		{"user on plaintext", with(func(o *Options) { o.SASLUsername = "u" }), "KAFKA_SASL_USERNAME: set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"},
		{"mechanism on ssl", with(func(o *Options) { o.SecurityProtocol, o.SASLMechanism = "SSL", "PLAIN" }), "KAFKA_SASL_MECHANISM: set, but KAFKA_SECURITY_PROTOCOL is SSL"},
		{"ca on plaintext", with(func(o *Options) { o.TLSCAFile = "/x" }), "REPLICATOR_KAFKA_TLS_CA_FILE: set, but"},
		{"insecure on sasl_plaintext", with(func(o *Options) {
			o.SecurityProtocol, o.SASLUsername, o.SASLPassword, o.TLSInsecureSkipVerify = "SASL_PLAINTEXT", "u", "p", true
		}), "REPLICATOR_KAFKA_TLS_INSECURE_SKIP_VERIFY: set, but"},
		{"missing ca file", with(func(o *Options) { o.SecurityProtocol, o.TLSCAFile = "SSL", "/nonexistent/ca.pem" }), "REPLICATOR_KAFKA_TLS_CA_FILE: open /nonexistent/ca.pem"},
		{"cert without key", with(func(o *Options) { o.SecurityProtocol, o.TLSCertFile = "SSL", "/x.pem" }), "REPLICATOR_KAFKA_TLS_KEY_FILE: required"},
		{"compression", with(func(o *Options) { o.Compression = "brotli" }), `REPLICATOR_KAFKA_COMPRESSION: unsupported "brotli"`},
		{"linger", with(func(o *Options) { o.Linger = -time.Millisecond }), "REPLICATOR_KAFKA_LINGER: -1ms is negative"},
		{"batch", with(func(o *Options) { o.BatchMaxBytes = -1 }), "REPLICATOR_KAFKA_BATCH_MAX_BYTES: -1 is negative"},
		{"buffered", with(func(o *Options) { o.MaxBufferedRecords = -1 }), "REPLICATOR_KAFKA_MAX_BUFFERED_RECORDS: -1 is negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.o)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error %v, want prefix %q", err, c.want)
			}
		})
	}
	// An empty CA file is a clear error too.
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(with(func(o *Options) { o.SecurityProtocol, o.TLSCAFile = "ssl", empty })); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("bad CA file: %v", err)
	}
}

// The options a client ends up with, read back from franz-go itself.
func TestBuildOptionValues(t *testing.T) {
	opts, err := Build(Options{
		Brokers: []string{"b1:9092", " b2:9093 "}, ClientID: "shardbridge", Compression: "ZSTD",
		Linger: 7 * time.Millisecond, BatchMaxBytes: 500_000, MaxBufferedRecords: 1234, TransactionalID: "tx-1",
	})
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
		{kgo.MaxBufferedRecords, "1234"},
		{kgo.TransactionalID, "tx-1"},
		{kgo.ProducerBatchCompression, "[{4 0}]"}, // codec 4 = zstd
	}
	for _, c := range checks {
		if got := strings.TrimSpace(sprint(cl.OptValue(c.opt))); got != c.want {
			t.Errorf("%T option = %s, want %s", c.opt, got, c.want)
		}
	}
	if v, ok := cl.OptValue(kgo.ProducerBatchMaxBytes).(int32); !ok || v != 500_000 {
		t.Errorf("ProducerBatchMaxBytes = %v", cl.OptValue(kgo.ProducerBatchMaxBytes))
	}

	// Defaults: idempotent, acks=all, linger as given (0), no client id override.
	opts, err = Build(Options{Brokers: []string{"b"}})
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
func produce(t *testing.T, o Options) {
	t.Helper()
	opts, err := Build(o)
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
			produce(t, Options{Brokers: c.ListenAddrs(), Compression: codec, Linger: time.Millisecond})
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
		{"scram-sha-512", "scram512", "pass512"},
	} {
		t.Run("mech="+tc.mech, func(t *testing.T) {
			produce(t, Options{Brokers: c.ListenAddrs(), SecurityProtocol: "SASL_PLAINTEXT", SASLMechanism: tc.mech, SASLUsername: tc.user, SASLPassword: tc.pass})
		})
	}
	for _, tc := range []struct{ name, mech, user, pass string }{
		{"wrong scram password", "SCRAM-SHA-256", "scram256", "nope"},
		{"wrong plain password", "PLAIN", "plainuser", "nope"},
		{"scram user with the wrong hash", "SCRAM-SHA-512", "scram256", "pass256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts, err := Build(Options{Brokers: c.ListenAddrs(), SecurityProtocol: "SASL_PLAINTEXT", SASLMechanism: tc.mech, SASLUsername: tc.user, SASLPassword: tc.pass})
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
		produce(t, Options{Brokers: plainTLS.ListenAddrs(), SecurityProtocol: "SSL", TLSCAFile: caFile})
	})
	t.Run("insecure skip verify", func(t *testing.T) {
		produce(t, Options{Brokers: plainTLS.ListenAddrs(), SecurityProtocol: "SSL", TLSInsecureSkipVerify: true})
	})
	t.Run("sasl_ssl", func(t *testing.T) {
		produce(t, Options{Brokers: saslTLS.ListenAddrs(), SecurityProtocol: "SASL_SSL", TLSCAFile: caFile, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPassword: "p"})
	})
	t.Run("unknown authority", func(t *testing.T) {
		opts, err := Build(Options{Brokers: plainTLS.ListenAddrs(), SecurityProtocol: "SSL"})
		if err != nil {
			t.Fatal(err)
		}
		err = CheckReachable(context.Background(), opts, time.Second)
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("untrusted certificate: %v", err)
		}
	})
	t.Run("plaintext client to tls broker", func(t *testing.T) {
		opts, err := Build(Options{Brokers: plainTLS.ListenAddrs()})
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
			opts, err := Build(Options{Brokers: []string{addr}})
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
	opts, _ := Build(Options{Brokers: []string{refusedAddr}})
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
	opts, err := Build(Options{Brokers: []string{ln.Addr().String()}})
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
