// Package soak runs many generated chaos scenarios in a row: each run draws a
// random workload, a few bridge instances and shards, and a fault schedule
// from the whole step vocabulary, runs it, and the soak sums up what every
// run lost, reordered and duplicated.
//
//	plan := soak.Generate(seed, run, 5*time.Second, soak.FullProfile())
//	sc := plan.Scenario() // an ordinary harness.Scenario
//	fmt.Print(plan.Describe())
//
// Contract:
//   - Generate is pure: (seed, run, duration, profile) fix the plan — its
//     workload, instances, shards, schedule, verdicts and the harness seed
//     of the run — so `chaos soak --seed S --run K` repeats run K exactly.
//     Describe renders it; two equal descriptions are the same experiment.
//   - A Profile is what the environment offers (the bridge's capabilities,
//     the backend's controls). Generate draws only actions the profile
//     supports, and keeps every schedule valid (Validate): every pause is
//     resumed, every kill restarted, every corrupted lease row repaired,
//     merges need two open shards, UpdateShardCount stays within half and
//     double the open shards, and at least one instance is left running.
//   - Verdicts: the at-least-once promise always (nothing lost, order per key
//     and per shard); duplicates only when the run has a fault that may
//     re-deliver (a lease move, a failed produce), bounded by the run's
//     records, and each one explained by the lease history (the harness's
//     "duplicates" verdict). A run with one instance and no such fault runs
//     with a long lease failover and allows none.
//   - Run runs the plans one after the other, prints a live progress line,
//     and keeps the text and JSON reports of every failed run (Formats; an
//     HTML report plugs in there). Summary renders the table.
package soak
