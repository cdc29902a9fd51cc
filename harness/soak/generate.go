package soak

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Generate draws run's plan from seed alone (and the environment's profile
// and the run's duration): the same arguments give the same plan.
func Generate(seed int64, run int, duration time.Duration, p Profile) Plan {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(run)))
	pl := Plan{Seed: seed, Run: run, Profile: p, Duration: duration}
	pl.RunSeed = int64(rng.Uint64() >> 1)
	pl.Shards = 1 + rng.IntN(4)
	pl.Instances = 1 + rng.IntN(3)
	pl.Producers = 1 + rng.IntN(3)
	drawWorkload(rng, &pl)
	g := gen{rng: rng, p: p, open: pl.Shards, inst: make([]instState, pl.Instances)}
	pl.Steps = g.schedule()
	pl.Calm, pl.MaxDuplicates, pl.Why = verdicts(pl)
	return pl
}

// drawWorkload picks the rate, keys, record sizes and KPL aggregation.
func drawWorkload(rng *rand.Rand, pl *Plan) {
	sizes := [][2]int{{100, 300}, {200, 1000}, {500, 2000}, {1000, 4000}}
	sz := sizes[rng.IntN(len(sizes))]
	pl.MinSize, pl.MaxSize = sz[0], sz[1]
	if rng.IntN(3) == 0 {
		pl.Aggregate = 2 + rng.IntN(4)
	}
	pl.Rate = 50 * (6 + rng.IntN(25)) // 300–1,500 records/s
	// Stay well under the 1 MB/s write limit per shard, so that the run's
	// length is the duration asked for, not the producers' backoff.
	byteCap := (600 << 10) * pl.Shards / pl.MaxSize
	pl.Rate = max(100, min(pl.Rate, byteCap/50*50))
	if rng.IntN(2) == 0 {
		pl.Zipf, pl.Keys, pl.Skew = true, 20+rng.IntN(41), 1.1+0.1*float64(rng.IntN(6))
	} else {
		pl.Keys = 8 + rng.IntN(57)
	}
	pl.Records = max(100, int64(float64(pl.Rate)*pl.Duration.Seconds()))
}

type instState int

const (
	up instState = iota
	killed
	paused
	gone
)

// gen draws a schedule while tracking what it changes: open shards and
// each instance's state, so every step it emits is valid when it runs.
type gen struct {
	rng     *rand.Rand
	p       Profile
	open    int
	inst    []instState
	scales  int
	steps   []Step
	pending *Step // a closing step deferred past one more fault
}

// episode kinds and their weights: the whole vocabulary.
var episodes = []struct {
	kind   string
	weight int
}{
	{ActSplit, 3}, {ActMerge, 2}, {ActScale, 2}, {ActKill, 3}, {ActRestart, 1}, {ActPause, 2},
	{ActJoin, 2}, {ActLeave, 2}, {ActThrottleReads, 2}, {ActThrottleLeases, 2}, {ActExpire, 2},
	{ActBrokerRestart, 2}, {ActFailProduce, 1}, {ActProduceTimeout, 1}, {ActCorruptLease, 2},
}

// overlapping are the faults that may happen while an instance is down or
// a produce error awaits its broker restart.
var overlapping = []string{ActSplit, ActMerge, ActScale, ActThrottleReads, ActThrottleLeases, ActExpire, ActProduceTimeout}

func (g *gen) schedule() []Step {
	n := 2 + g.rng.IntN(3)
	fracs := make([]float64, n)
	for i := range fracs {
		fracs[i] = math.Round((0.1+0.7*g.rng.Float64())*20) / 20
	}
	slices.Sort(fracs)
	last := ""
	for i := range n {
		kind := g.pick()
		when := Trigger{Kind: TrigFraction, Fraction: fracs[i]}
		switch {
		case i == 0 && g.up() >= 2 && g.p.LeaseTable && g.rng.IntN(3) == 0:
			when = Trigger{Kind: TrigBalanced}
		case (last == ActSplit || last == ActMerge) && g.up() >= 1 && g.p.LeaseTable && g.rng.IntN(3) == 0:
			when = Trigger{Kind: TrigParents}
		}
		g.episode(kind, when)
		last = kind
	}
	g.closePending()
	return g.steps
}

// pick draws a fault the profile and the state allow.
func (g *gen) pick() string {
	total := 0
	var kinds []string
	var weights []int
	for _, e := range episodes {
		if !g.allowed(e.kind) {
			continue
		}
		kinds, weights = append(kinds, e.kind), append(weights, e.weight)
		total += e.weight
	}
	x := g.rng.IntN(total)
	for i, w := range weights {
		if x < w {
			return kinds[i]
		}
		x -= w
	}
	return kinds[len(kinds)-1]
}

func (g *gen) allowed(kind string) bool {
	if g.pending != nil && !slices.Contains(overlapping, kind) {
		return false
	}
	switch kind {
	case ActSplit:
		return g.open < maxOpenShards
	case ActMerge:
		// The open shards always tile the hash key space, so two of them
		// include an adjacent pair.
		return g.open >= 2
	case ActScale:
		return g.scales < 2
	case ActKill, ActRestart:
		return g.up() >= 1
	case ActPause:
		return g.p.Pause && g.up() >= 1
	case ActJoin:
		return g.up() < maxInstances
	case ActLeave:
		return g.up() >= 2
	case ActThrottleReads, ActThrottleLeases:
		return g.p.FaultLayer
	case ActExpire:
		return g.p.ExpireIterators
	case ActBrokerRestart:
		return g.p.BrokerControl
	case ActFailProduce:
		// Only a broker restart makes the producer drop the partition's
		// records it holds after kfake's NOT_LEADER_OR_FOLLOWER, which comes
		// with no leader change (see scenario kafka-produce-faults).
		return g.p.BrokerFaults && g.p.BrokerControl
	case ActProduceTimeout:
		return g.p.BrokerFaults
	case ActCorruptLease:
		return g.p.LeaseTable && g.up() >= 1
	}
	return false
}

func (g *gen) up() int {
	n := 0
	for _, s := range g.inst {
		if s == up {
			n++
		}
	}
	return n
}

// upInstance draws a running instance.
func (g *gen) upInstance() int {
	var ids []int
	for i, s := range g.inst {
		if s == up {
			ids = append(ids, i)
		}
	}
	return ids[g.rng.IntN(len(ids))]
}

func (g *gen) emit(when Trigger, do Action) { g.steps = append(g.steps, Step{When: when, Do: do}) }

func (g *gen) wait(lo, hi time.Duration) Trigger {
	return Trigger{Kind: TrigWait, Wait: lo + time.Duration(g.rng.IntN(int((hi-lo)/(100*time.Millisecond))+1))*100*time.Millisecond}
}

// episode emits one fault: its opening step and, for faults that must be
// undone, the closing one (at once, or after the next fault).
func (g *gen) episode(kind string, when Trigger) {
	var closer *Step
	switch kind {
	case ActSplit:
		shard := hotShard
		if g.rng.IntN(2) == 0 {
			shard = g.rng.IntN(g.open)
		}
		g.emit(when, Action{Kind: ActSplit, Shard: shard})
		g.open++
	case ActMerge:
		g.emit(when, Action{Kind: ActMerge})
		g.open--
	case ActScale:
		var targets []int
		for n := (g.open + 1) / 2; n <= min(2*g.open, maxOpenShards); n++ {
			if n != g.open {
				targets = append(targets, n)
			}
		}
		n := targets[g.rng.IntN(len(targets))]
		g.emit(when, Action{Kind: ActScale, N: n})
		g.open, g.scales = n, g.scales+1
	case ActKill:
		i := g.upInstance()
		g.emit(when, Action{Kind: ActKill, Instance: i})
		g.inst[i] = killed
		closer = &Step{When: g.wait(500*time.Millisecond, 2500*time.Millisecond), Do: Action{Kind: ActStart, Instance: i}}
	case ActRestart:
		g.emit(when, Action{Kind: ActRestart, Instance: g.upInstance()})
	case ActPause:
		i := g.upInstance()
		g.emit(when, Action{Kind: ActPause, Instance: i})
		g.inst[i] = paused
		closer = &Step{When: g.wait(time.Second, 3*time.Second), Do: Action{Kind: ActResume, Instance: i}}
	case ActJoin:
		g.emit(when, Action{Kind: ActJoin})
		g.inst = append(g.inst, up)
	case ActLeave:
		i := g.upInstance()
		g.emit(when, Action{Kind: ActLeave, Instance: i})
		g.inst[i] = gone
	case ActThrottleReads:
		g.emit(when, Action{Kind: ActThrottleReads, D: g.wait(time.Second, 3*time.Second).Wait})
	case ActThrottleLeases:
		g.emit(when, Action{Kind: ActThrottleLeases, P: []float64{0.3, 0.5, 0.7}[g.rng.IntN(3)], D: g.wait(time.Second, 3*time.Second).Wait})
	case ActExpire:
		g.emit(when, Action{Kind: ActExpire})
	case ActBrokerRestart:
		g.emit(when, Action{Kind: ActBrokerRestart})
	case ActFailProduce:
		g.emit(when, Action{Kind: ActFailProduce, N: 1 + g.rng.IntN(3)})
		closer = &Step{When: g.wait(500*time.Millisecond, 1500*time.Millisecond), Do: Action{Kind: ActBrokerRestart}}
	case ActProduceTimeout:
		g.emit(when, Action{Kind: ActProduceTimeout, N: 1 + g.rng.IntN(3)})
	case ActCorruptLease:
		if when.Kind != TrigFraction {
			when.Fraction = 0
		}
		// Only a leased row can be corrupted: wait for one. The repair comes
		// after the holder's renewal (every failover/3) has met the damage.
		g.emit(Trigger{Kind: TrigLeased, Fraction: when.Fraction}, Action{Kind: ActCorruptLease})
		g.emit(Trigger{Kind: TrigWait, Wait: 2500 * time.Millisecond}, Action{Kind: ActRepairLease})
	}
	// A fault that overlapped the pending one is done: close that now.
	if g.pending != nil && closer == nil {
		g.closePending()
	}
	if closer != nil {
		if g.rng.IntN(3) == 0 {
			g.pending = closer // close it after the next fault
			return
		}
		g.emit(closer.When, closer.Do)
		g.undo(closer.Do)
	}
}

func (g *gen) closePending() {
	if g.pending == nil {
		return
	}
	c := g.pending
	g.pending = nil
	g.emit(c.When, c.Do)
	g.undo(c.Do)
}

// undo marks an instance up again after its closing step.
func (g *gen) undo(a Action) {
	if a.Kind == ActStart || a.Kind == ActResume {
		g.inst[a.Instance] = up
	}
}

// verdicts chooses what the run may show: duplicates only after a fault
// that re-delivers, bounded by the run's records.
func verdicts(pl Plan) (calm bool, maxDup int, why string) {
	var causes []string
	if pl.Instances > 1 {
		causes = append(causes, "leases move between the instances")
	}
	for _, s := range pl.Steps {
		var c string
		switch s.Do.Kind {
		case ActKill, ActPause, ActRestart, ActJoin, ActLeave, ActCorruptLease:
			c = "a lease moves after " + s.Do.Kind
		case ActThrottleLeases:
			c = "a throttled renewal may let a lease lapse"
		case ActBrokerRestart, ActFailProduce, ActProduceTimeout:
			c = "a failed produce rewinds its shard to the last acknowledged record"
		}
		if c != "" && !slices.Contains(causes, c) {
			causes = append(causes, c)
		}
	}
	if len(causes) == 0 {
		return true, 0, ""
	}
	return false, int(pl.Records), "re-delivery from the last checkpoint: " + strings.Join(causes, "; ") +
		" (each copy explained by the lease history, unless a produce failed)"
}
