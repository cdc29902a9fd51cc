package scenarios

import (
	"github.com/shardbridge/shardbridge/harness"
	"github.com/shardbridge/shardbridge/harness/scenariofile"
)

// Checks are the catalogue's Go verdict checks under the names a scenario
// file gives them in verdicts.checks (`chaos run --file`), so a YAML
// scenario can be judged exactly as its Go twin.
func Checks() scenariofile.Checks {
	none := func(c harness.Check) func(scenariofile.Args) (harness.Check, error) {
		return func(scenariofile.Args) (harness.Check, error) { return c, nil }
	}
	return scenariofile.Checks{
		"children_delivered": {
			Doc:  "every child shard that received records has them in Kafka, and every parent was finished",
			Make: none(harness.Check{Name: "children delivered", Func: childrenDelivered}),
		},
		"resharded": {
			Usage: "{reshards: N, parents: N}",
			Doc:   "the schedule made N splits or merges, the last one with that many parents",
			Make: func(a scenariofile.Args) (harness.Check, error) {
				v, err := a.Ints("reshards", "parents")
				if err != nil {
					return harness.Check{}, err
				}
				if v["reshards"] < 1 || v["parents"] < 1 {
					return harness.Check{}, a.Errorf("reshards and parents must be ≥ 1, got %d and %d", v["reshards"], v["parents"])
				}
				return resharded(v["reshards"], v["parents"]), nil
			},
		},
		"faults_injected": {
			Usage: "[KIND…]",
			Doc:   "a fault of every kind named was recorded (a fault that never fired proves nothing)",
			Make: func(a scenariofile.Args) (harness.Check, error) {
				kinds, err := a.Strings()
				if err != nil {
					return harness.Check{}, err
				}
				return happened(kinds...), nil
			},
		},
		"scaled_twice": {
			Doc:  "both UpdateShardCount calls closed and opened shards",
			Make: none(scaledTwice),
		},
		"kpl_after_reshard": {
			Doc:  "KPL sub-records outside their shard's hash range were met and none was filtered (kpl-after-reshard)",
			Make: none(harness.Check{Name: "scenario checks", Func: verifyKPLAfterReshard}),
		},
		"leases_steady_while_throttled": {
			Doc:  "no lease changed hands and records kept flowing while the lease table was throttled, and an instance counted the throttling (lease-table-throttled)",
			Make: none(harness.Check{Name: "scenario checks", Func: leasesSteadyWhileThrottled}),
		},
		"cut_off_worker_stopped": {
			Doc:  "a worker cut off from the lease table stopped writing each shard before it was taken over (lease-table-cut-off)",
			Make: none(harness.Check{Name: "scenario checks", Func: cutOffWorkerStopped}),
		},
	}
}
