package containers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/redpanda"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/shardbridge/shardbridge/harness/backend"
)

// envMap is a lookup over a fixed map, so no test depends on the caller's
// environment.
func envMap(m map[string]string) Option {
	return WithLookupEnv(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

func applyCustomizers(t *testing.T, image string, cs []testcontainers.ContainerCustomizer) testcontainers.GenericContainerRequest {
	t.Helper()
	req := testcontainers.GenericContainerRequest{ContainerRequest: testcontainers.ContainerRequest{Image: image}}
	for _, c := range cs {
		if err := c.Customize(&req); err != nil {
			t.Fatalf("customize: %v", err)
		}
	}
	return req
}

func TestImages(t *testing.T) {
	cases := []struct {
		name           string
		env            map[string]string
		opts           []Option
		wantLS, wantRP string
	}{
		{"defaults", nil, nil, DefaultLocalStackImage, DefaultRedpandaImage},
		{"blank env is unset", map[string]string{EnvLocalStackImage: "  ", EnvRedpandaImage: ""}, nil, DefaultLocalStackImage, DefaultRedpandaImage},
		{"env overrides", map[string]string{EnvLocalStackImage: "localstack/localstack:community-archive", EnvRedpandaImage: "redpandadata/redpanda:v24.3.1"},
			nil, "localstack/localstack:community-archive", "redpandadata/redpanda:v24.3.1"},
		{"options beat env", map[string]string{EnvLocalStackImage: "a:1", EnvRedpandaImage: "b:1"},
			[]Option{WithLocalStackImage("mirror/localstack:4.4"), WithRedpandaImage("mirror/redpanda:v25.2.4")}, "mirror/localstack:4.4", "mirror/redpanda:v25.2.4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newConfig(append([]Option{envMap(tc.env)}, tc.opts...))
			if got := cfg.LocalStackImage(); got != tc.wantLS {
				t.Errorf("LocalStack image = %q, want %q", got, tc.wantLS)
			}
			if got := cfg.RedpandaImage(); got != tc.wantRP {
				t.Errorf("Redpanda image = %q, want %q", got, tc.wantRP)
			}
		})
	}
}

func TestPinnedImagesNeedNoToken(t *testing.T) {
	for _, img := range []string{DefaultLocalStackImage, DefaultRedpandaImage} {
		if strings.HasSuffix(img, ":latest") || !strings.Contains(img[strings.LastIndexByte(img, '/'):], ":") {
			t.Errorf("%s is not pinned to a tag", img)
		}
	}
	if needsAuthToken(DefaultLocalStackImage) {
		t.Errorf("default LocalStack image %s is one that needs an auth token", DefaultLocalStackImage)
	}
	for img, want := range map[string]bool{
		"localstack/localstack":                   true,
		"localstack/localstack:latest":            true,
		"localstack/localstack:stable":            true,
		"localstack/localstack:4.4":               false,
		"localstack/localstack:community-archive": false,
		"registry:5000/localstack/localstack":     true, // the port is not a tag
		"registry:5000/localstack/localstack:4.4": false,
	} {
		if got := needsAuthToken(img); got != want {
			t.Errorf("needsAuthToken(%q) = %v, want %v", img, got, want)
		}
	}
}

func TestLocalStackRequest(t *testing.T) {
	t.Run("without token", func(t *testing.T) {
		cfg := newConfig([]Option{envMap(nil)})
		req := applyCustomizers(t, cfg.LocalStackImage(), cfg.localStackCustomizers())
		want := map[string]string{
			"SERVICES":              "kinesis,dynamodb",
			"EAGER_SERVICE_LOADING": "1",
			"KINESIS_LATENCY":       "0",
			"DYNAMODB_IN_MEMORY":    "1",
			"DYNAMODB_SHARE_DB":     "1",
		}
		if !maps.Equal(req.Env, want) {
			t.Errorf("env = %v, want %v", req.Env, want)
		}
		if _, ok := req.Env[EnvLocalStackAuthToken]; ok {
			t.Error("auth token set although none was given")
		}
		if req.Image != DefaultLocalStackImage {
			t.Errorf("image = %q", req.Image)
		}
		if req.Logger == nil {
			t.Error("no logger set on the request")
		}
		assertLocalStackWait(t, req.WaitingFor)
	})
	t.Run("token passed through, extra env wins", func(t *testing.T) {
		cfg := newConfig([]Option{
			envMap(map[string]string{EnvLocalStackAuthToken: "ls-secret"}),
			WithLocalStackEnv(map[string]string{"KINESIS_ERROR_PROBABILITY": "0.1", "KINESIS_LATENCY": "5"}),
		})
		req := applyCustomizers(t, cfg.LocalStackImage(), cfg.localStackCustomizers())
		if got := req.Env[EnvLocalStackAuthToken]; got != "ls-secret" {
			t.Errorf("LOCALSTACK_AUTH_TOKEN = %q, want it passed through", got)
		}
		if req.Env["KINESIS_ERROR_PROBABILITY"] != "0.1" || req.Env["KINESIS_LATENCY"] != "5" {
			t.Errorf("extra env not applied over defaults: %v", req.Env)
		}
		if req.Env["SERVICES"] != "kinesis,dynamodb" {
			t.Errorf("SERVICES = %q", req.Env["SERVICES"])
		}
	})
}

// assertLocalStackWait walks the wait strategy: a health check on 4566/tcp
// that requires both services, and the "Ready." log line.
func assertLocalStackWait(t *testing.T, s wait.Strategy) {
	t.Helper()
	var httpS []*wait.HTTPStrategy
	var logs []*wait.LogStrategy
	var walk func(wait.Strategy)
	walk = func(s wait.Strategy) {
		switch v := s.(type) {
		case *wait.MultiStrategy:
			for _, c := range v.Strategies {
				walk(c)
			}
		case *wait.HTTPStrategy:
			httpS = append(httpS, v)
		case *wait.LogStrategy:
			logs = append(logs, v)
		default:
			t.Errorf("unexpected wait strategy %T", s)
		}
	}
	if s == nil {
		t.Fatal("no wait strategy")
	}
	walk(s)
	if len(httpS) != 1 || httpS[0].Path != "/_localstack/health" || httpS[0].Port != network.MustParsePort(localStackPort) || httpS[0].ResponseMatcher == nil {
		t.Errorf("want one health check on %s with a body matcher, got %+v", localStackPort, httpS)
	}
	if len(logs) != 1 || logs[0].Log != "Ready." {
		t.Errorf("want a wait for the log line Ready., got %+v", logs)
	}
}

func TestLocalStackHealthMatcher(t *testing.T) {
	for body, want := range map[string]bool{
		`{"services":{"kinesis":"running","dynamodb":"running","s3":"disabled"},"edition":"community","version":"4.4.0"}`: true,
		`{"services":{"kinesis":"available","dynamodb":"running"}}`:                                                       true,
		`{"services":{"kinesis":"running","dynamodb":"starting"}}`:                                                        false,
		`{"services":{"kinesis":"running"}}`:                                                                              false,
		`{"services":{"kinesis":"error","dynamodb":"running"}}`:                                                           false,
		`not json`: false,
		``:         false,
	} {
		if got := localStackServicesUp(strings.NewReader(body)); got != want {
			t.Errorf("localStackServicesUp(%s) = %v, want %v", body, got, want)
		}
	}
}

// errCaptured stops redpanda.Run after every customizer ran and before it
// talks to Docker, so the test sees the request the module really builds.
var errCaptured = errors.New("request captured")

func captureRedpandaRequest(t *testing.T, cfg config, port int) testcontainers.GenericContainerRequest {
	t.Helper()
	var got testcontainers.GenericContainerRequest
	capture := testcontainers.CustomizeRequestOption(func(req *testcontainers.GenericContainerRequest) error {
		got = *req
		return errCaptured
	})
	_, err := redpanda.Run(context.Background(), cfg.RedpandaImage(), append(cfg.redpandaCustomizers(port), capture)...)
	if !errors.Is(err, errCaptured) {
		t.Fatalf("redpanda.Run did not reach the capture: %v", err)
	}
	return got
}

func TestRedpandaRequest(t *testing.T) {
	cfg := newConfig([]Option{envMap(map[string]string{EnvRedpandaImage: "docker.redpanda.com/redpandadata/redpanda:v25.1.9"})})
	req := captureRedpandaRequest(t, cfg, 45678)

	if req.Image != "docker.redpanda.com/redpandadata/redpanda:v25.1.9" {
		t.Errorf("image = %q, want the env override", req.Image)
	}
	for _, p := range []string{"9092/tcp", "9644/tcp"} {
		if !slices.Contains(req.ExposedPorts, p) {
			t.Errorf("port %s not exposed: %v", p, req.ExposedPorts)
		}
	}
	cmd := strings.Join(req.Cmd, " ")
	for _, flag := range []string{"redpanda start", "--mode=dev-container", "--smp=1"} {
		if !strings.Contains(cmd, flag) {
			t.Errorf("cmd %q lacks %q", cmd, flag)
		}
	}
	if req.WaitingFor == nil {
		t.Error("no wait strategy")
	}

	// The fixed host port binding, as Docker will receive it.
	if req.HostConfigModifier == nil {
		t.Fatal("no host config modifier")
	}
	var hc container.HostConfig
	req.HostConfigModifier(&hc)
	b := hc.PortBindings[network.MustParsePort(kafkaPort)]
	if len(b) != 1 || b[0].HostPort != "45678" || b[0].HostIP.IsValid() {
		t.Errorf("kafka port binding = %+v, want host port 45678 on every interface", b)
	}

	// The bootstrap file the module renders carries write caching off.
	var bootstrap string
	for _, f := range req.Files {
		if strings.HasSuffix(f.ContainerFilePath, ".bootstrap.yaml") {
			data, err := io.ReadAll(f.Reader)
			if err != nil {
				t.Fatal(err)
			}
			bootstrap = string(data)
		}
	}
	if !strings.Contains(bootstrap, "write_caching_default: false") {
		t.Errorf("bootstrap config lacks write_caching_default: false:\n%s", bootstrap)
	}
	if req.Logger == nil {
		t.Error("no logger set on the request")
	}
}

func TestRedpandaRequestDefaultImage(t *testing.T) {
	req := captureRedpandaRequest(t, newConfig([]Option{envMap(nil)}), 1234)
	if req.Image != DefaultRedpandaImage {
		t.Errorf("image = %q, want %q", req.Image, DefaultRedpandaImage)
	}
}

func TestFreePortAndConflicts(t *testing.T) {
	p, err := freePort()
	if err != nil || p <= 0 || p > 65535 {
		t.Fatalf("freePort = %d, %v", p, err)
	}
	if !isPortConflict(errors.New("Error response from daemon: driver failed programming external connectivity: Bind for 0.0.0.0:" + strconv.Itoa(p) + " failed: port is already allocated")) {
		t.Error("Docker's port-allocated error not recognised")
	}
	if isPortConflict(errors.New("pull access denied")) {
		t.Error("unrelated error taken for a port conflict")
	}
}

func TestOptions(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	cfg := newConfig([]Option{
		WithKafkaHostPort(19092), WithLogger(logger), WithStartupTimeout(time.Minute), WithBrokerStopTimeout(3 * time.Second),
		WithLocalStackEnv(map[string]string{"A": "1"}), WithLocalStackEnv(map[string]string{"B": "2"}),
	})
	if cfg.kafkaHostPort != 19092 || cfg.logger != logger || cfg.startupTimeout != time.Minute || cfg.brokerStopTimeout != 3*time.Second {
		t.Errorf("options not applied: %+v", cfg)
	}
	if cfg.localstackEnv["A"] != "1" || cfg.localstackEnv["B"] != "2" {
		t.Errorf("WithLocalStackEnv does not accumulate: %v", cfg.localstackEnv)
	}
	def := newConfig(nil)
	if def.startupTimeout != DefaultStartupTimeout || def.brokerStopTimeout != DefaultBrokerStopTimeout || def.checkDocker == nil || def.logger == nil {
		t.Errorf("defaults not set: %+v", def)
	}
}

func TestStartWithoutDocker(t *testing.T) {
	reason := errors.New("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\nIs the docker daemon running?")
	called := false
	svc, err := Start(context.Background(), WithDockerCheck(func(context.Context) error { called = true; return reason }))
	if !called {
		t.Fatal("the Docker check was not run")
	}
	if svc != nil {
		t.Errorf("services returned without Docker: %+v", svc)
	}
	assertUnavailable(t, err)
	if !errors.Is(err, reason) {
		t.Errorf("error does not unwrap to the reason: %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("message spans lines: %q", err.Error())
	}
}

func TestStarterThroughHarness(t *testing.T) {
	// The seam exactly as the scenario suite uses it, with Docker absent.
	start := Starter(WithDockerCheck(func(context.Context) error { return errors.New("no engine here") }))
	_, err := backend.Start(context.Background(), backend.WithKind(backend.Containers), backend.WithContainers(start))
	assertUnavailableWrapped(t, err)
	line, ok := SkipReason(err)
	if !ok || line != "Docker not available: no engine here" {
		t.Errorf("SkipReason = %q, %v", line, ok)
	}
}

func TestRealDockerProbe(t *testing.T) {
	// The real probe, whatever this machine has: it must not panic, and a
	// failure must be the backend's "Docker not available" error.
	err := CheckDocker(context.Background())
	if err == nil {
		t.Log("Docker engine reachable")
		return
	}
	assertUnavailable(t, err)
	t.Logf("probe says: %v", err)
	// Start uses the same probe and must fail the same way, before touching
	// any container.
	_, err = Start(context.Background())
	assertUnavailable(t, err)
}

func TestUnavailable(t *testing.T) {
	e := Unavailable(errors.New("x"))
	if Unavailable(e) != e {
		t.Error("re-wrapping an unavailable error changed it")
	}
	assertUnavailable(t, Unavailable(nil))
	if _, ok := SkipReason(errors.New("other")); ok {
		t.Error("SkipReason accepted an unrelated error")
	}
	if _, ok := SkipReason(backend.ErrBackendUnavailable); ok {
		t.Error("SkipReason accepted another backend's unavailability")
	}
}

func assertUnavailable(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.HasPrefix(err.Error(), "Docker not available: ") {
		t.Errorf("message %q does not start with %q", err.Error(), "Docker not available: ")
	}
	assertUnavailableWrapped(t, err)
}

func assertUnavailableWrapped(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, backend.ErrBackendUnavailable) {
		t.Errorf("error %v does not match backend.ErrBackendUnavailable", err)
	}
	if _, ok := SkipReason(err); !ok {
		t.Errorf("SkipReason does not recognise %v", err)
	}
}
