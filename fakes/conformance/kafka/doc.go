// Package kafkaconf is the Kafka half of Shardbridge's conformance suite: it
// checks that franz-go's in-process fake broker (kfake, as wrapped by
// fakes/kafka) behaves like a real Apache Kafka broker in what the
// replicator and the chaos harness rely on — idempotent produce across a
// broker restart, record size limits, unknown topics, acks and
// min.insync.replicas, and transactions with read_committed consumers and
// producer fencing. The cases live in this package's tests and run, through
// franz-go's kgo and kadm clients, against every Backend available.
//
// Contract:
//   - A Backend is one running single-broker Kafka cluster: Name is Kfake or
//     ApacheKafka, Brokers its seed addresses, Version what it is. Restart
//     takes the broker down cleanly and brings it back on the same address
//     with every record, topic and producer state kept; Close stops it for
//     good and removes its data. Close is safe to call more than once.
//   - StartKfake starts fakes/kafka (one broker, free loopback port,
//     temporary data directory). StartApacheKafka starts Apache Kafka through
//     refemu.StartKafka; its error matches refemu.ErrNotInstalled when the
//     broker or Java is missing (make kafka installs it).
//   - Neither backend creates topics behind a client's back (kfake's auto
//     creation is off by default, the reference broker runs with
//     auto.create.topics.enable=false), so every case creates its own,
//     uniquely named topics.
//   - The suite runs one set of cases against both backends. Where kfake was
//     seen to differ from Apache Kafka, the check is named in the tests'
//     kfakeDivergences (keyed by the subtest's name) and in the section
//     "Kafka: where kfake differs from Apache Kafka" of docs/conformance.md;
//     on kfake that check logs the divergence, pins what kfake does instead,
//     and is skipped with the reason. Apache Kafka is never exempted.
//   - SHARDBRIDGE_REQUIRE_REFERENCE=1 turns a missing Apache Kafka into a
//     failure instead of a skip, as for the AWS reference emulators.
package kafkaconf
