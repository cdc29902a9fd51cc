// Package bridge runs the instances of a Kinesis→Kafka bridge under test,
// whatever the bridge is.
//
// Contract:
//   - A Launcher starts one life of an instance and returns its Process.
//     A Spec — a bridge file, docs/bridges.md — is the Launcher of any bridge
//     that runs as a program: build once, start with an environment made
//     from placeholders, probe readiness (HTTP or an output line), stop with
//     a signal, SIGKILL, SIGSTOP/SIGCONT. The in-process Shardbridge adapter
//     (harness/bridges) is the other Launcher.
//   - Capabilities say what a bridge offers beyond Kafka output (headers, a
//     KCL lease table, pausing, metrics, in-process controls); Missing names
//     what a scenario needs and the bridge lacks, wrapping ErrUnsupported.
//   - A Pool keeps a run's instances: stable names (r0, r1, …), a new worker
//     id per life, counters summed over lives, and every life that ended on
//     its own or stopped uncleanly (Failures).
//   - A Resetter (a Spec with a reset command) rewinds the application's
//     checkpoints for a replay itself; Pool.Reset runs it once with an
//     instance's environment, and says when the bridge cannot, so the
//     harness falls back to deleting the lease rows.
//   - Stats are read from a Prometheus endpoint or registry with
//     Shardbridge's metric names; nothing is read from a bridge's logs but
//     its readiness line.
package bridge
