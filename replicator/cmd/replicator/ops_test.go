package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	dynamodbfake "github.com/shardbridge/shardbridge/fakes/dynamodb"
	kinesisfake "github.com/shardbridge/shardbridge/fakes/kinesis"
	"github.com/shardbridge/shardbridge/replicator/lease"
)

// opsEnv is the Kinesis and DynamoDB emulators with a stream of two shards,
// a lease table the test writes by hand, and the settings that reach them.
type opsEnv struct {
	settings map[string]string
	ddb      *dynamodb.Client
	kin      *kinesis.Client
	leases   *lease.Manager
	seq      string // a record of shard 1
}

func newOpsEnv(t *testing.T) *opsEnv {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	kin := kinesisfake.New()
	kinSrv := httptest.NewServer(kin)
	ddbSrv := httptest.NewServer(dynamodbfake.New())
	t.Cleanup(kinSrv.Close)
	t.Cleanup(ddbSrv.Close)
	if err := kin.CreateStream("orders", 2); err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	e := &opsEnv{
		settings: map[string]string{
			"KCL_STREAM_NAME": "orders", "KCL_APPLICATION_NAME": "orders-bridge", "KCL_REGION": "us-east-1",
			"KAFKA_TOPIC": "out", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "REPLICATOR_METRICS_ADDR": "",
			"REPLICATOR_KINESIS_ENDPOINT": kinSrv.URL, "REPLICATOR_DYNAMODB_ENDPOINT": ddbSrv.URL,
			"REPLICATOR_FAILOVER_TIME": "1s",
		},
		ddb: dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(ddbSrv.URL), Credentials: creds}),
		kin: kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(kinSrv.URL), Credentials: creds}),
	}
	ctx := context.Background()
	e.leases = lease.NewManager(e.ddb, "orders-bridge", "test", lease.WithLogger(slog.New(slog.DiscardHandler)))
	if err := e.leases.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		res, err := e.kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"),
			ExplicitHashKey: aws.String("340282366920938463463374607431768211455"), Data: []byte{byte(i)}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.seq = aws.ToString(res.SequenceNumber)
		}
	}
	rows := []lease.Lease{
		{ShardID: "shardId-000000000000", Owner: "w-held", Counter: 5, Checkpoint: lease.TrimHorizon},
		{ShardID: "shardId-000000000001", Counter: 9, Checkpoint: e.seq},
		{ShardID: "shardId-000000000007", Owner: "w-done", Counter: 2, Checkpoint: lease.ShardEnd, ChildShardIDs: []string{"shardId-000000000008"}},
		{ShardID: "shardId-000000000008", Counter: 1, Checkpoint: lease.TrimHorizon, ParentShardIDs: []string{"shardId-000000000007"}},
	}
	for _, l := range rows {
		if _, err := e.leases.CreateLease(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *opsEnv) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, env(e.settings), &out, &errOut, false)
	return code, out.String(), errOut.String()
}

func TestLeasesCommand(t *testing.T) {
	e := newOpsEnv(t)
	code, out, errOut := e.run(t, "leases")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "SHARD OWNER COUNTER CHECKPOINT PARENTS LAG" {
		t.Fatalf("table:\n%s", out)
	}
	want := []string{
		"shardId-000000000000 w-held 5 TRIM_HORIZON - ", // lag follows
		"shardId-000000000001 - 9 " + e.seq + "/0 - ",
		"shardId-000000000007 w-done 2 SHARD_END - -",
		"shardId-000000000008 - 1 TRIM_HORIZON shardId-000000000007 -", // no such shard: lag unknown
	}
	for i, w := range want {
		got := strings.Join(strings.Fields(lines[i+1]), " ")
		if !strings.HasPrefix(got, w) {
			t.Errorf("row %d: %q, want it to start with %q", i, got, w)
		}
	}
	if !strings.HasSuffix(lines[2], "ms") || !strings.HasSuffix(lines[1], "ms") {
		t.Errorf("open shards have no lag:\n%s", out)
	}

	code, out, errOut = e.run(t, "leases", "--json")
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 4 {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	r := rows[1]
	if r["shard"] != "shardId-000000000001" || r["owner"] != "" || r["counter"] != 9.0 || r["checkpoint"] != e.seq ||
		r["subsequence"] != 0.0 || r["lag_ms"] == nil || len(r["parents"].([]any)) != 0 {
		t.Errorf("--json row: %v", r)
	}
	if rows[2]["lag_ms"] != nil || rows[2]["lag_note"] != "shard ended" {
		t.Errorf("--json ended shard: %v", rows[2])
	}
}

func TestResetCommand(t *testing.T) {
	e := newOpsEnv(t)
	// Refused while w-held holds shard 0, naming both; nothing written.
	code, _, errOut := e.run(t, "reset", "--position", "TRIM_HORIZON")
	// A SHARD_END row keeps the owner that finished it; nobody holds it.
	if code != 1 || !strings.Contains(errOut, "worker w-held holds shardId-000000000000") || !strings.Contains(errOut, "--force") ||
		strings.Contains(errOut, "w-done") {
		t.Fatalf("reset over a held lease: exit %d, %s", code, errOut)
	}
	if l, _, _ := e.leases.Get(context.Background(), "shardId-000000000001"); l.Checkpoint != e.seq {
		t.Fatalf("a refused reset wrote: %+v", l)
	}
	// w-held renews nothing: --force waits the failover time (1s), then resets.
	at := "2026-05-06T07:08:09Z"
	code, out, errOut := e.run(t, "reset", "--position", "AT_TIMESTAMP", "--at", at, "--force")
	if code != 0 {
		t.Fatalf("forced reset: exit %d, %s", code, errOut)
	}
	if !strings.Contains(out, "shardId-000000000007: SHARD_END -> AT_TIMESTAMP@"+at) ||
		!strings.Contains(out, "shardId-000000000000: TRIM_HORIZON -> AT_TIMESTAMP@"+at+" (owner w-held cleared)") {
		t.Errorf("reset output:\n%s", out)
	}
	ls, err := e.leases.List(context.Background())
	if err != nil || len(ls) != 4 {
		t.Fatal(err)
	}
	want, _ := time.Parse(time.RFC3339, at)
	for _, l := range ls {
		if l.Checkpoint != lease.AtTimestamp || !l.AtTimestamp.Equal(want) || l.Owner != "" || len(l.ChildShardIDs) != 0 {
			t.Errorf("after reset: %+v", l)
		}
	}
	// One shard.
	if code, _, errOut := e.run(t, "reset", "--position=LATEST", "--shard=shardId-000000000001"); code != 0 {
		t.Fatalf("reset one shard: exit %d, %s", code, errOut)
	}
	if l, _, _ := e.leases.Get(context.Background(), "shardId-000000000001"); l.Checkpoint != lease.Latest {
		t.Errorf("shard 1 after its reset: %+v", l)
	}
	if l, _, _ := e.leases.Get(context.Background(), "shardId-000000000000"); l.Checkpoint != lease.AtTimestamp {
		t.Errorf("shard 0 changed by another shard's reset: %+v", l)
	}
}

func TestOperatorCommandErrorsNameTheProblem(t *testing.T) {
	e := newOpsEnv(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"reset", "--position", "EARLIEST"}, 2, `--position: "EARLIEST" is not TRIM_HORIZON, LATEST or AT_TIMESTAMP`},
		{[]string{"reset"}, 2, "--position: required"},
		{[]string{"reset", "--position", "AT_TIMESTAMP"}, 2, "--at: required with --position AT_TIMESTAMP"},
		{[]string{"reset", "--position", "AT_TIMESTAMP", "--at", "yesterday"}, 2, `--at: "yesterday" is not an RFC 3339 time`},
		{[]string{"reset", "--position", "LATEST", "--shard", "shardId-000000000042"}, 1, `unknown shard "shardId-000000000042"`},
		{[]string{"leases", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"leases", "--application-name=missing-app"}, 1, `lease table not found: "missing-app"`},
	} {
		code, _, errOut := e.run(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and one line containing %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

func TestOperatorCommandHelp(t *testing.T) {
	for _, cmd := range []string{"leases", "reset"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{cmd, "-h"}, env(nil), &stdout, &stderr, false); code != 0 || !strings.Contains(stdout.String(), "Usage: replicator "+cmd) {
			t.Errorf("%s -h: exit %d, stdout %q, stderr %q", cmd, code, stdout.String(), stderr.String())
		}
	}
}
