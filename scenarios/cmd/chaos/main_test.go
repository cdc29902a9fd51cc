package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// chaos run baseline against bridges described by files: the shipped
// Shardbridge file and a test-double bridge that writes no idempotency
// headers pass; the same double sabotaged to drop records is caught.
func TestRunBaselineThroughBridgeFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs bridge binaries")
	}
	cases := []struct {
		file     string
		wantExit int
		want     []string
	}{
		{"harness/bridges/shardbridge.yaml", 0, []string{"bridge shardbridge", "PASS"}},
		{"harness/bridges/minibridge/headerless.yaml", 0, []string{"bridge minibridge-headerless", "PASS", "identified by payload"}},
		{"harness/bridges/minibridge/dropping.yaml", 1, []string{"bridge minibridge-dropping", "FAIL"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"run", "baseline", "--seed", "11", "--bridge", "../../../" + c.file}, &stdout, &stderr)
			if code != c.wantExit {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.wantExit, stdout.String(), stderr.String())
			}
			if c.wantExit == 1 && !regexp.MustCompile(`anomalies +lost [1-9]`).MatchString(stdout.String()) {
				t.Errorf("the dropping bridge was not caught losing records:\n%s", stdout.String())
			}
			for _, w := range c.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"run"}, {"run", "no-such"}, {"nonsense"}, {"run", "baseline", "--bridge", "/no/such/file.yaml"},
		{"bench", "--sizes", "2000000"}, {"bench", "--limits", "sometimes"}, {"bench", "--only", "no/such/*"}, {"bench", "--env", "NOEQUALS"},
		{"soak", "--runs", "0"}, {"soak", "--delivery", "twice"}, {"soak", "--duration", "-1s"}, {"soak", "extra"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %s)", args, code, stderr.String())
		}
	}
}
