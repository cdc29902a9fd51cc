package catalog

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/report"
)

func TestZZAll(t *testing.T) {
	only := os.Getenv("ONLY")
	for _, sc := range All() {
		if only != "" && only != sc.Name {
			continue
		}
		t0 := time.Now()
		out, err := sc.Run(context.Background(), harness.RunSeed(7))
		if err != nil {
			t.Logf("%s: ERROR %v", sc.Name, err)
			continue
		}
		fmt.Printf("=== %-40s %s %6.1fs dup=%d moves=%d stats=%+v\n", sc.Name, out.Report.Verdict(), time.Since(t0).Seconds(), out.Result.Duplicated.ExtraCopies, out.LeaseMoves, out.Total)
		if !out.Passed() != ExpectedToFail(sc) || os.Getenv("V") != "" {
			report.Write(os.Stdout, out.Report)
		}
	}
}
