package refemu

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// skipOrFail mirrors the conformance suite: CI sets
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

// The readiness probe tells the emulator from another program on the port.
func TestWaitReadyChecksWhoAnswers(t *testing.T) {
	for body, wantErr := range map[string]bool{
		`{"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"}`: false,
		`<UnknownOperationException/>`: true,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Amz-Target") != "Kinesis_20131202.ListStreams" {
				t.Errorf("probe sent target %q", r.Header.Get("X-Amz-Target"))
			}
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(body))
		}))
		p := &Process{Name: KinesisMock, Endpoint: srv.URL, done: make(chan struct{})}
		err := p.waitReady(context.Background(), probe{"Kinesis_20131202.ListStreams", "application/x-amz-json-1.1"}, 5*time.Second)
		srv.Close()
		if (err != nil) != wantErr {
			t.Errorf("answer %s: err = %v, want error %v", body, err, wantErr)
		}
	}
}

func TestFreePortsDistinctAndFree(t *testing.T) {
	ports, err := freePorts(8)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d handed out twice in %v", p, ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d not free after freePorts: %v", p, err)
		}
		l.Close()
	}
}
