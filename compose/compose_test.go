package compose

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/shardbridge/shardbridge/fakes/control"
	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/harness/containers"
	"github.com/shardbridge/shardbridge/replicator/config"
)

const composeFile = "docker-compose.yml"

// load parses the compose file as `docker compose --profile P config` would,
// with exactly env as the environment (never the caller's).
func load(t *testing.T, profiles []string, env map[string]string) *types.Project {
	t.Helper()
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithWorkingDirectory("."), cli.WithEnv(envList), cli.WithProfiles(profiles))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose file does not load with profiles %v: %v", profiles, err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("service %s not enabled (enabled: %v)", name, slices.Sorted(maps.Keys(p.Services)))
	}
	return s
}

var common = []string{"console", "init-aws", "init-kafka", "producer", "redpanda", "replicator"}

func TestProfiles(t *testing.T) {
	for profile, own := range map[string][]string{
		"localstack": {"localstack"},
		"emulator":   {"emulator", "faults"},
	} {
		t.Run(profile, func(t *testing.T) {
			p := load(t, []string{profile}, nil)
			want := slices.Sorted(slices.Values(append(slices.Clone(common), own...)))
			if got := slices.Sorted(maps.Keys(p.Services)); !slices.Equal(got, want) {
				t.Errorf("services = %v, want %v", got, want)
			}
			for _, name := range own {
				if s := service(t, p, name); !slices.Equal(s.Profiles, []string{profile}) {
					t.Errorf("%s profiles = %v, want [%s]", name, s.Profiles, profile)
				}
			}
			// Exactly one service is "aws" inside the stack.
			var aws []string
			for name, s := range p.Services {
				if n := s.Networks["default"]; n != nil && slices.Contains(n.Aliases, "aws") {
					aws = append(aws, name)
				}
			}
			if len(aws) != 1 || aws[0] != own[0] {
				t.Errorf("services aliased aws = %v, want [%s]", aws, own[0])
			}
		})
	}
	// Without a profile no AWS service runs; the stack is not meant to be
	// started that way, and the common services must still load.
	p := load(t, nil, nil)
	if got := slices.Sorted(maps.Keys(p.Services)); !slices.Equal(got, common) {
		t.Errorf("services without a profile = %v, want %v", got, common)
	}
}

func TestDependenciesAndHealthChecks(t *testing.T) {
	type dep struct{ on, condition string }
	for _, profile := range []string{"localstack", "emulator"} {
		p := load(t, []string{profile}, nil)
		wantDeps := map[string][]dep{
			"replicator": {{"init-aws", types.ServiceConditionCompletedSuccessfully}, {"init-kafka", types.ServiceConditionCompletedSuccessfully}},
			"producer":   {{"init-aws", types.ServiceConditionCompletedSuccessfully}},
			"init-kafka": {{"redpanda", types.ServiceConditionHealthy}},
			"console":    {{"redpanda", types.ServiceConditionHealthy}},
			"init-aws":   {{profile, types.ServiceConditionHealthy}},
		}
		if profile == "emulator" {
			wantDeps["faults"] = []dep{{"emulator", types.ServiceConditionHealthy}}
		}
		for name, deps := range wantDeps {
			s := service(t, p, name)
			for _, d := range deps {
				got, ok := s.DependsOn[d.on]
				if !ok || got.Condition != d.condition {
					t.Errorf("[%s] %s depends_on %s = %+v (present %v), want condition %s", profile, name, d.on, got, ok, d.condition)
				}
			}
		}
		// The AWS service of the other profile is optional for init-aws.
		other := map[string]string{"localstack": "emulator", "emulator": "localstack"}[profile]
		if d, ok := service(t, p, "init-aws").DependsOn[other]; ok && d.Required {
			t.Errorf("[%s] init-aws requires %s, which this profile does not run", profile, other)
		}
		for _, name := range []string{profile, "redpanda"} {
			hc := service(t, p, name).HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) < 2 {
				t.Errorf("[%s] %s has no health check: %+v", profile, name, hc)
			}
		}
	}
}

func TestImagesMatchTheContainersBackend(t *testing.T) {
	p := load(t, []string{"localstack"}, nil)
	if got := service(t, p, "localstack").Image; got != containers.DefaultLocalStackImage {
		t.Errorf("localstack image = %q, want the backend's %q", got, containers.DefaultLocalStackImage)
	}
	for _, name := range []string{"redpanda", "init-kafka"} {
		if got := service(t, p, name).Image; got != containers.DefaultRedpandaImage {
			t.Errorf("%s image = %q, want the backend's %q", name, got, containers.DefaultRedpandaImage)
		}
	}
	for name, s := range p.Services {
		if s.Build == nil && (s.Image == "" || strings.HasSuffix(s.Image, ":latest") || !strings.Contains(s.Image[strings.LastIndexByte(s.Image, '/')+1:], ":")) {
			t.Errorf("%s image %q is not pinned to a tag", name, s.Image)
		}
	}
	// The same overrides as the backend's.
	p = load(t, []string{"localstack"}, map[string]string{
		containers.EnvLocalStackImage: "mirror/localstack:4.4", containers.EnvRedpandaImage: "mirror/redpanda:v25.2.4",
		containers.EnvLocalStackAuthToken: "tok",
	})
	if got := service(t, p, "localstack").Image; got != "mirror/localstack:4.4" {
		t.Errorf("override ignored: %q", got)
	}
	if got := service(t, p, "redpanda").Image; got != "mirror/redpanda:v25.2.4" {
		t.Errorf("override ignored: %q", got)
	}
	if v := service(t, p, "localstack").Environment[containers.EnvLocalStackAuthToken]; v == nil || *v != "tok" {
		t.Errorf("auth token not passed through: %v", v)
	}
	if got := service(t, p, "localstack").Environment["SERVICES"]; got == nil || *got != "kinesis,dynamodb" {
		t.Errorf("LocalStack SERVICES = %v", got)
	}
}

func TestBuildsAndMounts(t *testing.T) {
	p := load(t, []string{"emulator"}, nil)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for name, dockerfile := range map[string]string{"replicator": "Dockerfile", "emulator": "compose/emulator.Dockerfile"} {
		b := service(t, p, name).Build
		if b == nil {
			t.Fatalf("%s has no build", name)
		}
		if b.Context != root {
			t.Errorf("%s build context = %s, want the repository root %s", name, b.Context, root)
		}
		if b.Dockerfile != dockerfile {
			t.Errorf("%s dockerfile = %s, want %s", name, b.Dockerfile, dockerfile)
		}
		if _, err := os.Stat(filepath.Join(b.Context, b.Dockerfile)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s, which does not exist", name, v.Source)
			}
			if !v.ReadOnly {
				t.Errorf("%s mounts %s read-write", name, v.Source)
			}
		}
		if len(s.Entrypoint) == 2 && strings.HasPrefix(s.Entrypoint[1], "/scripts/") {
			if _, err := os.Stat(filepath.Join("scripts", strings.TrimPrefix(s.Entrypoint[1], "/scripts/"))); err != nil {
				t.Errorf("%s runs %s: %v", name, s.Entrypoint[1], err)
			}
		}
	}
}

// awsSDKNames are the AWS SDK's own variables the replicator reads through
// its default configuration chain (not config.Settings).
var awsSDKNames = map[string]bool{
	"AWS_ENDPOINT_URL_KINESIS": true, "AWS_ENDPOINT_URL_DYNAMODB": true, "AWS_ACCESS_KEY_ID": true,
	"AWS_SECRET_ACCESS_KEY": true, "AWS_REGION": true, "AWS_EC2_METADATA_DISABLED": true,
}

func TestReplicatorEnvironment(t *testing.T) {
	known := map[string]bool{}
	for _, s := range config.Settings() {
		known[s.Env] = true
	}
	for _, profile := range []string{"localstack", "emulator"} {
		p := load(t, []string{profile}, nil)
		r := service(t, p, "replicator")
		env := map[string]string{}
		for k, v := range r.Environment {
			if v == nil {
				t.Errorf("%s has no value", k)
				continue
			}
			env[k] = *v
			if !known[k] && !awsSDKNames[k] {
				t.Errorf("replicator variable %s is neither a setting (config.Settings) nor an AWS SDK variable", k)
			}
		}
		// The settings load exactly as the binary loads them.
		cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatalf("replicator environment does not load: %v", err)
		}
		if cfg.KafkaBrokers[0] != "redpanda:9092" {
			t.Errorf("brokers = %v, want Redpanda's internal listener redpanda:9092", cfg.KafkaBrokers)
		}
		if !slices.Contains(service(t, p, "redpanda").Command, "--advertise-kafka-addr=internal://redpanda:9092,external://localhost:19092") {
			t.Error("redpanda does not advertise the internal listener the replicator uses")
		}
		for _, k := range []string{"AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB"} {
			if env[k] != "http://aws:4566" {
				t.Errorf("%s = %q, want http://aws:4566", k, env[k])
			}
		}
		// Init and producer read the same file, so they create what the
		// replicator reads.
		for _, name := range []string{"init-aws", "init-kafka", "producer"} {
			s := service(t, p, name)
			for _, k := range []string{"KCL_STREAM_NAME", "KCL_APPLICATION_NAME", "KAFKA_TOPIC"} {
				if v := s.Environment[k]; v == nil || *v != env[k] {
					t.Errorf("%s sees %s=%v, the replicator %q", name, k, v, env[k])
				}
			}
		}
	}
	// The env file itself names only settings: it is the file a user of
	// the Python bridge brings along.
	data, err := os.ReadFile("replicator.env")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, _ := strings.Cut(line, "=")
		if !known[k] {
			t.Errorf("replicator.env sets %s, which is not a setting", k)
		}
	}
}

func TestFaultRules(t *testing.T) {
	files, err := filepath.Glob("faults/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fault rules: %v", err)
	}
	actions := map[fault.Action]bool{}
	for _, a := range fault.Actions() {
		actions[a] = true
	}
	seen := map[fault.Action]bool{}
	services := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var r fault.Rule
		if err := dec.Decode(&r); err != nil {
			t.Errorf("%s is not a fault.Rule: %v", f, err)
			continue
		}
		if !actions[r.Action] {
			t.Errorf("%s: unknown action %q", f, r.Action)
		}
		if r.Probability <= 0 || r.Probability >= 0.5 {
			t.Errorf("%s: probability %v; want occasional faults, not an outage", f, r.Probability)
		}
		if r.Table != "" && r.Table != "shardbridge-demo" {
			t.Errorf("%s: table %s is not the lease table of replicator.env", f, r.Table)
		}
		seen[r.Action] = true
		services[r.Service] = true
	}
	for _, a := range []fault.Action{"throttle", "expired-iterator"} {
		if !seen[a] {
			t.Errorf("no %s rule", a)
		}
	}
	if !services["kinesis"] || !services["dynamodb"] {
		t.Errorf("rules cover services %v; want kinesis and dynamodb", services)
	}
}

func TestScriptsParse(t *testing.T) {
	sh := lookPath(t, "sh")
	scripts, _ := filepath.Glob("scripts/*.sh")
	if len(scripts) < 4 {
		t.Fatalf("scripts = %v", scripts)
	}
	for _, s := range scripts {
		if out, err := exec.Command(sh, "-n", s).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", s, err, out)
		}
	}
}

// stubAWS puts a fake `aws` first in PATH: it logs its arguments, fails every
// describe-* call (nothing exists yet), copies a --records file, and stops
// the calling script after `stopAfter` put-records calls.
func stubAWS(t *testing.T) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	log = filepath.Join(dir, "calls.log")
	script := `#!/bin/sh
echo "$*" >> "` + log + `"
case "$2" in describe-*) exit 254 ;; esac
for a in "$@"; do
  case "$a" in file://*) cp "${a#file://}" "` + dir + `/batch-$(wc -l < "` + log + `" | tr -d ' ').json" ;; esac
done
if [ "$2" = put-records ]; then echo 0; kill -TERM "$PPID"; fi
exit 0
`
	if err := os.WriteFile(filepath.Join(dir, "aws"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, log
}

func replicatorEnvFile(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("replicator.env")
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			env = append(env, line)
		}
	}
	return env
}

func runScript(t *testing.T, script string, env []string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, lookPath(t, "sh"), script)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestInitAWSScript(t *testing.T) {
	dir, log := stubAWS(t)
	env := append(replicatorEnvFile(t), "PATH="+dir+":"+os.Getenv("PATH"), "AWS_ENDPOINT_URL=http://aws:4566", "STREAM_SHARDS=4")
	out, err := runScript(t, "scripts/init-aws.sh", env)
	if err != nil {
		t.Fatalf("init-aws.sh: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(log)
	for _, want := range []string{
		"kinesis create-stream --stream-name orders --shard-count 4",
		"kinesis wait stream-exists --stream-name orders",
		"dynamodb create-table --table-name shardbridge-demo --attribute-definitions AttributeName=leaseKey,AttributeType=S --key-schema AttributeName=leaseKey,KeyType=HASH --billing-mode PAY_PER_REQUEST",
	} {
		if !strings.Contains(string(calls), want) {
			t.Errorf("init-aws.sh never ran `aws %s`; calls:\n%s", want, calls)
		}
	}
}

func TestProducerScript(t *testing.T) {
	dir, log := stubAWS(t)
	env := []string{"PATH=" + dir + ":" + os.Getenv("PATH"), "AWS_ENDPOINT_URL=http://aws:4566", "KCL_STREAM_NAME=orders", "BATCH=5", "KEYS=3"}
	out, _ := runScript(t, "scripts/producer.sh", env) // ends by the stub's SIGTERM
	calls, _ := os.ReadFile(log)
	if !strings.Contains(string(calls), "kinesis put-records --stream-name orders --cli-binary-format raw-in-base64-out --records file://") {
		t.Fatalf("no put-records call; output %s; calls:\n%s", out, calls)
	}
	batches, _ := filepath.Glob(filepath.Join(dir, "batch-*.json"))
	if len(batches) != 1 {
		t.Fatalf("batches = %v", batches)
	}
	data, _ := os.ReadFile(batches[0])
	var recs []struct{ PartitionKey, Data string }
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatalf("batch is not JSON: %v\n%s", err, data)
	}
	if len(recs) != 5 {
		t.Fatalf("batch has %d records, want 5", len(recs))
	}
	for i, r := range recs {
		var payload struct {
			Key string `json:"key"`
			Seq int    `json:"seq"`
		}
		if err := json.Unmarshal([]byte(r.Data), &payload); err != nil {
			t.Fatalf("record %d data is not JSON: %v (%q)", i, err, r.Data)
		}
		if payload.Seq != i || payload.Key != r.PartitionKey || r.PartitionKey != "user-"+string(rune('0'+i%3)) {
			t.Errorf("record %d = %+v / %+v", i, r, payload)
		}
	}
}

func TestEmulatorFaultsScript(t *testing.T) {
	lookPath(t, "curl")
	inj := fault.New(fault.WithSeed(1))
	inj.Add(fault.Rule{Name: "stale", Action: "throttle"}) // the script clears old rules first
	srv := httptest.NewServer(control.New(control.WithFaults(inj)))
	defer srv.Close()
	abs, _ := filepath.Abs("faults")
	out, err := runScript(t, "scripts/emulator-faults.sh", []string{
		"PATH=" + os.Getenv("PATH"), "CONTROL_URL=" + srv.URL + control.DefaultPrefix, "FAULTS_DIR=" + abs,
	})
	if err != nil {
		t.Fatalf("emulator-faults.sh: %v\n%s", err, out)
	}
	files, _ := filepath.Glob("faults/*.json")
	var names []string
	for _, r := range inj.Rules() {
		names = append(names, r.Rule.Name)
	}
	sort.Strings(names)
	if len(names) != len(files) || slices.Contains(names, "stale") {
		t.Errorf("rules installed = %v, want one per file in faults/ (%d) and no stale rule", names, len(files))
	}
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// TestEmulatorProfileRuns runs the emulator binary, built by its
// Dockerfile's own command, with the compose service's flags (only the listen
// address moved to a free loopback port), then checks the service's health
// check URL and turns the faults on with the faults service's script.
func TestEmulatorProfileRuns(t *testing.T) {
	lookPath(t, "curl")
	p := load(t, []string{"emulator"}, nil)
	svc := service(t, p, "emulator")
	args := slices.Clone([]string(svc.Command))
	i := slices.Index(args, "-aws-addr")
	if i < 0 || i+1 >= len(args) || args[i+1] != "0.0.0.0:4566" {
		t.Fatalf("emulator command %v does not listen on 0.0.0.0:4566, where the stack expects it", args)
	}
	args[i+1] = "127.0.0.1:0"
	if !slices.Contains(args, "-limits=true") {
		t.Errorf("emulator command %v does not turn Kinesis limits on", args)
	}
	bin := buildFromDockerfile(t, "emulator.Dockerfile", "emulator")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	var ready struct {
		Msg string `json:"msg"`
		AWS string `json:"aws"`
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if json.Unmarshal(sc.Bytes(), &ready) == nil && ready.Msg == "emulator ready" {
			break
		}
	}
	if ready.AWS == "" {
		t.Fatalf("emulator never logged ready (scan error %v)", sc.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	// The compose health check, against the running binary.
	hc := svc.HealthCheck.Test
	healthURL := hc[len(hc)-1]
	if !strings.HasPrefix(healthURL, "http://127.0.0.1:4566/") {
		t.Fatalf("health check %v does not probe the emulator's port", hc)
	}
	resp, err := http.Get(strings.Replace(healthURL, "127.0.0.1:4566", ready.AWS, 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health check answered %d", resp.StatusCode)
	}

	// The faults service's script, against the running binary.
	controlURL := "http://" + ready.AWS + control.DefaultPrefix
	abs, _ := filepath.Abs("faults")
	out, err := runScript(t, "scripts/emulator-faults.sh", []string{"PATH=" + os.Getenv("PATH"), "CONTROL_URL=" + controlURL, "FAULTS_DIR=" + abs})
	if err != nil {
		t.Fatalf("emulator-faults.sh: %v\n%s", err, out)
	}
	resp, err = http.Get(controlURL + "/faults/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rules []fault.RuleStatus
	if err := json.NewDecoder(resp.Body).Decode(&rules); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("faults/*.json")
	if len(rules) != len(files) {
		t.Errorf("emulator holds %d rules, want %d (one per file in faults/)", len(rules), len(files))
	}
}
