// Package admin implements the replicator's operator commands: listing the
// lease table with each shard's lag (Status) and rewriting checkpoints so
// the application replays from a position (Reset).
//
// Contract:
//   - Status reads the lease table once (consistent scan) and, for each
//     shard that has not ended, asks Kinesis once for its lag: one
//     GetShardIterator at the checkpoint (AFTER_SEQUENCE_NUMBER, or the
//     sentinel's own type) and one GetRecords with Limit 1, whose
//     MillisBehindLatest is the lag. A lag that cannot be known (shard
//     ended, an error) is left unset, never guessed.
//   - Reset never writes while a worker holds a lease. Without Force it
//     refuses as soon as any row that has not ended has an owner, naming
//     each owner and its shards (a SHARD_END row keeps the owner that
//     finished it, but nobody holds it). With Force it watches the table for the failover time and
//     proceeds only when no held row's counter moved (its holders are dead);
//     otherwise it refuses naming the workers whose counters moved. Each row
//     is then rewritten with a compare-and-set on the counter it last read,
//     so a worker that comes back in between makes the reset fail rather
//     than be overwritten.
//   - In exactly-once mode the checkpoint topic's record for a shard wins
//     over the lease row; Reset writes a tombstone for every shard it resets
//     there first, before the rows, so the next owner falls back to the
//     reset row.
//   - A missing table, an unknown shard, a bad position or a missing
//     timestamp is an error naming it; nothing is written then.
package admin
