package soak

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/backend"
	"github.com/shardbridge/shardbridge/harness/bridge"
	"github.com/shardbridge/shardbridge/harness/bridges"
)

func TestGenerateIsDeterministic(t *testing.T) {
	p := FullProfile()
	for _, seed := range []int64{1, 42, -7} {
		for run := 1; run <= 20; run++ {
			a, b := Generate(seed, run, 3*time.Second, p), Generate(seed, run, 3*time.Second, p)
			if !reflect.DeepEqual(a, b) || a.Describe() != b.Describe() {
				t.Fatalf("seed %d run %d: two plans differ:\n%s\n%s", seed, run, a.Describe(), b.Describe())
			}
		}
	}
}

func TestGenerateDiffersByRunAndSeed(t *testing.T) {
	p := FullProfile()
	seen := map[string]string{}
	for _, seed := range []int64{1, 2} {
		for run := 1; run <= 50; run++ {
			pl := Generate(seed, run, 3*time.Second, p)
			d := pl.Describe()
			// The first line names the run; the experiment is the rest.
			body := d[strings.Index(d, "\n"):]
			if prev, ok := seen[body]; ok {
				t.Errorf("%s and seed %d run %d generated the same experiment:\n%s", prev, seed, run, d)
			}
			seen[body] = pl.Name()
		}
	}
}

// Every action the vocabulary has shows up over a few hundred runs: the
// generator draws from all of it.
func TestGenerateCoversTheVocabulary(t *testing.T) {
	kinds := map[string]int{}
	triggers := map[string]int{}
	agg, zipf := 0, 0
	for run := 1; run <= 400; run++ {
		pl := Generate(1, run, 5*time.Second, FullProfile())
		for _, s := range pl.Steps {
			kinds[s.Do.Kind]++
			triggers[s.When.Kind]++
		}
		if pl.Aggregate > 1 {
			agg++
		}
		if pl.Zipf {
			zipf++
		}
	}
	for _, k := range []string{ActSplit, ActMerge, ActScale, ActKill, ActStart, ActRestart, ActPause, ActResume, ActJoin, ActLeave,
		ActThrottleReads, ActThrottleLeases, ActExpire, ActBrokerRestart, ActFailProduce, ActProduceTimeout, ActCorruptLease, ActRepairLease} {
		if kinds[k] == 0 {
			t.Errorf("no plan of 400 has a %s step (%v)", k, kinds)
		}
	}
	for _, k := range []string{TrigFraction, TrigWait, TrigBalanced, TrigParents, TrigLeased} {
		if triggers[k] == 0 {
			t.Errorf("no plan of 400 has a %s trigger (%v)", k, triggers)
		}
	}
	if agg == 0 || zipf == 0 || agg == 400 || zipf == 400 {
		t.Errorf("workloads do not vary: %d of 400 aggregate, %d use Zipf keys", agg, zipf)
	}
}

// The embedded backend with the in-process Shardbridge offers the whole
// vocabulary, and every step of every generated plan passes its action's
// Needs there (what Scenario.Run checks before starting).
func TestGeneratedSchedulesAreValidForTheEmbeddedBackend(t *testing.T) {
	ctx := context.Background()
	env, err := backend.Start(ctx, backend.WithKind(backend.Embedded))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close(ctx)
	l := bridges.InProcess()
	prof := ProfileOf(env, l.Capabilities())
	if prof != FullProfile() {
		t.Fatalf("embedded profile %+v, want the full vocabulary %+v", prof, FullProfile())
	}
	pool, err := bridge.NewPool(env, l, bridge.Names{Stream: "s", Application: "a", Topic: "t"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &harness.Run{Env: env, Instances: pool}
	for _, seed := range []int64{1, 2, 3} {
		for run := 1; run <= 300; run++ {
			pl := Generate(seed, run, 5*time.Second, prof)
			if err := Validate(pl, prof); err != nil {
				t.Fatalf("%v\n%s", err, pl.Describe())
			}
			for i, st := range pl.Scenario().Schedule {
				if st.Do.Needs == nil {
					continue
				}
				if err := st.Do.Needs(r); err != nil {
					t.Fatalf("%s step %d (%s): %v", pl.Name(), i+1, st.Do.Desc, err)
				}
			}
		}
	}
}

// A profile without pausing, lease table, fault layer or broker controls
// gets none of the actions that need them, and its plans stay valid.
func TestGenerateRespectsTheProfile(t *testing.T) {
	bare := Profile{Backend: "external"}
	for run := 1; run <= 300; run++ {
		pl := Generate(1, run, 5*time.Second, bare)
		if err := Validate(pl, bare); err != nil {
			t.Fatalf("%v\n%s", err, pl.Describe())
		}
		for _, s := range pl.Steps {
			switch s.Do.Kind {
			case ActPause, ActThrottleReads, ActThrottleLeases, ActExpire, ActBrokerRestart, ActFailProduce, ActProduceTimeout, ActCorruptLease:
				t.Fatalf("%s: %s step on a profile without it\n%s", pl.Name(), s.Do.Kind, pl.Describe())
			}
			if s.When.Kind != TrigFraction && s.When.Kind != TrigWait {
				t.Fatalf("%s: %s trigger without a lease table\n%s", pl.Name(), s.When.Kind, pl.Describe())
			}
		}
	}
}

// Validate catches unsound schedules (the generator's tests rest on it).
func TestValidateRejectsUnsoundSchedules(t *testing.T) {
	base := Plan{Seed: 1, Run: 1, Shards: 1, Instances: 1, Records: 100, Rate: 100}
	frac := Trigger{Kind: TrigFraction, Fraction: 0.5}
	cases := map[string][]Step{
		"never resumed":     {{When: frac, Do: Action{Kind: ActPause}}},
		"never restarted":   {{When: frac, Do: Action{Kind: ActKill}}},
		"merge of one":      {{When: frac, Do: Action{Kind: ActMerge}}},
		"scale past double": {{When: frac, Do: Action{Kind: ActScale, N: 3}}},
		"last one leaves":   {{When: frac, Do: Action{Kind: ActLeave}}},
		"resume unpaused":   {{When: frac, Do: Action{Kind: ActResume}}},
		"never repaired":    {{When: frac, Do: Action{Kind: ActCorruptLease}}},
		"no broker restart": {{When: frac, Do: Action{Kind: ActFailProduce, N: 1}}},
		"unknown action":    {{When: frac, Do: Action{Kind: "explode"}}},
	}
	for name, steps := range cases {
		pl := base
		pl.Steps = steps
		if err := Validate(pl, FullProfile()); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, steps)
		}
	}
	pl := base
	pl.Steps = []Step{{When: frac, Do: Action{Kind: ActPause}}, {When: Trigger{Kind: TrigWait, Wait: time.Second}, Do: Action{Kind: ActResume}}}
	if err := Validate(pl, FullProfile()); err != nil {
		t.Errorf("pause then resume: %v", err)
	}
	if err := Validate(pl, Profile{Backend: "external"}); err == nil {
		t.Error("a pause was accepted on a profile that cannot pause")
	}
}
