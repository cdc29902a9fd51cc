// Package lease coordinates which replicator worker reads which Kinesis shard,
// through a DynamoDB lease table that follows the Kinesis Client Library's
// lease protocol (same attribute names, same compare-and-set rules), so that
// operators who know the KCL can read the table.
//
// Contract:
//
//   - One row per shard, keyed by leaseKey (the shard id). Every write is a
//     conditional compare-and-set on leaseCounter, and on leaseOwner where the
//     writer must be the owner, and every write increments the counter.
//   - A lease is expired when its counter has not moved for FailoverTime as
//     observed locally by this Manager (the first time it saw that counter
//     value, by its own clock). No clocks of different machines are compared.
//     An unowned lease can be taken at once.
//   - Each Tick renews the leases held (counter+1, conditional on counter and
//     owner), then scans the table and takes leases: expired or unowned ones
//     first; otherwise, to reach target = ceil(active leases / workers), it
//     steals at most MaxLeasesToStealAtOnce leases from the most loaded worker
//     when that worker holds more than target (or exactly target while this
//     worker is two or more below it). Workers are the distinct owners of
//     non-expired leases plus this one.
//   - A condition-check failure on a held lease means it is lost: the lease is
//     dropped locally and a Lost event is emitted; a Checkpoint then returns
//     ErrLeaseLost. Throttling and other transient errors are retried with
//     backoff and are not loss, but a lease whose renewal has not succeeded
//     for FailoverTime is dropped locally ("renewal failing"), because another
//     worker may take it from then on and a zombie must stop processing.
//   - Leases at SHARD_END are finished: never taken, never counted for
//     balance, but kept so children can see their parents finished. A child
//     lease is taken only when ParentsDone: every parent lease is at SHARD_END
//     or does not exist (a parent trimmed by retention must not block it).
//   - CheckpointShardEnd creates the child leases (conditional, idempotent,
//     checkpoint TRIM_HORIZON) before it writes SHARD_END on the parent, so a
//     crash between the two steps leaves the parent unfinished and the shard
//     end is simply reached again; never a finished parent without children.
//   - Rows with missing or malformed attributes are logged with the shard id
//     and skipped; they never stop the Manager. A held lease whose row is
//     deleted is Lost.
//
// A Manager is safe for concurrent use: writes to one lease are serialised so
// that a renewal and a checkpoint never race each other's counter.
package lease
