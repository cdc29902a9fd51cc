package main

import (
	"bytes"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestBadConfigurationExits2WithOneLine(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{}, nil, "KCL_STREAM_NAME: required"},
		{map[string]string{"KCL_STREAM_NAME": "s", "KCL_APPLICATION_NAME": "a", "KAFKA_BOOTSTRAP_SERVERS": "b:9092"}, nil, "KAFKA_TOPIC: required"},
		{map[string]string{"KCL_STREAM_NAME": "s", "KCL_APPLICATION_NAME": "a", "KAFKA_TOPIC": "t", "KAFKA_BOOTSTRAP_SERVERS": "b:9092",
			"CHECKPOINT_FREQ_SECONDS": "abc"}, nil, `CHECKPOINT_FREQ_SECONDS: "abc" is not a number`},
		{map[string]string{"KCL_STREAM_NAME": "s", "KCL_APPLICATION_NAME": "a", "KAFKA_TOPIC": "t", "KAFKA_BOOTSTRAP_SERVERS": "b:9092"},
			[]string{"-delivery=exactly-once", "-transaction-timeout=20s"}, `REPLICATOR_TRANSACTION_TIMEOUT: 20s must be shorter than REPLICATOR_FAILOVER_TIME (10s)`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, env(tc.env), &stdout, &stderr, false)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.want, code)
		}
		out := stderr.String()
		if !strings.Contains(out, tc.want) || strings.Count(out, "\n") != 1 {
			t.Errorf("stderr %q: want one line containing %q", out, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, env(nil), &stdout, &stderr, false); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stdout.String(), "KCL_STREAM_NAME") {
		t.Errorf("usage: %s", stdout.String())
	}
}

// The start-up log line carries the configuration with the SASL password
// masked; an unreachable broker is a clear error after the bounded start-up
// retry (exit 1), not a hang.
func TestStartLogRedactsAndUnreachableBrokerFails(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(nil, env(map[string]string{
		"KCL_STREAM_NAME": "s", "KCL_APPLICATION_NAME": "a", "KCL_REGION": "us-east-1",
		"KAFKA_TOPIC": "t", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
		"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "bridge", "KAFKA_SASL_PASSWORD": "hunter2",
		"REPLICATOR_STARTUP_TIMEOUT": "300ms", "REPLICATOR_METRICS_ADDR": "",
	}), &stdout, &stderr, false)
	out := stderr.String()
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("the SASL password reached the logs:\n%s", out)
	}
	for _, want := range []string{`"msg":"replicator starting"`, `"sasl_password":"REDACTED"`, `"sasl_username":"bridge"`,
		`"msg":"replicator failed"`, `kafka brokers [127.0.0.1:1] unreachable`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
}

// No region anywhere (KCL_REGION, AWS_REGION, profile): a configuration
// error naming KCL_REGION, exit 2.
func TestMissingRegionExits2(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	var stdout, stderr bytes.Buffer
	code := run(nil, env(map[string]string{
		"KCL_STREAM_NAME": "s", "KCL_APPLICATION_NAME": "a", "KAFKA_TOPIC": "t", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
		"REPLICATOR_METRICS_ADDR": "",
	}), &stdout, &stderr, false)
	if out := stderr.String(); code != 2 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "KCL_REGION: required") {
		t.Fatalf("exit %d, stderr %q; want 2 and one line naming KCL_REGION", code, out)
	}
}
