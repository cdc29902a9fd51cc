package bridge

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/shardbridge/shardbridge/harness/backend"
)

func TestParseSpecNamesWhatIsWrong(t *testing.T) {
	base := "name: b\ncommand: [x]\nready: {log: ready}\n"
	for _, c := range []struct{ yaml, want string }{
		{"command: [x]\nready: {log: r}\n", "name: required"},
		{"name: b\nready: {log: r}\n", "command: required"},
		{"name: b\ncommand: [x]\n", "ready: give exactly one"},
		{"name: b\ncommand: [x]\nready: {log: r, http: 'http://x'}\n", "ready: give exactly one"},
		{"name: b\ncommand: [x]\nready: {log: '('}\n", "ready.log"},
		{base + "stop: {signal: SIGHUP}\n", `stop.signal: "SIGHUP"`},
		{base + "offers: {lease_table: zookeeper}\n", `offers.lease_table: "zookeeper"`},
		{base + "env: {A: '{{strem}}'}\n", "unknown placeholder {{strem}}"},
		{base + "comand: [y]\n", "field comand not found"},
	} {
		_, err := ParseSpec([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want one naming %q", c.yaml, err, c.want)
		}
	}
}

func TestEnvForExpandsAndOverlaysSettings(t *testing.T) {
	s, err := ParseSpec([]byte(`name: b
command: ["{{build_dir}}/b"]
ready: {log: ok}
env: {STREAM: "{{stream}}", DLQ: "{{dlq_topic}}", FAILOVER: 3s}
settings_as_env: true
offers: {headers: true, lease_table: kcl, lease_failover: 3s, pause: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := s.EnvFor(map[string]string{"stream": "orders"}, map[string]string{"FAILOVER": "8s", "EXTRA": "1", "DLQ": ""})
	if env["STREAM"] != "orders" || env["FAILOVER"] != "8s" || env["EXTRA"] != "1" {
		t.Errorf("env %v", env)
	}
	if _, ok := env["DLQ"]; ok {
		t.Errorf("an entry expanding to empty must be left out: %v", env)
	}
	c := s.Capabilities()
	if !c.Process || !c.Headers || !c.LeaseTable || !c.Pause || c.Metrics || c.LeaseFailover.String() != "3s" {
		t.Errorf("capabilities %+v", c)
	}
	if err := Missing(s, Headers, Pause); err != nil {
		t.Errorf("Missing(headers, pause) = %v", err)
	}
	err = Missing(s, Metrics, CutLeaseTable, Metrics)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "bridge b lacks metrics, cut-lease-table") {
		t.Errorf("Missing = %v, want both capabilities named once", err)
	}
}

func TestShippedBridgeFilesParse(t *testing.T) {
	for _, f := range []string{"../bridges/shardbridge.yaml", "../bridges/minibridge/headerless.yaml", "../bridges/minibridge/dropping.yaml"} {
		s, err := LoadSpec(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if root := s.repoRoot(); root == "" {
			t.Errorf("%s: no repository root", f)
		} else if _, err := os.Stat(root + "/go.mod"); err != nil {
			t.Errorf("%s: repo root %s has no go.mod", f, root)
		}
	}
}

// A bridge file's reset runs once with the instance environment and the
// replay placeholders; a failing one is an error carrying its output.
func TestSpecResetRunsTheCommand(t *testing.T) {
	base := "name: b\ncommand: [x]\nready: {log: ready}\n"
	if _, err := ParseSpec([]byte(base + "reset: [x, '{{replay_postion}}']\n")); err == nil || !strings.Contains(err.Error(), "unknown placeholder {{replay_postion}}") {
		t.Errorf("a misspelt reset placeholder: %v", err)
	}
	if s, _ := ParseSpec([]byte(base)); s.CanReset() {
		t.Error("a file without reset can reset")
	}
	s, err := ParseSpec([]byte(base + `env: {STREAM: "{{stream}}"}
reset: [sh, -c, 'echo "$0 $1 $STREAM"; test "$0" = TRIM_HORIZON || { echo refused >&2; exit 3; }', "{{replay_position}}", "{{replay_timestamp}}"]
`))
	if err != nil {
		t.Fatal(err)
	}
	env, err := backend.Start(context.Background(), backend.WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Close(context.Background()) })
	l := Launch{Env: env, Names: Names{Stream: "orders", Application: "app", Topic: "t"}}
	out, err := s.Reset(context.Background(), l, "AT_TIMESTAMP", "2026-01-02T03:04:05Z")
	if err == nil || !strings.Contains(err.Error(), "refused") || out != "AT_TIMESTAMP 2026-01-02T03:04:05Z orders\n" {
		t.Errorf("reset = %q, %v; want the placeholders and env expanded, and the failure with its stderr", out, err)
	}
	if out, err := s.Reset(context.Background(), l, "TRIM_HORIZON", ""); err != nil || out != "TRIM_HORIZON  orders\n" {
		t.Errorf("reset = %q, %v", out, err)
	}
}
