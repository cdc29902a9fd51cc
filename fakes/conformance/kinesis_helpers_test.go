package conformance

import (
	"context"
	"crypto/md5"
	"math/big"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// maxHashKey is 2^128-1, the top of the Kinesis hash key space.
var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// hashOf is the AWS partition-key hash: MD5 of the UTF-8 key as an unsigned
// 128-bit big-endian integer.
func hashOf(key string) *big.Int {
	sum := md5.Sum([]byte(key))
	return new(big.Int).SetBytes(sum[:])
}

func bigOf(t *testing.T, s *string) *big.Int {
	t.Helper()
	if s == nil {
		t.Fatal("nil decimal string")
	}
	v, ok := new(big.Int).SetString(*s, 10)
	if !ok {
		t.Fatalf("%q is not a decimal integer", *s)
	}
	return v
}

func inRange(t *testing.T, h *big.Int, r *types.HashKeyRange) bool {
	t.Helper()
	return h.Cmp(bigOf(t, r.StartingHashKey)) >= 0 && h.Cmp(bigOf(t, r.EndingHashKey)) <= 0
}

// shardFor returns the id of the open shard whose range holds h.
func shardFor(t *testing.T, shards []types.Shard, h *big.Int) string {
	t.Helper()
	for _, s := range shards {
		if s.SequenceNumberRange.EndingSequenceNumber == nil && inRange(t, h, s.HashKeyRange) {
			return *s.ShardId
		}
	}
	t.Fatalf("no open shard holds hash %s", h)
	return ""
}

// checkCoverage asserts that the ranges of shards tile [0, 2^128-1] exactly.
func checkCoverage(t *testing.T, shards []types.Shard) {
	t.Helper()
	rs := make([]types.Shard, len(shards))
	copy(rs, shards)
	sort.Slice(rs, func(i, j int) bool {
		return bigOf(t, rs[i].HashKeyRange.StartingHashKey).Cmp(bigOf(t, rs[j].HashKeyRange.StartingHashKey)) < 0
	})
	next := big.NewInt(0)
	for _, s := range rs {
		start, end := bigOf(t, s.HashKeyRange.StartingHashKey), bigOf(t, s.HashKeyRange.EndingHashKey)
		if start.Cmp(next) != 0 {
			t.Fatalf("shard %s starts at %s, want %s (gap or overlap)", *s.ShardId, start, next)
		}
		if end.Cmp(start) < 0 {
			t.Fatalf("shard %s has an empty range", *s.ShardId)
		}
		next = new(big.Int).Add(end, big.NewInt(1))
	}
	if want := new(big.Int).Add(maxHashKey, big.NewInt(1)); next.Cmp(want) != 0 {
		t.Fatalf("ranges end at %s, want 2^128-1", new(big.Int).Sub(next, big.NewInt(1)))
	}
}

// kstream is one stream under test with its backend and client.
type kstream struct {
	t    *testing.T
	ctx  context.Context
	b    *Backend
	kc   *kinesis.Client
	name string
}

// newStream creates a stream and waits for ACTIVE.
func newStream(t *testing.T, tg target, shards int) *kstream {
	t.Helper()
	b := tg.backend(t)
	s := &kstream{t: t, ctx: ctxT(t), b: b, kc: kinesisClient(b), name: uniqueName("cs")}
	s.create(shards)
	return s
}

// create creates the stream, deletes it when the test ends (the reference
// emulator is shared by every test) and waits for ACTIVE.
func (s *kstream) create(shards int) {
	s.t.Helper()
	s.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = s.kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(s.name), EnforceConsumerDeletion: aws.Bool(true)})
	})
	eventually(s.t, "CreateStream "+s.name, func() (bool, error) {
		_, err := s.kc.CreateStream(s.ctx, &kinesis.CreateStreamInput{StreamName: aws.String(s.name), ShardCount: aws.Int32(int32(shards))})
		// LimitExceeded: AWS (and kinesis-mock) cap how many streams may be
		// CREATING at once; parallel cases can hit it, so try again.
		if errorCode(err) == "LimitExceededException" {
			return false, err
		}
		if err != nil {
			s.t.Fatalf("CreateStream %s: %v", s.name, err)
		}
		return true, nil
	})
	s.waitActive()
}

func (s *kstream) waitActive() {
	s.t.Helper()
	eventually(s.t, "stream "+s.name+" ACTIVE", func() (bool, error) {
		out, err := s.kc.DescribeStreamSummary(s.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.name)})
		if err != nil {
			return false, err
		}
		return out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive, nil
	})
}

func (s *kstream) describe() *types.StreamDescription {
	s.t.Helper()
	out, err := s.kc.DescribeStream(s.ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(s.name)})
	if err != nil {
		s.t.Fatalf("DescribeStream %s: %v", s.name, err)
	}
	return out.StreamDescription
}

// shards lists every shard through ListShards pages, with an optional filter.
func (s *kstream) shards(filter *types.ShardFilter) []types.Shard {
	s.t.Helper()
	var all []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(s.name), ShardFilter: filter}
	for page := 0; ; page++ {
		if page > 100 {
			s.t.Fatal("ListShards: more than 100 pages")
		}
		out, err := s.kc.ListShards(s.ctx, in)
		if err != nil {
			s.t.Fatalf("ListShards %s (filter %+v): %v", s.name, filter, err)
		}
		all = append(all, out.Shards...)
		if out.NextToken == nil {
			return all
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func (s *kstream) openShards() []types.Shard {
	s.t.Helper()
	var open []types.Shard
	for _, sh := range s.shards(nil) {
		if sh.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, sh)
		}
	}
	return open
}

func (s *kstream) put(key string, data string, explicit *string) *kinesis.PutRecordOutput {
	s.t.Helper()
	out, err := s.kc.PutRecord(s.ctx, &kinesis.PutRecordInput{StreamName: aws.String(s.name),
		PartitionKey: aws.String(key), Data: []byte(data), ExplicitHashKey: explicit})
	if err != nil {
		s.t.Fatalf("PutRecord %s: %v", key, err)
	}
	return out
}

func (s *kstream) iterator(shard string, typ types.ShardIteratorType, mod func(*kinesis.GetShardIteratorInput)) string {
	s.t.Helper()
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(s.name), ShardId: aws.String(shard), ShardIteratorType: typ}
	if mod != nil {
		mod(in)
	}
	out, err := s.kc.GetShardIterator(s.ctx, in)
	if err != nil {
		s.t.Fatalf("GetShardIterator %s %s: %v", shard, typ, err)
	}
	if out.ShardIterator == nil || *out.ShardIterator == "" {
		s.t.Fatalf("GetShardIterator %s %s: empty iterator", shard, typ)
	}
	return *out.ShardIterator
}

func (s *kstream) get(it string, limit int32) *kinesis.GetRecordsOutput {
	s.t.Helper()
	in := &kinesis.GetRecordsInput{ShardIterator: aws.String(it)}
	if limit > 0 {
		in.Limit = aws.Int32(limit)
	}
	out, err := s.kc.GetRecords(s.ctx, in)
	if err != nil {
		s.t.Fatalf("GetRecords: %v", err)
	}
	return out
}

// readAll follows NextShardIterator until a page comes back empty (an open
// shard's tip) or the iterator is null (a closed shard's end), and returns the
// records and the last response.
func (s *kstream) readAll(it string, limit int32) ([]types.Record, *kinesis.GetRecordsOutput) {
	s.t.Helper()
	var recs []types.Record
	for range 200 {
		out := s.get(it, limit)
		recs = append(recs, out.Records...)
		if out.NextShardIterator == nil || len(out.Records) == 0 {
			return recs, out
		}
		it = *out.NextShardIterator
	}
	s.t.Fatal("readAll: no end after 200 pages")
	return nil, nil
}

// readToEnd reads a closed shard until NextShardIterator is null, tolerating
// empty pages on the way (AWS may return them before the end).
func (s *kstream) readToEnd(it string) ([]types.Record, *kinesis.GetRecordsOutput) {
	s.t.Helper()
	var recs []types.Record
	for range 200 {
		out := s.get(it, 0)
		recs = append(recs, out.Records...)
		if out.NextShardIterator == nil {
			return recs, out
		}
		it = *out.NextShardIterator
	}
	s.t.Fatal("readToEnd: NextShardIterator still set after 200 pages of a closed shard")
	return nil, nil
}

func datas(recs []types.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Data)
	}
	return out
}

func shardIDs(shards []types.Shard) []string {
	ids := make([]string, len(shards))
	for i, s := range shards {
		ids[i] = *s.ShardId
	}
	sort.Strings(ids)
	return ids
}

func sorted(ss ...string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}
