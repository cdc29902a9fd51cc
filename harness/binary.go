package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// EnvReplicatorBinary names a prebuilt replicator binary; when set, the
// runner uses it instead of building one.
const EnvReplicatorBinary = "SHARDBRIDGE_REPLICATOR_BIN"

const replicatorPackage = "github.com/shardbridge/shardbridge/replicator/cmd/replicator"

// binaryCache builds the replicator binary at most once per test process:
// every child-process instance of every spec in the process runs the same
// file. It is the only package-level state of the harness, and it holds only
// the path of a build output.
var binaryCache struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// ReplicatorBinary returns the path of the replicator binary: the file
// SHARDBRIDGE_REPLICATOR_BIN names, else one built with `go build` from this
// module's source into a temporary directory (once per process; remove it
// with RemoveBuiltBinary).
func ReplicatorBinary(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvReplicatorBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", EnvReplicatorBinary, err)
		}
		return p, nil
	}
	binaryCache.once.Do(func() {
		binaryCache.path, binaryCache.dir, binaryCache.err = buildReplicator(context.WithoutCancel(ctx))
	})
	return binaryCache.path, binaryCache.err
}

// RemoveBuiltBinary deletes the binary ReplicatorBinary built, if any
// (call it when the process's last instance is gone, e.g. in AfterSuite).
func RemoveBuiltBinary() {
	if binaryCache.dir != "" {
		_ = os.RemoveAll(binaryCache.dir)
	}
}

func buildReplicator(ctx context.Context) (path, dir string, err error) {
	root, err := moduleRoot()
	if err != nil {
		return "", "", fmt.Errorf("%w: cannot build the replicator: %w (set %s to a built binary)", ErrBackendUnavailable, err, EnvReplicatorBinary)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", "", fmt.Errorf("%w: cannot build the replicator: no go command (set %s)", ErrBackendUnavailable, EnvReplicatorBinary)
	}
	dir, err = os.MkdirTemp("", "shardbridge-replicator-")
	if err != nil {
		return "", "", fmt.Errorf("build replicator: %w", err)
	}
	path = filepath.Join(dir, "replicator")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", path, replicatorPackage)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(dir)
		return "", "", fmt.Errorf("go build %s: %w: %s", replicatorPackage, err, strings.TrimSpace(out.String()))
	}
	return path, dir, nil
}

// moduleRoot finds this module's source: upward from the working directory
// (tests, `go run` in a checkout), else from where this file was compiled.
func moduleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, d := range starts {
		for dir := d; ; dir = filepath.Dir(dir) {
			b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && bytes.Contains(b, []byte("module github.com/shardbridge/shardbridge\n")) {
				return dir, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", errors.New("the shardbridge module's source is not found")
}
