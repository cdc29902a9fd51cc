package refemu

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireReference mirrors the conformance suite: CI sets
// SHARDBRIDGE_REQUIRE_REFERENCE=1 so a missing emulator fails instead of skipping.
func skipOrFail(t *testing.T, name string, err error) {
	t.Helper()
	if os.Getenv("SHARDBRIDGE_REQUIRE_REFERENCE") == "1" {
		t.Fatalf("%s required (SHARDBRIDGE_REQUIRE_REFERENCE=1) but unavailable: %v", name, err)
	}
	t.Skipf("%s not installed (run make emulators): skipping reference backend (%v)", name, err)
}

func TestNotInstalled(t *testing.T) {
	t.Setenv(EnvKinesisMockBin, "")
	t.Setenv(EnvDynaliteBin, "")
	dir := t.TempDir()
	for name, start := range map[string]func(context.Context, ...Option) (*Process, error){
		KinesisMock: StartKinesisMock, Dynalite: StartDynalite,
	} {
		_, err := start(context.Background(), WithEmulatorsDir(dir))
		if !errors.Is(err, ErrNotInstalled) {
			t.Errorf("%s: want ErrNotInstalled for an empty emulators dir, got %v", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q does not name the emulator", name, err)
		}
	}
	// An explicit binary that is not executable is refused, not run.
	f := filepath.Join(dir, "fake")
	if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindDynalite(WithBinary(f)); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("non-executable binary: want ErrNotInstalled, got %v", err)
	}
}

func TestEnvOverridesBinary(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "my-dynalite")
	if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvDynaliteBin, f)
	got, err := FindDynalite(WithEmulatorsDir(t.TempDir()))
	if err != nil || got != f {
		t.Fatalf("FindDynalite with %s set = %q, %v; want %q", EnvDynaliteBin, got, err, f)
	}
}

// A child that dies at once is reported with its output after the retries.
func TestExitBeforeReady(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "dies")
	if err := os.WriteFile(f, []byte("#!/bin/sh\necho boom >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := StartDynalite(context.Background(), WithBinary(f), WithStartTimeout(10*time.Second))
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("want an error carrying the child's output, got %v", err)
	}
}

func TestStartAndClose(t *testing.T) {
	for name, start := range map[string]func(context.Context, ...Option) (*Process, error){
		KinesisMock: StartKinesisMock, Dynalite: StartDynalite,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			// Two at once: nothing may depend on a fixed port.
			a, err := start(ctx)
			if errors.Is(err, ErrNotInstalled) {
				skipOrFail(t, name, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if a.Endpoint == b.Endpoint {
				t.Fatalf("two instances share %s", a.Endpoint)
			}
			for _, p := range []*Process{a, b} {
				resp, err := http.Post(p.Endpoint, "application/json", strings.NewReader("{}"))
				if err != nil {
					t.Fatalf("%s not answering: %v", p.Endpoint, err)
				}
				resp.Body.Close()
			}
			a.Close()
			if !a.Exited() {
				t.Fatal("Close returned but the process is still running")
			}
			if _, err := http.Post(a.Endpoint, "application/json", strings.NewReader("{}")); err == nil {
				t.Fatal("endpoint still answers after Close")
			}
			if b.Exited() {
				t.Fatal("closing one instance stopped the other")
			}
		})
	}
}
