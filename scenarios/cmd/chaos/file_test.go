package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// chaos run --file runs a YAML scenario end to end on the embedded
// backend: the twin of hot-shard-split passes, as the Go one does.
func TestRunScenarioFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a scenario")
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--file", "../../yaml/hot-shard-split.yaml", "--seed", "7", "--backend", "embedded"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, w := range []string{"Shardbridge chaos: hot-shard-split", "re-run: chaos run --file ../../yaml/hot-shard-split.yaml --seed 7",
		"split-shard", "verdict     PASS"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, stdout.String())
		}
	}
}

// A self-test as a file: the bridge file it names (relative to it) drops
// records, and the run passes because the loss is caught.
func TestRunSelfTestFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a bridge binary")
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--file", "../../yaml/self-test-dropping-bridge.yaml", "--seed", "3"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, want 0 (the loss caught)\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "bridge minibridge-dropping") || !regexp.MustCompile(`anomalies +lost [1-9]`).MatchString(stdout.String()) {
		t.Errorf("the dropping bridge was not run, or not caught losing records:\n%s", stdout.String())
	}
}

// A scenario file with a mistake is a usage error (exit 2), reported with
// the file, the line and the field, before anything starts.
func TestScenarioFileMistakes(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, text, want string }{
		{"unknown-field", "name: x\nshard: 3\n", "unknown-field.yaml:2: shard: unknown field"},
		{"bad-selector", "name: x\nschedule:\n  - when: now\n    action: {split_shard: hottest}\n",
			`bad-selector.yaml:4: schedule[0].action.split_shard: unknown shard selector "hottest" (want hot_shard, open_shard`},
		{"wrong-type", "name: x\nrecords: [1, 2]\n", "wrong-type.yaml:2: records: want an integer, got a list"},
		{"bad-duration", "name: x\nschedule:\n  - when: {wait: soon}\n    action: merge_shards\n", `bad-duration.yaml:3: schedule[0].when.wait: bad duration "soon"`},
		{"missing-bridge", "name: x\nbridge: no-such-bridge.yaml\n", "no-such-bridge.yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".yaml")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"run", "--file", path}, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, stderr.String())
			}
			if stdout.Len() > 0 {
				t.Errorf("something started:\n%s", stdout.String())
			}
		})
	}
	for _, args := range [][]string{{"run", "baseline", "--file", "x.yaml"}, {"demo", "--file", "x.yaml"}, {"run", "--file", filepath.Join(dir, "none.yaml")}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %s)", args, code, stderr.String())
		}
	}
}
