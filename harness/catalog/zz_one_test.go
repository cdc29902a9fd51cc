package catalog

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/report"
)

func TestZZOne(t *testing.T) {
	sc, _ := Get(os.Getenv("ONLY"))
	lg := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	out, err := sc.Run(context.Background(), harness.RunSeed(7), harness.RunLogger(lg))
	if err != nil {
		t.Fatal(err)
	}
	report.Write(os.Stdout, out.Report)
	for k, v := range out.Stats {
		t.Logf("%s %+v", k, v)
	}
}
