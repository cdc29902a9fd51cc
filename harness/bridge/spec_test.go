package bridge

import (
	"errors"
	"os"
	"strings"
	"testing"
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
