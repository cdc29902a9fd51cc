package kinesis

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// reshardReference is the straightforward UNIFORM_SCALING algorithm
// (rebuild the open list after every step) that reshardUniform must match
// shard for shard: same ids, ranges and lineage.
func (s *stream) reshardReference(target int, nowMs int64, counter uint64) {
	starts := evenStarts(target)
	for _, b := range starts[1:] {
		sh := s.route(b)
		if sh.start != b {
			s.split(sh, b, nowMs, counter)
			s.rebuildOpen()
		}
	}
	for i := range starts {
		lo, hi := starts[i], maxHashKey
		if i+1 < len(starts) {
			hi = starts[i+1].sub1()
		}
		for {
			var run []*shard
			for _, sh := range s.open {
				if sh.start.cmp(lo) >= 0 && sh.end.cmp(hi) <= 0 {
					run = append(run, sh)
				}
			}
			if len(run) <= 1 {
				break
			}
			for j := 0; j+1 < len(run); j += 2 {
				s.merge(run[j], run[j+1], nowMs, counter)
			}
			s.rebuildOpen()
		}
	}
}

func topology(s *stream) []string {
	out := make([]string, 0, len(s.shards))
	for _, sh := range s.shards {
		out = append(out, fmt.Sprintf("%s [%s,%s] p=%s a=%s closed=%v", sh.id, sh.startKey, sh.endKey, sh.parent, sh.adjParent, sh.closed))
	}
	return out
}

func TestReshardUniformMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := 0; trial < 40; trial++ {
		initial := 1 + rng.IntN(12)
		fast, ref := New(WithLimits(false)), New(WithLimits(false))
		for _, e := range []*Emulator{fast, ref} {
			if err := e.CreateStream("s", initial); err != nil {
				t.Fatal(err)
			}
		}
		fs, rs := fast.streams["s"], ref.streams["s"]
		targets := []int{}
		for step := 0; step < 4; step++ {
			target := 1 + rng.IntN(40)
			targets = append(targets, target)
			fs.reshardUniform(target, int64(step), 1)
			rs.reshardReference(target, int64(step), 1)
			if fs.openCount() != target {
				t.Fatalf("%d → %v: %d open shards", initial, targets, fs.openCount())
			}
			a, b := topology(fs), topology(rs)
			if len(a) != len(b) {
				t.Fatalf("%d → %v: %d shards, reference %d", initial, targets, len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("%d → %v: shard %d is %s, reference %s", initial, targets, i, a[i], b[i])
				}
			}
		}
	}
}

// TestReshardUniformAtScale: 10,000 → 9,999 shards (one huge merge pass)
// and back leave exactly the even tiling.
func TestReshardUniformAtScale(t *testing.T) {
	e := New(WithLimits(false))
	if err := e.CreateStream("s", 10000); err != nil {
		t.Fatal(err)
	}
	s := e.streams["s"]
	for _, target := range []int{9999, 10000, 1} {
		s.reshardUniform(target, 0, 1)
		starts := evenStarts(target)
		if len(s.open) != target {
			t.Fatalf("target %d: %d open", target, len(s.open))
		}
		for i, sh := range s.open {
			if sh.start != starts[i] || (i+1 < target && sh.end != starts[i+1].sub1()) || (i+1 == target && sh.end != maxHashKey) {
				t.Fatalf("target %d: open shard %d is [%s, %s]", target, i, sh.startKey, sh.endKey)
			}
		}
	}
}
