// Package kinesis is an in-process emulator of Amazon Kinesis Data Streams.
//
// An *Emulator is an http.Handler speaking the Kinesis JSON 1.1 protocol
// (POST /, X-Amz-Target "Kinesis_20131202.<Operation>", Content-Type
// application/x-amz-json-1.1, blobs base64, timestamps as epoch seconds), so
// an unmodified aws-sdk-go-v2 kinesis client talks to it through
// BaseEndpoint. Errors are AWS-shaped ({"__type": "...", "message": "..."}
// with HTTP 400, 500 for internal failures), so the SDK's typed errors match
// with errors.As.
//
// Contract:
//
//   - Operations: CreateStream, DeleteStream, DescribeStream,
//     DescribeStreamSummary, ListStreams, ListShards, PutRecord, PutRecords,
//     GetShardIterator, GetRecords, SplitShard, MergeShards, UpdateShardCount
//     (UNIFORM_SCALING, PROVISIONED streams only), UpdateStreamMode,
//     IncreaseStreamRetentionPeriod, DecreaseStreamRetentionPeriod. Anything
//     else answers UnknownOperationException. Streams are ACTIVE at once; an
//     ON_DEMAND stream is created with 4 shards.
//   - Streams are named by StreamName or StreamARN
//     (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME) wherever the API takes
//     them. An ARN of another partition, region or account answers
//     ResourceNotFoundException; a StreamName beside a StreamARN that names
//     another stream, InvalidArgumentException.
//   - Records go to the open shard whose HashKeyRange holds the MD5 of the
//     UTF-8 partition key (or ExplicitHashKey). Sequence numbers are 56-digit
//     decimal strings, strictly increasing per shard and monotone in arrival
//     order across the emulator.
//   - Resharding closes parents (EndingSequenceNumber set) and records lineage
//     (ParentShardId, AdjacentParentShardId). Reading a closed shard to its end
//     returns its last records with NextShardIterator null and ChildShards in
//     the same response.
//   - Everything time-based runs on the emulator's clock (fakes/clock):
//     iterators expire 5 minutes after issue, ListShards tokens after 300 s,
//     records after the retention period (24 h default; TrimBefore trims on
//     demand), and closed shards vanish once all their records have.
//   - Production limits are on by default (WithLimits, SetLimits): per shard
//     1 MiB/s and 1,000 records/s of writes, 5 GetRecords calls/s and 2 MiB/s
//     of reads, 5 GetShardIterator calls/s; per account control-plane rates.
//     Within them nothing is throttled. See docs/emulator-kinesis.md.
//   - SDK clients pointed at an in-process emulator should use SDKTransport:
//     it works around a smithy-go/net/http race that otherwise drops about one
//     large PutRecords response in a hundred.
//
// The emulator keeps everything in memory; each record costs its data, its
// partition key and about 56 bytes. One mutex per stream serialises writes and
// topology changes; reads binary-search the shard's records and encode the
// response outside the lock.
package kinesis
