package bridge

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Resetter is a bridge that resets its application's checkpoints itself for
// a replay, instead of the harness deleting its lease rows.
type Resetter interface {
	// CanReset reports whether Reset is available.
	CanReset() bool
	// Reset rewinds the application described by l to position
	// (TRIM_HORIZON, LATEST or AT_TIMESTAMP with an RFC 3339 timestamp)
	// while no instance runs; it returns what the bridge printed on stdout.
	Reset(ctx context.Context, l Launch, position, timestamp string) (string, error)
}

// resetTimeout bounds a bridge file's reset command: it may watch the
// lease table for a failover time before it writes.
const resetTimeout = 2 * time.Minute

// CanReset reports whether the bridge file has a reset command.
func (s *Spec) CanReset() bool { return len(s.ResetCommand) > 0 }

// Reset runs the bridge file's reset command once, with an instance's
// environment and the replay placeholders.
func (s *Spec) Reset(ctx context.Context, l Launch, position, timestamp string) (string, error) {
	if !s.CanReset() {
		return "", fmt.Errorf("bridge %s: no reset command", s.Name)
	}
	buildDir, err := s.build(ctx)
	if err != nil {
		return "", err
	}
	vars := l.Vars()
	vars["build_dir"], vars["bridge_dir"], vars["repo"] = buildDir, s.baseDir(), s.repoRoot()
	vars["replay_position"], vars["replay_timestamp"] = position, timestamp
	port, err := freePort() // the environment may name a metrics address
	if err != nil {
		return "", err
	}
	vars["metrics_port"] = strconv.Itoa(port)
	argv := make([]string, len(s.ResetCommand))
	for i, a := range s.ResetCommand {
		argv[i] = expand(a, vars)
	}
	rctx, cancel := context.WithTimeout(ctx, resetTimeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, argv[0], argv[1:]...)
	cmd.Dir = s.baseDir()
	if s.Dir != "" {
		cmd.Dir = expand(s.Dir, vars)
	}
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	for k, v := range s.EnvFor(vars, l.Settings) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("bridge %s: reset %q: %w: %s", s.Name, strings.Join(argv, " "), err, strings.TrimSpace(errOut.String()+out.String()))
	}
	return out.String(), nil
}
