package bridge

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Spec is a bridge file: how to start, probe, stop and observe an instance
// of any Kinesis→Kafka bridge that runs as a process. docs/bridges.md
// describes the format; harness/bridges/shardbridge.yaml is an example.
type Spec struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Build runs once per Spec, in Dir, before the first instance starts
	// (e.g. `go build -o {{build_dir}}/bridge ./cmd/bridge`).
	Build []string `yaml:"build"`
	// Command is the program and its arguments; placeholders allowed.
	Command []string `yaml:"command"`
	// Dir is the working directory (default: the bridge file's directory).
	Dir string `yaml:"dir"`
	// Env is the instance's environment; an entry whose value expands to
	// the empty string is left out. Only PATH, HOME, TMPDIR, GOCOVERDIR and
	// TZ are inherited from the harness.
	Env map[string]string `yaml:"env"`
	// SettingsAsEnv adds the scenario's settings to the environment (after
	// Env, so they override it).
	SettingsAsEnv bool  `yaml:"settings_as_env"`
	Ready         Probe `yaml:"ready"`
	Stop          Stop  `yaml:"stop"`
	// Metrics is a Prometheus endpoint with Shardbridge's metric names
	// (replicator_*); without it an instance's Stats stay zero.
	Metrics string `yaml:"metrics"`
	Offers  Offers `yaml:"offers"`
	// ResetCommand (the file's `reset`), when given, is run once, with the
	// instances' environment, to reset the application's checkpoints for a
	// replay, instead of the harness deleting every lease row (and the
	// checkpoint topic). {{replay_position}} and {{replay_timestamp}} say
	// where to; it must exit 0.
	ResetCommand []string `yaml:"reset"`

	file      string // where the Spec was read from ("" when parsed from bytes)
	buildOnce sync.Once
	buildDir  string
	buildErr  error
}

// Probe says when an instance is ready: an HTTP URL answering 200, or a
// regular expression matched by a line of its output (stdout or stderr).
type Probe struct {
	HTTP    string        `yaml:"http"`
	Log     string        `yaml:"log"`
	Timeout time.Duration `yaml:"timeout"`
}

// Stop says how an instance is asked to stop and how long it may take.
type Stop struct {
	Signal  string        `yaml:"signal"` // SIGTERM (default) or SIGINT
	Timeout time.Duration `yaml:"timeout"`
}

// Offers are what a bridge gives the harness beyond Kafka output.
type Offers struct {
	// Headers: every record carries kinesis.shard, kinesis.seq (and
	// kinesis.subseq for KPL sub-records). Without them the checker
	// identifies records by the workload's payload.
	Headers bool `yaml:"headers"`
	// LeaseTable is "kcl" when the bridge keeps a KCL-format lease table
	// named after the application, "" (or "none") when it keeps none.
	LeaseTable string `yaml:"lease_table"`
	// LeaseFailover is the bridge's lease failover time, when it keeps a
	// lease table: the watcher looks for renewals missed for longer.
	LeaseFailover time.Duration `yaml:"lease_failover"`
	// Pause: the process may be frozen with SIGSTOP and thawed.
	Pause bool `yaml:"pause"`
	// ExactlyOnce: given {{delivery}} exactly-once (or
	// REPLICATOR_DELIVERY=exactly-once among its settings), the bridge
	// writes every record exactly once for a read_committed consumer.
	ExactlyOnce bool `yaml:"exactly_once"`
	// CheckpointTopic names a Kafka topic where the bridge keeps
	// checkpoints besides (or instead of) its lease table, with
	// {{application}} standing for the application name. Resetting the
	// application (a replay) deletes it, and the external backend deletes
	// it at the end.
	CheckpointTopic string `yaml:"checkpoint_topic"`
}

// Placeholders a bridge file may use, as {{name}}.
var Placeholders = []string{
	"stream", "application", "topic", "dlq_topic", "region", "kinesis_endpoint",
	"dynamodb_endpoint", "kafka_brokers", "access_key_id", "secret_access_key", "session_token",
	"kafka_security_protocol", "kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password", "kafka_tls_ca_file",
	"instance", "worker_id", "metrics_port", "initial_position", "initial_timestamp", "delivery",
	"build_dir", "bridge_dir", "repo", "replay_position", "replay_timestamp",
}

var placeholderRE = regexp.MustCompile(`\{\{\s*([a-z_]+)\s*\}\}`)

// LoadSpec reads and validates a bridge file.
func LoadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bridge file: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("bridge file %s: %w", path, err)
	}
	s, err := ParseSpec(b)
	if err != nil {
		return nil, fmt.Errorf("bridge file %s: %w", path, err)
	}
	s.file = abs
	return s, nil
}

// ParseSpec parses and validates a bridge file's content. Relative paths in
// it are taken from the current directory.
func ParseSpec(b []byte) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Spec) validate() error {
	if strings.TrimSpace(s.Name) == "" {
		return fmt.Errorf("name: required")
	}
	if len(s.Command) == 0 {
		return fmt.Errorf("command: required (the program and its arguments)")
	}
	if (s.Ready.HTTP == "") == (s.Ready.Log == "") {
		return fmt.Errorf("ready: give exactly one of http (a URL answering 200) or log (a regular expression)")
	}
	if s.Ready.Log != "" {
		if _, err := regexp.Compile(s.Ready.Log); err != nil {
			return fmt.Errorf("ready.log: %w", err)
		}
	}
	switch s.Stop.Signal {
	case "", "SIGTERM", "SIGINT":
	default:
		return fmt.Errorf("stop.signal: %q is not SIGTERM or SIGINT", s.Stop.Signal)
	}
	switch s.Offers.LeaseTable {
	case "", "none", "kcl":
	default:
		return fmt.Errorf("offers.lease_table: %q is not kcl or none", s.Offers.LeaseTable)
	}
	var texts []string
	texts = append(texts, s.Build...)
	texts = append(texts, s.Command...)
	texts = append(texts, s.ResetCommand...)
	texts = append(texts, s.Dir, s.Ready.HTTP, s.Metrics)
	for _, v := range s.Env {
		texts = append(texts, v)
	}
	for _, t := range texts {
		for _, m := range placeholderRE.FindAllStringSubmatch(t, -1) {
			if !slices.Contains(Placeholders, m[1]) {
				return fmt.Errorf("unknown placeholder {{%s}} in %q (known: %s)", m[1], t, strings.Join(Placeholders, ", "))
			}
		}
	}
	return nil
}

// Capabilities are what the Spec's instances offer.
func (s *Spec) Capabilities() Capabilities {
	c := Capabilities{Process: true, Pause: s.Offers.Pause, Headers: s.Offers.Headers, Metrics: s.Metrics != "", ExactlyOnce: s.Offers.ExactlyOnce,
		CheckpointTopic: s.Offers.CheckpointTopic}
	c.LeaseTable = s.Offers.LeaseTable == "kcl"
	c.LeaseFailover = s.Offers.LeaseFailover
	return c
}

// expand replaces the placeholders of t with vars.
func expand(t string, vars map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(t, func(m string) string {
		return vars[placeholderRE.FindStringSubmatch(m)[1]]
	})
}

// baseDir is where relative paths of the Spec start.
func (s *Spec) baseDir() string {
	if s.file != "" {
		return filepath.Dir(s.file)
	}
	wd, _ := os.Getwd()
	return wd
}

// repoRoot is the nearest directory at or above the bridge file holding a
// go.mod or .git, else the bridge file's directory.
func (s *Spec) repoRoot() string {
	dir := s.baseDir()
	for d := dir; ; d = filepath.Dir(d) {
		for _, marker := range []string{"go.mod", ".git"} {
			if _, err := os.Stat(filepath.Join(d, marker)); err == nil {
				return d
			}
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// EnvFor expands the Spec's environment for one instance: vars give the
// placeholders, settings are added when SettingsAsEnv. Empty values are left
// out.
func (s *Spec) EnvFor(vars, settings map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range s.Env {
		if e := expand(v, vars); e != "" {
			out[k] = e
		}
	}
	if s.SettingsAsEnv {
		for k, v := range settings {
			if v != "" {
				out[k] = v
			} else {
				delete(out, k)
			}
		}
	}
	return out
}
