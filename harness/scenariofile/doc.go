// Package scenariofile reads a chaos scenario written as YAML — the same
// fields and step vocabulary as a Go harness.Scenario — for
// `chaos run --file`. docs/scenario-authoring.md ("Scenarios as YAML")
// describes the format.
//
// Contract:
//   - Load and Decode return a harness.Scenario equal to the one the same
//     text would be in Go: every field, every trigger and action of the
//     schedule (steps.go is the vocabulary, one entry per Go constructor),
//     the workload options and the verdicts. Nothing is run or connected.
//   - Every mistake is an *Error naming the file, the line and the field
//     path (`scenario.yaml:12: schedule[1].action.split_shard: …`); unknown
//     fields are mistakes. All mistakes found are returned together (List).
//   - Checks written in Go are referred to by name through a Checks
//     registry the caller passes in (package scenarios has the catalogue's),
//     so this package never imports the catalogue.
//   - A `bridge:` path is resolved against the file's directory and
//     returned, not loaded: the caller owns the bridge's life.
package scenariofile
