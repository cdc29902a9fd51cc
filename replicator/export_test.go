package replicator

// MsgWaitingForPartition lets the external tests find the log line.
const MsgWaitingForPartition = msgWaitingForPartition
