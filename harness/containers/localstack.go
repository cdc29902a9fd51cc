package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/localstack"
	"github.com/testcontainers/testcontainers-go/wait"
)

// localStackPort is LocalStack's edge port: every service, one port.
const localStackPort = "4566/tcp"

// localStackServices are the services LocalStack must report before the
// backend is up.
var localStackServices = []string{"kinesis", "dynamodb"}

// localStackEnv is the container environment: only the two services, loaded
// at start rather than on first call (DynamoDB Local is a JVM that takes
// seconds to boot, which would otherwise land in the first scenario's
// timings), no artificial 500 ms Kinesis latency, one DynamoDB database for
// every region and key so the harness and a child replicator always see the
// same lease table.
func (c config) localStackEnv() map[string]string {
	env := map[string]string{
		"SERVICES":              strings.Join(localStackServices, ","),
		"EAGER_SERVICE_LOADING": "1",
		"KINESIS_LATENCY":       "0",
		"DYNAMODB_IN_MEMORY":    "1",
		"DYNAMODB_SHARE_DB":     "1",
	}
	if tok := c.env(EnvLocalStackAuthToken); tok != "" {
		env[EnvLocalStackAuthToken] = tok
	}
	for k, v := range c.localstackEnv {
		env[k] = v
	}
	return env
}

// localStackCustomizers are what the backend adds to the localstack module's
// request (the module itself exposes 4566/tcp and mounts the Docker socket).
// The wait strategy replaces the module's: its health check only asks for
// HTTP 200, which LocalStack answers before the services are loaded.
func (c config) localStackCustomizers() []testcontainers.ContainerCustomizer {
	return []testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(slogPrintf{c.logger}),
		testcontainers.WithEnv(c.localStackEnv()),
		testcontainers.WithWaitStrategyAndDeadline(c.startupTimeout, localStackWait()),
	}
}

func localStackWait() wait.Strategy {
	return wait.ForAll(
		wait.ForHTTP("/_localstack/health").WithPort(localStackPort).WithResponseMatcher(localStackServicesUp),
		wait.ForLog("Ready."),
	)
}

// localStackServicesUp reads /_localstack/health and reports whether Kinesis
// and DynamoDB are both running (or available, LocalStack's word for "will
// start on first call").
func localStackServicesUp(body io.Reader) bool {
	var h struct {
		Services map[string]string `json:"services"`
	}
	if err := json.NewDecoder(body).Decode(&h); err != nil {
		return false
	}
	for _, s := range localStackServices {
		switch h.Services[s] {
		case "running", "available":
		default:
			return false
		}
	}
	return true
}

// needsAuthToken reports whether a LocalStack tag is one that refuses to
// start without LOCALSTACK_AUTH_TOKEN (the moving tags, since 2026-03).
func needsAuthToken(image string) bool {
	tag := "latest"
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		tag = image[i+1:]
	}
	return tag == "latest" || tag == "stable"
}

type localStack struct {
	ctr      *localstack.LocalStackContainer
	endpoint string
}

func startLocalStack(ctx context.Context, cfg config) (*localStack, error) {
	img := cfg.LocalStackImage()
	if needsAuthToken(img) && cfg.env(EnvLocalStackAuthToken) == "" {
		cfg.logger.Warn("this LocalStack tag needs an auth token; set LOCALSTACK_AUTH_TOKEN or pin a tag such as "+DefaultLocalStackImage,
			"image", img)
	}
	ctr, err := localstack.Run(ctx, img, cfg.localStackCustomizers()...)
	if err != nil {
		if ctr != nil {
			_ = ctr.Terminate(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("start LocalStack %s: %w", img, err)
	}
	ep, err := ctr.PortEndpoint(ctx, localStackPort, "http")
	if err != nil {
		_ = ctr.Terminate(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("LocalStack endpoint: %w", err)
	}
	return &localStack{ctr: ctr, endpoint: ep}, nil
}

func (l *localStack) close(ctx context.Context) error {
	if err := l.ctr.Terminate(ctx); err != nil {
		return fmt.Errorf("terminate LocalStack: %w", err)
	}
	return nil
}
