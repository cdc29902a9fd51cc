package harness

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness/workload"
)

func TestZZSmoke5(t *testing.T) {
	ctx := context.Background()
	env, _ := Start(ctx, WithSeed(1))
	defer env.Close(ctx)
	env.CreateStream(ctx, "s", 2)
	env.CreateTopic(ctx, "t", 4)
	rn, err := NewRunner(env, WithRunMode(ChildProcess), WithStream("s"), WithApplication("app1"), WithTopic("t"), WithSetting("REPLICATOR_LOG_LEVEL", "debug"))
	if err != nil {
		t.Fatal(err)
	}
	defer rn.Close(ctx)
	if err := rn.Start(ctx, 1); err != nil {
		t.Fatal(err)
	}
	w, _ := workload.New(env.Kinesis(), "s", workload.WithTotal(2000), workload.WithRate(1000))
	w.Run(ctx)
	time.Sleep(2 * time.Second)
	p := rn.Instance(0).cur.(*childProcess)
	resp, err := http.Get("http://" + p.metricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "replicator_") {
			t.Log(l)
		}
	}
	t.Log(rn.Instance(0).LogTail())
	s, err := rn.Instance(0).Stats(ctx)
	t.Logf("%+v %v", s, err)
}
