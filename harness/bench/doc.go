// Package bench measures the replicator's throughput, cost and latency on
// the embedded emulators, case by case, and prints one JSON line per case.
//
// A case is a stream of N shards holding a backlog (records of a fixed
// size, written before the replicator starts), a Kafka topic, a delivery
// mode and the Kinesis limits on or off. For each case Run measures:
//
//   - catch-up: wall time from starting the replicator until every backlog
//     record is in Kafka (the topic's end offsets; at exactly-once the last
//     stable offsets, checked against a read_committed count because
//     transaction markers take offsets too), as records/s and MB/s;
//   - CPU µs per record of the replicator over the catch-up (/proc/PID/stat)
//     and its peak RSS (VmHWM before it stops; max RSS from its rusage);
//   - tailing latency p50/p99: records written at a steady rate after the
//     catch-up, from PutRecords acknowledged to consumed from Kafka;
//   - with limits on, the catch-up rate against the read limit the emulator
//     enforces (2 MiB/s and 5 GetRecords calls/s per shard).
//
// Contract:
//   - Run measures the cases of a Config (a matrix of limits, shards, record
//     sizes and delivery modes, narrowed by Only) one at a time, each in a
//     fresh embedded environment, and writes a Host line, then one Result
//     line per case, as JSON to its writer; progress goes to the logger.
//   - A case that cannot finish (the replicator exits, a timeout, a record
//     lost in the tail) is a Result with Error set and its replicator log
//     kept; Run counts it and goes on with the next case.
//   - Nothing about speed is judged: the caller compares lines.
//
// The replicator runs as a child process, built from
// ./replicator/cmd/replicator and configured by its environment as in
// production, for two reasons: CPU and memory are then the replicator's
// own, not mixed with the emulators', the load generator and the consumer
// that share this process; and the harness must not import the system it
// measures.
//
// Numbers depend on the machine and on whatever else runs on it; the emulators
// and kfake share the CPU with the replicator, so they are for comparing
// commits and settings on one machine, not for capacity planning.
package bench
