package replicator_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/replicator"
	"github.com/shardbridge/shardbridge/replicator/config"
)

const (
	streamRole = "arn:aws:iam::111111111111:role/stream-reader"
	leaseRole  = "arn:aws:iam::222222222222:role/lease-writer"
	podRole    = "arn:aws:iam::333333333333:role/pod"
	// The test environment's emulator serves account 000000000000 in us-east-1.
	ordersStreamARN = "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
)

// startSDK starts an instance on clients the replicator builds itself from
// the SDK's default chain and cfg (not the environment's injected ones).
func (e *testEnv) startSDK(cfg config.Config) *instance {
	e.t.Helper()
	return e.start(cfg, replicator.WithKinesisClient(nil), replicator.WithDynamoDBClient(nil))
}

// checkSigned fails unless every request the proxy saw was signed with key
// for service in region, and it saw at least one request of each target.
func checkSigned(t *testing.T, p *signatureProxy, want signature, targets ...string) []signedRequest {
	t.Helper()
	seen := p.Seen()
	got := map[string]bool{}
	for _, r := range seen {
		if r.signature != want {
			t.Errorf("%s signed as %+v, want %+v", r.Target, r.signature, want)
		}
		got[r.Target[strings.IndexByte(r.Target, '.')+1:]] = true
	}
	for _, tg := range targets {
		if !got[tg] {
			t.Errorf("no %s request signed as %+v (saw %v)", tg, want, got)
		}
	}
	return seen
}

// The stream is named by ARN and each service has its own role and region:
// STS is asked once per role, with the default credentials, in the
// service's region; every Kinesis call is signed with the stream role's keys
// and names the stream by ARN; every DynamoDB call, table creation included,
// is signed with the lease-table role's keys for the lease-table region.
func TestRolesAndRegionsPerService(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	sts := newFakeSTS(t, map[string]string{streamRole: "AKIDSTREAM", leaseRole: "AKIDLEASE"})
	isolateAWSEnv(t, sts.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDBASE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "base-secret")
	kin, ddb := newSignatureProxy(t, e.kinURL), newSignatureProxy(t, e.ddbURL)

	cfg := e.config("w1")
	cfg.StreamName, cfg.StreamARN = "", ordersStreamARN
	cfg.LeaseTableRegionOverride = "eu-west-1"
	cfg.StreamRoleARN, cfg.StreamRoleExternalID = streamRole, "ext-stream"
	cfg.LeaseTableRoleARN = leaseRole
	cfg.KinesisEndpoint, cfg.DynamoDBEndpoint = kin.URL, ddb.URL
	in := e.startSDK(cfg)
	e.write(5, 10)
	e.waitDelivered(30 * time.Second)
	if err := in.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}

	for _, r := range checkSigned(t, kin, signature{"AKIDSTREAM", "us-east-1", "kinesis"}, "ListShards", "GetShardIterator", "GetRecords") {
		if !strings.Contains(r.Body, `"StreamARN":"`+ordersStreamARN+`"`) || strings.Contains(r.Body, `"StreamName"`) {
			t.Errorf("%s does not name the stream by ARN alone: %s", r.Target, r.Body)
		}
	}
	checkSigned(t, ddb, signature{"AKIDLEASE", "eu-west-1", "dynamodb"}, "CreateTable", "UpdateItem")

	calls := sts.Calls()
	want := map[string]stsCall{
		streamRole: {Action: "AssumeRole", Role: streamRole, ExternalID: "ext-stream", Session: "shardbridge", Signed: signature{"AKIDBASE", "us-east-1", "sts"}},
		leaseRole:  {Action: "AssumeRole", Role: leaseRole, Session: "shardbridge", Signed: signature{"AKIDBASE", "eu-west-1", "sts"}},
	}
	if len(calls) != 2 {
		t.Errorf("STS answered %d calls, want one per role (cached): %+v", len(calls), calls)
	}
	for _, c := range calls {
		if c != want[c.Role] {
			t.Errorf("STS call %+v, want %+v", c, want[c.Role])
		}
	}
}

// Web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, as on EKS) comes
// through the SDK's default chain; a lease-table role is then assumed with
// the web identity's credentials.
func TestWebIdentityThroughDefaultChain(t *testing.T) {
	e := newTestEnv(t, 1, 1)
	sts := newFakeSTS(t, map[string]string{podRole: "AKIDPOD", leaseRole: "AKIDLEASE"})
	isolateAWSEnv(t, sts.URL)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("pod-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ROLE_ARN", podRole)
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token)
	t.Setenv("AWS_REGION", "us-east-1")
	kin, ddb := newSignatureProxy(t, e.kinURL), newSignatureProxy(t, e.ddbURL)

	cfg := e.config("w1")
	cfg.LeaseTableRoleARN = leaseRole
	cfg.KinesisEndpoint, cfg.DynamoDBEndpoint = kin.URL, ddb.URL
	in := e.startSDK(cfg)
	e.write(3, 5)
	e.waitDelivered(30 * time.Second)
	if err := in.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}

	checkSigned(t, kin, signature{"AKIDPOD", "us-east-1", "kinesis"}, "ListShards", "GetRecords")
	checkSigned(t, ddb, signature{"AKIDLEASE", "us-east-1", "dynamodb"}, "CreateTable")
	var web, assume int
	for _, c := range sts.Calls() {
		switch {
		case c.Action == "AssumeRoleWithWebIdentity" && c.Role == podRole && c.Token == "pod-token":
			web++
		case c.Action == "AssumeRole" && c.Role == leaseRole && c.Signed.Key == "AKIDPOD":
			assume++
		default:
			t.Errorf("unexpected STS call %+v", c)
		}
	}
	if web == 0 || assume != 1 {
		t.Errorf("STS: %d web-identity calls and %d AssumeRole with the pod's keys; want some and 1", web, assume)
	}
}

// A role STS refuses stops start-up with an error naming the setting, the
// role and the service.
func TestAssumeRoleRefusedAtStartup(t *testing.T) {
	e := newTestEnv(t, 1, 1)
	sts := newFakeSTS(t, map[string]string{leaseRole: "AKIDLEASE"})
	isolateAWSEnv(t, sts.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDBASE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "base-secret")
	cfg := e.config("w1")
	cfg.StreamRoleARN, cfg.LeaseTableRoleARN = streamRole, leaseRole
	cfg.KinesisEndpoint, cfg.DynamoDBEndpoint, cfg.Region = e.kinURL, e.ddbURL, "us-east-1"
	cfg.StartupTimeout = 300 * time.Millisecond
	r, err := replicator.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = r.Run(ctx)
	for _, want := range []string{"REPLICATOR_STREAM_ROLE_ARN", streamRole, "Kinesis", "AccessDenied"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Run = %v, want an error mentioning %s", err, want)
		}
	}
}

// The binary takes an ARN in KCL_STREAM_NAME (the Python bridge's variable)
// and replicates the stream it names.
func TestBinaryByStreamARN(t *testing.T) {
	e := newTestEnv(t, 2, 2)
	kin := newSignatureProxy(t, e.kinURL)
	e.startBinary(t, "KCL_STREAM_NAME="+ordersStreamARN, "AWS_ENDPOINT_URL_KINESIS="+kin.URL)
	e.write(5, 10)
	e.waitDelivered(30 * time.Second)
	for _, r := range checkSigned(t, kin, signature{"test", "us-east-1", "kinesis"}, "ListShards", "GetShardIterator", "GetRecords") {
		if !strings.Contains(r.Body, `"StreamARN":"`+ordersStreamARN+`"`) {
			t.Errorf("%s does not name the stream by ARN: %s", r.Target, r.Body)
		}
	}
}
