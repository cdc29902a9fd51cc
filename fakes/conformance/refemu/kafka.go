package refemu

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ApacheKafka is the name of the reference Kafka broker in logs and reports.
const ApacheKafka = "Apache Kafka"

// EnvKafkaHome names a folder holding Apache Kafka's jars in libs/ and its
// version in VERSION (what scripts/install-kafka.sh fills).
const EnvKafkaHome = "SHARDBRIDGE_KAFKA_HOME"

// ErrKafkaNotInstalled is matched (errors.Is) when the broker's jars or Java
// cannot be found.
var ErrKafkaNotInstalled = fmt.Errorf("%w: Apache Kafka (run make kafka)", ErrNotInstalled)

// KafkaSecurity adds authenticated and encrypted listeners to the broker,
// beside its PLAINTEXT one: SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512) and, with a certificate, SSL and SASL_SSL.
type KafkaSecurity struct {
	// CertPEM is the server's certificate chain and KeyPEM its private key
	// (PKCS#8, unencrypted); empty: no TLS listeners.
	CertPEM, KeyPEM []byte
	// Users by mechanism ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"): name → password.
	Users map[string]map[string]string
}

// WithKafkaSecurity starts the broker with the listeners sec describes.
func WithKafkaSecurity(sec KafkaSecurity) Option {
	return func(o *options) { o.kafkaSecurity = &sec }
}

// Kafka is a running Apache Kafka broker: one node in KRaft mode, broker and
// controller in one JVM, on free loopback ports, with its own data
// directory. Stop, Kill and Start keep the ports and the data, so clients
// reconnect to the same address after a restart, as to a real broker.
type Kafka struct {
	Version string
	Brokers []string // host:port of the PLAINTEXT listener
	// Listeners are host:port by security protocol: PLAINTEXT, and with
	// WithKafkaSecurity SASL_PLAINTEXT, SSL and SASL_SSL.
	Listeners map[string]string

	home, java, dir, props string
	o                      options

	mu   sync.Mutex
	proc *Process // nil while stopped
}

// FindKafka returns the folder of the Apache Kafka install and its version:
// SHARDBRIDGE_KAFKA_HOME, else <emulators dir>/kafka (see the package
// contract for the emulators dir).
func FindKafka(opts ...Option) (home, version string, err error) {
	o := buildOptions(opts)
	home = os.Getenv(EnvKafkaHome)
	if home == "" {
		dir := o.emulatorsDir
		if dir == "" {
			dir = os.Getenv(EnvEmulatorsDir)
		}
		if dir == "" {
			root, err := moduleRoot()
			if err != nil {
				return "", "", fmt.Errorf("%w (%v)", ErrKafkaNotInstalled, err)
			}
			dir = filepath.Join(root, ".emulators")
		}
		home = filepath.Join(dir, "kafka")
	}
	v, err := os.ReadFile(filepath.Join(home, "VERSION"))
	if err != nil {
		return "", "", fmt.Errorf("%w: %s has no VERSION", ErrKafkaNotInstalled, home)
	}
	version = strings.TrimSpace(string(v))
	if _, err := os.Stat(filepath.Join(home, "libs", "kafka_2.13-"+version+".jar")); err != nil {
		return "", "", fmt.Errorf("%w: %s/libs lacks kafka_2.13-%s.jar", ErrKafkaNotInstalled, home, version)
	}
	return home, version, nil
}

// StartKafka formats a fresh data directory and starts the broker; it
// returns once the broker answers Metadata.
func StartKafka(ctx context.Context, opts ...Option) (*Kafka, error) {
	o := buildOptions(opts)
	if o.startTimeout < 60*time.Second {
		o.startTimeout = 60 * time.Second // a JVM on a loaded 2-core machine
	}
	home, version, err := FindKafka(opts...)
	if err != nil {
		return nil, err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("%w: no java on PATH", ErrKafkaNotInstalled)
	}
	var lastErr error
	for attempt := 1; attempt <= o.attempts; attempt++ {
		k, err := startKafkaOnce(ctx, home, java, version, o)
		if err == nil {
			o.logger.Info("reference broker started", "name", ApacheKafka, "version", version, "brokers", k.Brokers)
			return k, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
		o.logger.Warn("reference broker failed to start; retrying on new ports", "attempt", attempt, "err", err)
	}
	return nil, lastErr
}

func startKafkaOnce(ctx context.Context, home, java, version string, o options) (*Kafka, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ApacheKafka, err)
	}
	dir, err := os.MkdirTemp("", "shardbridge-kafka-")
	if err != nil {
		return nil, fmt.Errorf("%s: data directory: %w", ApacheKafka, err)
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	k := &Kafka{Version: version, Brokers: []string{addr(ports[0])}, Listeners: map[string]string{"PLAINTEXT": addr(ports[0])},
		home: home, java: java, dir: dir, props: filepath.Join(dir, "server.properties"), o: o}
	props := serverProperties(ports[0], ports[1], filepath.Join(dir, "data"))
	if sec := o.kafkaSecurity; sec != nil {
		extra, err := k.securityProperties(*sec, ports[1], ports[2:])
		if err != nil {
			k.Close()
			return nil, err
		}
		props += extra
	}
	if err := os.WriteFile(k.props, []byte(props), 0o644); err != nil {
		k.Close()
		return nil, fmt.Errorf("%s: %w", ApacheKafka, err)
	}
	if err := k.format(ctx); err != nil {
		k.Close()
		return nil, err
	}
	if err := k.Start(ctx); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// serverProperties configures a single KRaft node for tests: one replica of
// everything, transactions allowed with one in-sync replica, no topic made
// behind the harness's back, and short timeouts so restarts are quick.
func serverProperties(port, controllerPort int, logDir string) string {
	lines := []string{
		"process.roles=broker,controller",
		"node.id=1",
		"controller.quorum.voters=1@127.0.0.1:" + strconv.Itoa(controllerPort),
		"listeners=PLAINTEXT://127.0.0.1:" + strconv.Itoa(port) + ",CONTROLLER://127.0.0.1:" + strconv.Itoa(controllerPort),
		"advertised.listeners=PLAINTEXT://127.0.0.1:" + strconv.Itoa(port),
		"controller.listener.names=CONTROLLER",
		"inter.broker.listener.name=PLAINTEXT",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"log.dirs=" + logDir,
		"num.partitions=1",
		"auto.create.topics.enable=false",
		"offsets.topic.replication.factor=1",
		"offsets.topic.num.partitions=4",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"transaction.state.log.num.partitions=4",
		"group.initial.rebalance.delay.ms=0",
		"share.coordinator.state.topic.replication.factor=1",
		"share.coordinator.state.topic.min.isr=1",
	}
	return strings.Join(lines, "\n") + "\n"
}

func (k *Kafka) command(ctx context.Context, args ...string) *exec.Cmd {
	jvm := []string{"-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.awt.headless=true", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-cp", filepath.Join(k.home, "libs", "*")}
	cmd := exec.CommandContext(ctx, k.java, append(jvm, args...)...)
	cmd.Dir = k.dir
	return cmd
}

// format writes the KRaft metadata of a new cluster into the data directory.
func (k *Kafka) format(ctx context.Context) error {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	cluster := base64.RawURLEncoding.EncodeToString(id[:])
	args := []string{"kafka.tools.StorageTool", "format", "-t", cluster, "-c", k.props}
	if sec := k.o.kafkaSecurity; sec != nil {
		// SCRAM credentials live in the cluster metadata: written at format.
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			for _, name := range sortedKeys(sec.Users[mech]) {
				args = append(args, "--add-scram", fmt.Sprintf("%s=[name=%s,password=%s]", mech, name, sec.Users[mech][name]))
			}
		}
	}
	out, err := k.command(ctx, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: format storage: %w: %s", ApacheKafka, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Start starts the broker on its data (after Stop or Kill) and waits until
// it answers Metadata. Starting a running broker does nothing.
func (k *Kafka) Start(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.proc != nil && !k.proc.Exited() {
		return nil
	}
	cmd := k.command(context.Background(), "kafka.Kafka", k.props)
	out := &tailBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start: %w", ApacheKafka, err)
	}
	p := &Process{Name: ApacheKafka, Endpoint: k.Brokers[0], Binary: k.java, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.waitMu.Lock()
		p.err = err
		p.waitMu.Unlock()
		close(p.done)
	}()
	k.proc = p
	if err := k.waitReady(ctx, p); err != nil {
		p.Close()
		k.proc = nil
		return err
	}
	return nil
}

// waitReady polls Metadata until the broker lists itself.
func (k *Kafka) waitReady(ctx context.Context, p *Process) error {
	ctx, cancel := context.WithTimeout(ctx, k.o.startTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.RetryTimeout(time.Second))
	if err != nil {
		return fmt.Errorf("%s: client: %w", ApacheKafka, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		mctx, mcancel := context.WithTimeout(ctx, 2*time.Second)
		m, err := adm.BrokerMetadata(mctx)
		mcancel()
		if err == nil && len(m.Brokers) > 0 {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before answering (%v); output:\n%s", ApacheKafka, p.exitErr(), p.Output())
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer Metadata on %s within %s: %w; output:\n%s", ApacheKafka, k.Brokers[0], k.o.startTimeout, ctx.Err(), p.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts the broker down cleanly (SIGTERM: a controlled shutdown) and
// waits for it; the data stays for Start.
func (k *Kafka) Stop(ctx context.Context) error {
	return k.halt(ctx, false)
}

// Kill ends the broker with SIGKILL, as a crash would; the data stays.
func (k *Kafka) Kill() error {
	return k.halt(context.Background(), true)
}

func (k *Kafka) halt(ctx context.Context, kill bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.proc
	if p == nil {
		return nil
	}
	k.proc = nil
	if kill {
		killProcessGroup(p.cmd)
	} else if err := termProcess(p.cmd); err != nil {
		killProcessGroup(p.cmd)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		killProcessGroup(p.cmd)
		<-p.done
		return ctx.Err()
	case <-time.After(30 * time.Second):
		killProcessGroup(p.cmd)
		<-p.done
		return fmt.Errorf("the %s broker did not stop within 30s of SIGTERM (killed)", ApacheKafka)
	}
}

// Restart stops the broker cleanly and starts it again on its data.
func (k *Kafka) Restart(ctx context.Context) error {
	if err := k.Stop(ctx); err != nil {
		return err
	}
	return k.Start(ctx)
}

// Output is the broker's last output (warnings and errors).
func (k *Kafka) Output() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.proc == nil {
		return ""
	}
	return k.proc.Output()
}

// Close kills the broker and deletes its data directory. It is safe to call
// more than once.
func (k *Kafka) Close() error {
	_ = k.Kill()
	if k.dir != "" {
		_ = os.RemoveAll(k.dir)
	}
	return nil
}

// securityProperties adds the SASL and TLS listeners on ports (three).
func (k *Kafka) securityProperties(sec KafkaSecurity, controllerPort int, ports []int) (string, error) {
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	listeners := []string{"SASL_PLAINTEXT://" + addr(ports[0])}
	k.Listeners["SASL_PLAINTEXT"] = addr(ports[0])
	var b strings.Builder
	if len(sec.CertPEM) > 0 {
		pemFile := filepath.Join(k.dir, "server.pem")
		// A PEM keystore file holds the key, then the certificate chain.
		if err := os.WriteFile(pemFile, append(append([]byte{}, sec.KeyPEM...), sec.CertPEM...), 0o600); err != nil {
			return "", fmt.Errorf("%s: keystore: %w", ApacheKafka, err)
		}
		listeners = append(listeners, "SSL://"+addr(ports[1]), "SASL_SSL://"+addr(ports[2]))
		k.Listeners["SSL"], k.Listeners["SASL_SSL"] = addr(ports[1]), addr(ports[2])
		fmt.Fprintf(&b, "ssl.keystore.type=PEM\nssl.keystore.location=%s\n", pemFile)
	}
	// The PLAINTEXT and CONTROLLER listeners come first in server.properties;
	// these lines override them with the full set.
	protocols := "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL"
	all := append([]string{"PLAINTEXT://" + k.Listeners["PLAINTEXT"]}, listeners...)
	fmt.Fprintf(&b, "listeners=%s,CONTROLLER://%s\n", strings.Join(all, ","), addr(controllerPort))
	fmt.Fprintf(&b, "advertised.listeners=%s\n", strings.Join(all, ","))
	fmt.Fprintf(&b, "listener.security.protocol.map=%s\n", protocols)
	b.WriteString("sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512\n")
	var plain []string
	for _, name := range sortedKeys(sec.Users["PLAIN"]) {
		plain = append(plain, fmt.Sprintf("user_%s=%q", name, sec.Users["PLAIN"][name]))
	}
	for _, l := range []string{"sasl_plaintext", "sasl_ssl"} {
		fmt.Fprintf(&b, "listener.name.%s.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required %s;\n", l, strings.Join(plain, " "))
		for _, m := range []string{"scram-sha-256", "scram-sha-512"} {
			fmt.Fprintf(&b, "listener.name.%s.%s.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n", l, m)
		}
	}
	return b.String(), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
