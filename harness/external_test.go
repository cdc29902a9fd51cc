package harness_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/fakes/conformance/refemu"
	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridges"
)

// A run on the external backend against a Kafka that wants SASL over TLS
// (Apache Kafka with a SCRAM-SHA-512 user on a SASL_SSL listener): the
// harness's own clients and the bridge both get the security settings, and
// the run passes. The AWS side is an embedded environment's endpoints.
func TestExternalBackendReachesASASLSSLKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM")
	}
	ctx := context.Background()
	dir := t.TempDir()
	caFile, cert, key := selfSignedPKI(t, dir)
	k := refemu.StartKafkaForTest(t, refemu.WithKafkaSecurity(refemu.KafkaSecurity{CertPEM: cert, KeyPEM: key,
		Users: map[string]map[string]string{"SCRAM-SHA-512": {"chaos": "chaos-pass"}}}))
	aws, err := backend.Start(ctx, backend.WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = aws.Close(ctx) })
	for key, v := range map[string]string{
		backend.EnvKinesisEndpoint: aws.KinesisEndpoint(), backend.EnvDynamoDBEndpoint: aws.DynamoDBEndpoint(),
		backend.EnvKafkaBrokers: k.Listeners["SASL_SSL"], backend.EnvKafkaSecurityProtocol: "SASL_SSL",
		backend.EnvKafkaSASLMechanism: "SCRAM-SHA-512", backend.EnvKafkaSASLUsername: "chaos",
		backend.EnvKafkaSASLPassword: "chaos-pass", backend.EnvKafkaTLSCAFile: caFile,
		"AWS_ACCESS_KEY_ID": "AKIDEXTERNAL", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-1",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED": "true", backend.EnvRegion: "",
	} {
		t.Setenv(key, v)
	}
	sc := harness.Scenario{Name: "external-sasl-ssl", Shards: 1, Partitions: 1, Records: 300}
	out, err := sc.Run(ctx, harness.RunSeed(7), harness.RunBridge(bridges.InProcess()), harness.RunBackend(backend.WithKind(backend.External)))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Passed() {
		t.Fatalf("run failed: %v", out.Problems())
	}
	if out.Result.Acked != 300 || !strings.Contains(out.Report.Backend, "Kafka "+k.Listeners["SASL_SSL"]) {
		t.Errorf("acked %d, backend %q", out.Result.Acked, out.Report.Backend)
	}
}

// selfSignedPKI writes a CA file and returns it with a server certificate
// chain and key (PKCS#8) for 127.0.0.1.
func selfSignedPKI(t *testing.T, dir string) (caFile string, chain, key []byte) {
	t.Helper()
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "chaos CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	chain = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), caPEM...)
	return caFile, chain, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}
