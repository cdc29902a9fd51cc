package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles the replicator into dir and returns the binary's path.
// It runs from the module root, found from the working directory upwards,
// so it works from the repository root and from a package's test.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "replicator")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./replicator/cmd/replicator")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./replicator/cmd/replicator: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return bin, nil
}

const modulePath = "github.com/shardbridge/shardbridge"

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the Shardbridge module (no go.mod naming " + modulePath + "): pass --replicator PATH")
		}
		dir = parent
	}
}
