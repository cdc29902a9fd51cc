package leasewatch_test

import (
	"testing"

	"github.com/shardbridge/shardbridge/harness/leasewatch"
)

func TestCompareCheckpoints(t *testing.T) {
	l := func(cp string, sub int64) leasewatch.Row { return leasewatch.Row{Checkpoint: cp, SubSequence: sub} }
	cases := []struct {
		a, b leasewatch.Row
		want int
	}{
		{l(leasewatch.TrimHorizon, 0), l("1", 0), -1},
		{l("99", 0), l("100", 0), -1},
		{l("1000000000000000000000000000000000000000", 0), l("999999999999999999999999999999999999999", 0), 1},
		{l("100", 2), l("100", 1), 1},
		{l(leasewatch.ShardEnd, 0), l("5", 0), 1},
		{l(leasewatch.Latest, 0), l(leasewatch.TrimHorizon, 0), 0},
	}
	for _, c := range cases {
		if got := leasewatch.ComparePositions(c.a, c.b); (got > 0) != (c.want > 0) || (got < 0) != (c.want < 0) {
			t.Errorf("compare(%v, %v) = %d, want sign of %d", c.a, c.b, got, c.want)
		}
	}
}
