package conformance

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestKinesis runs every Kinesis case against the in-process emulator and,
// when installed, kinesis-mock.
func TestKinesis(t *testing.T) {
	forEachTarget(t, KinesisMock, map[string]func(*testing.T, target){
		"StreamLifecycle":        testStreamLifecycle,
		"ListStreams":            testListStreams,
		"ListShardsPagination":   testListShardsPagination,
		"ListShardsFilters":      testListShardsFilters,
		"PartitionKeyHashing":    testPartitionKeyHashing,
		"PutRecordsAndOrdering":  testPutRecordsAndOrdering,
		"IteratorTypes":          testIteratorTypes,
		"GetRecordsPaging":       testGetRecordsPaging,
		"SplitShard":             testSplitShard,
		"MergeShards":            testMergeShards,
		"UpdateShardCount":       testUpdateShardCount,
		"UpdateShardCountLimits": testUpdateShardCountLimits,
		"OnDemand":               testOnDemand,
		"StreamARN":              testStreamARN,
		"StreamARNErrors":        testStreamARNErrors,
		"Errors":                 testKinesisErrors,
		"Throttling":             testThrottling,
		"IteratorExpiry":         testIteratorExpiry,
	})
}

func testStreamLifecycle(t *testing.T, tg target) {
	s := newStream(t, tg, 2)
	d := s.describe()
	if *d.StreamName != s.name || d.StreamStatus != types.StreamStatusActive {
		t.Errorf("DescribeStream: name %q status %q", *d.StreamName, d.StreamStatus)
	}
	if d.StreamARN == nil || !strings.HasPrefix(*d.StreamARN, "arn:aws:kinesis:") || !strings.HasSuffix(*d.StreamARN, ":stream/"+s.name) {
		t.Errorf("StreamARN = %v, want arn:aws:kinesis:REGION:ACCOUNT:stream/%s", aws.ToString(d.StreamARN), s.name)
	}
	if aws.ToInt32(d.RetentionPeriodHours) != 24 {
		t.Errorf("RetentionPeriodHours = %d, want the default 24", aws.ToInt32(d.RetentionPeriodHours))
	}
	if aws.ToBool(d.HasMoreShards) || len(d.Shards) != 2 {
		t.Errorf("DescribeStream: %d shards, HasMoreShards %v; want 2, false", len(d.Shards), aws.ToBool(d.HasMoreShards))
	}
	checkCoverage(t, d.Shards)
	for _, sh := range d.Shards {
		if sh.SequenceNumberRange == nil || sh.SequenceNumberRange.StartingSequenceNumber == nil || sh.SequenceNumberRange.EndingSequenceNumber != nil {
			t.Errorf("shard %s: an open shard has a starting and no ending sequence number: %+v", *sh.ShardId, sh.SequenceNumberRange)
		}
		if sh.ParentShardId != nil {
			t.Errorf("shard %s of a new stream has parent %s", *sh.ShardId, *sh.ParentShardId)
		}
	}
	if d.StreamCreationTimestamp == nil {
		t.Error("StreamCreationTimestamp missing")
	}

	sum, err := s.kc.DescribeStreamSummary(s.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.name)})
	if err != nil {
		t.Fatal(err)
	}
	ds := sum.StreamDescriptionSummary
	if aws.ToInt32(ds.OpenShardCount) != 2 || aws.ToString(ds.StreamARN) != aws.ToString(d.StreamARN) ||
		aws.ToInt32(ds.RetentionPeriodHours) != 24 || ds.StreamCreationTimestamp == nil {
		t.Errorf("DescribeStreamSummary = open %d, arn %s, retention %d, created %v",
			aws.ToInt32(ds.OpenShardCount), aws.ToString(ds.StreamARN), aws.ToInt32(ds.RetentionPeriodHours), ds.StreamCreationTimestamp)
	}

	_, err = s.kc.CreateStream(s.ctx, &kinesis.CreateStreamInput{StreamName: aws.String(s.name), ShardCount: aws.Int32(1)})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Errorf("CreateStream of an existing stream: want ResourceInUseException, got %v", err)
	}

	if _, err := s.kc.DeleteStream(s.ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(s.name)}); err != nil {
		t.Fatalf("DeleteStream: %v", err)
	}
	// AWS keeps the stream DELETING for a while; afterwards it is gone.
	eventually(t, "deleted stream to disappear", func() (bool, error) {
		_, err := s.kc.DescribeStream(s.ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(s.name)})
		var nf *types.ResourceNotFoundException
		return errors.As(err, &nf), err
	})
}

func testListStreams(t *testing.T, tg target) {
	b := tg.backend(t)
	kc, ctx := kinesisClient(b), ctxT(t)
	want := map[string]bool{}
	for range 3 {
		s := &kstream{t: t, ctx: ctx, b: b, kc: kc, name: uniqueName("ls")}
		s.create(1)
		want[s.name] = true
	}
	// Page one stream at a time: through NextToken ...
	seen := map[string]int{}
	in := &kinesis.ListStreamsInput{Limit: aws.Int32(1)}
	checkSummaries := conforms(t, tg, "list-streams-summary")
	byToken := conforms(t, tg, "list-streams-token")
	for page := 0; byToken; page++ {
		if page > 1000 {
			t.Fatal("ListStreams: no end")
		}
		out, err := kc.ListStreams(ctx, in)
		if err != nil {
			t.Fatalf("ListStreams: %v", err)
		}
		if len(out.StreamNames) > 1 {
			t.Fatalf("Limit 1 returned %d names", len(out.StreamNames))
		}
		for i, n := range out.StreamNames {
			seen[n]++
			if !checkSummaries {
				continue
			}
			if i < len(out.StreamSummaries) {
				ss := out.StreamSummaries[i]
				if aws.ToString(ss.StreamName) != n || ss.StreamARN == nil || ss.StreamStatus == "" {
					t.Errorf("StreamSummaries[%d] = %+v for %s", i, ss, n)
				}
			} else {
				t.Errorf("ListStreams returned no StreamSummaries for %s", n)
			}
		}
		if !aws.ToBool(out.HasMoreStreams) {
			if out.NextToken != nil {
				t.Errorf("HasMoreStreams false but NextToken %q", *out.NextToken)
			}
			break
		}
		if out.NextToken == nil {
			t.Fatal("HasMoreStreams true but no NextToken")
		}
		in = &kinesis.ListStreamsInput{Limit: aws.Int32(1), NextToken: out.NextToken}
	}
	for n := range want {
		if byToken && seen[n] != 1 {
			t.Errorf("stream %s listed %d times through NextToken, want once", n, seen[n])
		}
	}
	// ... and through the older ExclusiveStartStreamName.
	var names []string
	in = &kinesis.ListStreamsInput{Limit: aws.Int32(2)}
	for page := 0; page < 1000; page++ {
		out, err := kc.ListStreams(ctx, in)
		if err != nil {
			t.Fatalf("ListStreams: %v", err)
		}
		names = append(names, out.StreamNames...)
		if !aws.ToBool(out.HasMoreStreams) || len(out.StreamNames) == 0 {
			break
		}
		in = &kinesis.ListStreamsInput{Limit: aws.Int32(2), ExclusiveStartStreamName: aws.String(out.StreamNames[len(out.StreamNames)-1])}
	}
	for n := range want {
		c := 0
		for _, m := range names {
			if m == n {
				c++
			}
		}
		if c != 1 {
			t.Errorf("stream %s listed %d times through ExclusiveStartStreamName, want once", n, c)
		}
	}
}

func testListShardsPagination(t *testing.T, tg target) {
	s := newStream(t, tg, 5)
	all := shardIDs(s.describe().Shards)
	var got []string
	in := &kinesis.ListShardsInput{StreamName: aws.String(s.name), MaxResults: aws.Int32(2)}
	pages := 0
	for {
		out, err := s.kc.ListShards(s.ctx, in)
		if err != nil {
			t.Fatalf("ListShards page %d: %v", pages, err)
		}
		pages++
		if len(out.Shards) > 2 {
			t.Fatalf("MaxResults 2 returned %d shards", len(out.Shards))
		}
		for _, sh := range out.Shards {
			got = append(got, *sh.ShardId)
		}
		if out.NextToken == nil || pages > 10 {
			break
		}
		if pages == 1 {
			// NextToken already names the stream: AWS refuses both together.
			_, err := s.kc.ListShards(s.ctx, &kinesis.ListShardsInput{StreamName: aws.String(s.name), NextToken: out.NextToken})
			var ia *types.InvalidArgumentException
			if !errors.As(err, &ia) {
				t.Errorf("ListShards with StreamName and NextToken: want InvalidArgumentException, got %v", err)
			}
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(2)}
	}
	if pages != 3 {
		t.Errorf("5 shards at MaxResults 2 came in %d pages, want 3 (the last page must carry no NextToken)", pages)
	}
	if !reflect.DeepEqual(sorted(got...), all) {
		t.Errorf("paged shards %v, want %v", got, all)
	}
	// ExclusiveStartShardId starts after the given shard.
	out, err := s.kc.ListShards(s.ctx, &kinesis.ListShardsInput{StreamName: aws.String(s.name), ExclusiveStartShardId: aws.String(all[1])})
	if err != nil {
		t.Fatal(err)
	}
	if ids := shardIDs(out.Shards); !reflect.DeepEqual(ids, all[2:]) {
		t.Errorf("ExclusiveStartShardId %s: got %v, want %v", all[1], ids, all[2:])
	}
}

func testListShardsFilters(t *testing.T, tg target) {
	s := newStream(t, tg, 1)
	parent := *s.describe().Shards[0].ShardId
	// Let time pass on both sides of the split so timestamps fall clearly
	// before or after it. More than a second: kinesis-mock compares shard
	// timestamps in whole seconds (AWS: milliseconds), and on real time.
	gap := 1100 * time.Millisecond
	passTime(s.b, gap)
	beforeSplit := now(s.b)
	passTime(s.b, gap)
	mid := new(big.Int).Rsh(maxHashKey, 1)
	if _, err := s.kc.SplitShard(s.ctx, &kinesis.SplitShardInput{StreamName: aws.String(s.name),
		ShardToSplit: aws.String(parent), NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	s.waitActive()
	passTime(s.b, gap)
	afterSplit := now(s.b)
	children := shardIDs(s.openShards())
	if len(children) != 2 {
		t.Fatalf("after split: %d open shards, want 2", len(children))
	}
	all := sorted(append([]string{parent}, children...)...)

	cases := []struct {
		filter types.ShardFilter
		want   []string
		doc    string
		id     string // deviation id, when a reference is known to differ
	}{
		{types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String(parent)}, children, "shards after the given id", ""},
		{types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}, []string{parent}, "shards open at TRIM_HORIZON", "filter-at-trim"},
		{types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}, all, "all shards within retention", ""},
		{types.ShardFilter{Type: types.ShardFilterTypeAtLatest}, children, "only open shards", ""},
		{types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(beforeSplit)}, []string{parent}, "shards open at a time before the split", ""},
		{types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(afterSplit)}, children, "shards open at a time after the split", ""},
		{types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: aws.Time(beforeSplit)}, all, "shards closed after the time, and open shards", ""},
		{types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: aws.Time(afterSplit)}, children, "closed before the time: only open shards", ""},
	}
	for _, c := range cases {
		if c.id != "" && !conforms(t, tg, c.id) {
			continue
		}
		f := c.filter
		if got := shardIDs(s.shards(&f)); !reflect.DeepEqual(got, c.want) {
			ts := ""
			if f.Timestamp != nil {
				ts = " " + f.Timestamp.Format(time.RFC3339Nano)
			}
			t.Errorf("ShardFilter %s%s (%s): got %v, want %v", f.Type, ts, c.doc, got, c.want)
		}
	}
}

func testPartitionKeyHashing(t *testing.T, tg target) {
	s := newStream(t, tg, 4)
	shards := s.describe().Shards
	checkCoverage(t, shards)
	hit := map[string]int{}
	for i := range 64 {
		key := fmt.Sprintf("key-%d", i)
		out := s.put(key, "v", nil)
		if want := shardFor(t, shards, hashOf(key)); aws.ToString(out.ShardId) != want {
			t.Errorf("key %q (MD5 %s) went to %s, want %s", key, hashOf(key), aws.ToString(out.ShardId), want)
		}
		hit[aws.ToString(out.ShardId)]++
	}
	if len(hit) != 4 {
		t.Errorf("64 keys spread over %d of 4 shards: %v", len(hit), hit)
	}
	// ExplicitHashKey overrides the partition key: aim at every shard's last key.
	for _, sh := range shards {
		out := s.put("key-0", "explicit", sh.HashKeyRange.EndingHashKey)
		if aws.ToString(out.ShardId) != *sh.ShardId {
			t.Errorf("ExplicitHashKey %s went to %s, want %s", *sh.HashKeyRange.EndingHashKey, aws.ToString(out.ShardId), *sh.ShardId)
		}
	}
	// Outside [0, 2^128-1] or not a number: InvalidArgumentException.
	for _, bad := range []string{new(big.Int).Add(maxHashKey, big.NewInt(1)).String(), "not-a-number", "-1"} {
		if bad == "not-a-number" && !conforms(t, tg, "explicit-hash-key-nan") {
			continue
		}
		_, err := s.kc.PutRecord(s.ctx, &kinesis.PutRecordInput{StreamName: aws.String(s.name),
			PartitionKey: aws.String("k"), Data: []byte("x"), ExplicitHashKey: aws.String(bad)})
		var ia *types.InvalidArgumentException
		if !errors.As(err, &ia) {
			t.Errorf("ExplicitHashKey %q: want InvalidArgumentException, got %v", bad, err)
		}
	}
}

func testPutRecordsAndOrdering(t *testing.T, tg target) {
	s := newStream(t, tg, 2)
	shards := s.describe().Shards
	const n = 120
	var entries []types.PutRecordsRequestEntry
	for i := range n {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%d", i%7)), Data: []byte(fmt.Sprintf("r%03d", i))})
	}
	out, err := s.kc.PutRecords(s.ctx, &kinesis.PutRecordsInput{StreamName: aws.String(s.name), Records: entries})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != n {
		t.Fatalf("PutRecords: FailedRecordCount %d, %d results; want 0, %d", aws.ToInt32(out.FailedRecordCount), len(out.Records), n)
	}
	// Results are per entry, in request order; sequence numbers strictly
	// increase per shard in that order.
	perShard := map[string][]string{} // shard → data in put order
	last := map[string]*big.Int{}
	for i, r := range out.Records {
		if r.ErrorCode != nil {
			t.Fatalf("entry %d failed: %s %s", i, *r.ErrorCode, aws.ToString(r.ErrorMessage))
		}
		want := shardFor(t, shards, hashOf(*entries[i].PartitionKey))
		if aws.ToString(r.ShardId) != want {
			t.Errorf("entry %d: shard %s, want %s", i, aws.ToString(r.ShardId), want)
		}
		seq := bigOf(t, r.SequenceNumber)
		if p := last[want]; p != nil && seq.Cmp(p) <= 0 {
			t.Errorf("entry %d: sequence %s not above the previous %s in shard %s", i, seq, p, want)
		}
		last[want] = seq
		perShard[want] = append(perShard[want], string(entries[i].Data))
	}
	// Reading each shard gives the records in sequence order with keys, data
	// and sequence numbers as put.
	for shard, want := range perShard {
		recs, _ := s.readAll(s.iterator(shard, types.ShardIteratorTypeTrimHorizon, nil), 0)
		if got := datas(recs); !reflect.DeepEqual(got, want) {
			t.Errorf("shard %s read %v, want %v", shard, got, want)
		}
		for i := 1; i < len(recs); i++ {
			if bigOf(t, recs[i].SequenceNumber).Cmp(bigOf(t, recs[i-1].SequenceNumber)) <= 0 {
				t.Errorf("shard %s: GetRecords out of sequence order at %d", shard, i)
			}
		}
		for _, r := range recs {
			if r.ApproximateArrivalTimestamp == nil || r.PartitionKey == nil {
				t.Errorf("record %s lacks arrival timestamp or partition key", aws.ToString(r.SequenceNumber))
			}
		}
	}
	// SequenceNumberForOrdering: the new record sorts after the given one.
	first := s.put("ordered", "a", nil)
	second, err := s.kc.PutRecord(s.ctx, &kinesis.PutRecordInput{StreamName: aws.String(s.name), PartitionKey: aws.String("ordered"),
		Data: []byte("b"), SequenceNumberForOrdering: first.SequenceNumber})
	if err != nil {
		t.Fatalf("PutRecord with SequenceNumberForOrdering: %v", err)
	}
	if bigOf(t, second.SequenceNumber).Cmp(bigOf(t, first.SequenceNumber)) <= 0 {
		t.Errorf("SequenceNumberForOrdering: %s not after %s", *second.SequenceNumber, *first.SequenceNumber)
	}
	// More than 500 entries is refused as a whole.
	big := make([]types.PutRecordsRequestEntry, 501)
	for i := range big {
		big[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: []byte("x")}
	}
	if conforms(t, tg, "put-records-501") {
		_, err = s.kc.PutRecords(s.ctx, &kinesis.PutRecordsInput{StreamName: aws.String(s.name), Records: big})
		// The API reference allows 500 entries; which of the two codes AWS
		// uses for the model constraint is not documented.
		wantCode(t, "PutRecords with 501 entries", err, "InvalidArgumentException", "ValidationException")
	}
}

func testIteratorTypes(t *testing.T, tg target) {
	s := newStream(t, tg, 1)
	shard := *s.describe().Shards[0].ShardId
	latest := s.iterator(shard, types.ShardIteratorTypeLatest, nil)
	s.put("k", "r0", nil)
	r1 := s.put("k", "r1", nil)
	passTime(s.b, 100*time.Millisecond)
	mark := now(s.b)
	passTime(s.b, 100*time.Millisecond)
	r2 := s.put("k", "r2", nil)
	s.put("k", "r3", nil)

	read := func(it string) []string { recs, _ := s.readAll(it, 0); return datas(recs) }
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	check("TRIM_HORIZON", read(s.iterator(shard, types.ShardIteratorTypeTrimHorizon, nil)), "r0", "r1", "r2", "r3")
	check("AT_SEQUENCE_NUMBER r1", read(s.iterator(shard, types.ShardIteratorTypeAtSequenceNumber,
		func(in *kinesis.GetShardIteratorInput) { in.StartingSequenceNumber = r1.SequenceNumber })), "r1", "r2", "r3")
	check("AFTER_SEQUENCE_NUMBER r1", read(s.iterator(shard, types.ShardIteratorTypeAfterSequenceNumber,
		func(in *kinesis.GetShardIteratorInput) { in.StartingSequenceNumber = r1.SequenceNumber })), "r2", "r3")
	check("AT_TIMESTAMP between r1 and r2", read(s.iterator(shard, types.ShardIteratorTypeAtTimestamp,
		func(in *kinesis.GetShardIteratorInput) { in.Timestamp = aws.Time(mark) })), "r2", "r3")
	check("AT_TIMESTAMP before the stream", read(s.iterator(shard, types.ShardIteratorTypeAtTimestamp,
		func(in *kinesis.GetShardIteratorInput) { in.Timestamp = aws.Time(mark.Add(-time.Hour)) })), "r0", "r1", "r2", "r3")
	// Millisecond precision: the exact arrival time of r2 includes r2.
	recs, _ := s.readAll(s.iterator(shard, types.ShardIteratorTypeAtSequenceNumber,
		func(in *kinesis.GetShardIteratorInput) { in.StartingSequenceNumber = r2.SequenceNumber }), 1)
	if len(recs) == 0 {
		t.Fatal("r2 not readable")
	}
	arrival := *recs[0].ApproximateArrivalTimestamp
	if arrival.Before(mark.Truncate(time.Millisecond)) {
		t.Errorf("r2 arrived at %v, before the mark %v", arrival, mark)
	}
	check("AT_TIMESTAMP = r2's arrival", read(s.iterator(shard, types.ShardIteratorTypeAtTimestamp,
		func(in *kinesis.GetShardIteratorInput) { in.Timestamp = aws.Time(arrival) })), "r2", "r3")
	// LATEST was taken before any put: it sees everything put since.
	check("LATEST taken before the puts", read(latest), "r0", "r1", "r2", "r3")
	// LATEST taken now sees nothing until the next put, then only that.
	it := s.iterator(shard, types.ShardIteratorTypeLatest, nil)
	out := s.get(it, 0)
	if len(out.Records) != 0 || out.NextShardIterator == nil {
		t.Fatalf("LATEST at the tip: %d records, next %v", len(out.Records), out.NextShardIterator)
	}
	s.put("k", "r4", nil)
	check("LATEST after a new put", read(*out.NextShardIterator), "r4")

	// Missing arguments are InvalidArgumentException.
	for typ, what := range map[types.ShardIteratorType]string{
		types.ShardIteratorTypeAtSequenceNumber:    "AT_SEQUENCE_NUMBER without StartingSequenceNumber",
		types.ShardIteratorTypeAfterSequenceNumber: "AFTER_SEQUENCE_NUMBER without StartingSequenceNumber",
		types.ShardIteratorTypeAtTimestamp:         "AT_TIMESTAMP without Timestamp",
	} {
		_, err := s.kc.GetShardIterator(s.ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(s.name), ShardId: aws.String(shard), ShardIteratorType: typ})
		var ia *types.InvalidArgumentException
		if !errors.As(err, &ia) {
			t.Errorf("%s: want InvalidArgumentException, got %v", what, err)
		}
	}
}

func testGetRecordsPaging(t *testing.T, tg target) {
	s := newStream(t, tg, 1)
	shard := *s.describe().Shards[0].ShardId
	s.put("k", "old", nil)
	// Time between the first record and the rest makes a reader of "old"
	// measurably behind the tip.
	passTime(s.b, 300*time.Millisecond)
	for i := range 9 {
		s.put("k", fmt.Sprintf("r%d", i), nil)
	}
	it := s.iterator(shard, types.ShardIteratorTypeTrimHorizon, nil)
	var sizes []int
	var all []string
	for range 10 {
		limit := int32(3)
		if len(sizes) == 0 {
			limit = 1 // just "old": the reader is then at least 300 ms behind
		}
		out := s.get(it, limit)
		if out.NextShardIterator == nil {
			t.Fatal("an open shard returned a null NextShardIterator")
		}
		if out.MillisBehindLatest == nil {
			t.Fatal("MillisBehindLatest missing")
		}
		if len(sizes) == 0 && *out.MillisBehindLatest < 300 {
			t.Errorf("after reading only the record put 300 ms before the rest: MillisBehindLatest = %d, want >= 300", *out.MillisBehindLatest)
		}
		sizes = append(sizes, len(out.Records))
		all = append(all, datas(out.Records)...)
		it = *out.NextShardIterator
		if len(out.Records) == 0 {
			if *out.MillisBehindLatest != 0 {
				t.Errorf("at the tip: MillisBehindLatest = %d, want 0", *out.MillisBehindLatest)
			}
			break
		}
	}
	if want := []int{1, 3, 3, 3, 0}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("page sizes with Limit 1 then 3: %v, want %v", sizes, want)
	}
	if len(all) != 10 || all[0] != "old" || all[9] != "r8" {
		t.Errorf("records %v", all)
	}
	// Limit above 10,000 is InvalidArgumentException (AWS GetRecords docs).
	_, err := s.kc.GetRecords(s.ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(10001)})
	var ia *types.InvalidArgumentException
	if !errors.As(err, &ia) {
		wantCode(t, "GetRecords Limit 10001", err, "InvalidArgumentException", "ValidationException")
		t.Logf("Limit 10001 answered %q", errorCode(err))
	}
	// A malformed iterator is refused.
	if conforms(t, tg, "malformed-iterator") {
		_, err = s.kc.GetRecords(s.ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("not-an-iterator")})
		if !errors.As(err, &ia) {
			t.Errorf("GetRecords with a malformed iterator: want InvalidArgumentException, got %v", err)
		}
	}
}

func testSplitShard(t *testing.T, tg target) {
	s := newStream(t, tg, 1)
	parent := *s.describe().Shards[0].ShardId
	s.put("a", "before-1", nil)
	s.put("b", "before-2", nil)
	parentIt := s.iterator(parent, types.ShardIteratorTypeTrimHorizon, nil)
	mid := new(big.Int).Rsh(maxHashKey, 1)
	if _, err := s.kc.SplitShard(s.ctx, &kinesis.SplitShardInput{StreamName: aws.String(s.name),
		ShardToSplit: aws.String(parent), NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	if tg.caps.AsyncResharding {
		t.Logf("%s reshards asynchronously (stream UPDATING, as AWS): waiting for ACTIVE", tg.impl)
	}
	s.waitActive()
	shards := s.shards(nil)
	if len(shards) != 3 {
		t.Fatalf("after split: %d shards, want 3", len(shards))
	}
	var children []types.Shard
	for _, sh := range shards {
		if *sh.ShardId == parent {
			if sh.SequenceNumberRange.EndingSequenceNumber == nil {
				t.Error("split parent has no EndingSequenceNumber")
			}
			continue
		}
		children = append(children, sh)
		if aws.ToString(sh.ParentShardId) != parent || sh.AdjacentParentShardId != nil {
			t.Errorf("child %s: parent %v adjacent %v, want %s and none", *sh.ShardId, aws.ToString(sh.ParentShardId), aws.ToString(sh.AdjacentParentShardId), parent)
		}
	}
	checkCoverage(t, children)
	sort.Slice(children, func(i, j int) bool {
		return bigOf(t, children[i].HashKeyRange.StartingHashKey).Cmp(bigOf(t, children[j].HashKeyRange.StartingHashKey)) < 0
	})
	if bigOf(t, children[1].HashKeyRange.StartingHashKey).Cmp(mid) != 0 {
		t.Errorf("upper child starts at %s, want NewStartingHashKey %s", *children[1].HashKeyRange.StartingHashKey, mid)
	}
	// New records go to the children.
	lo := s.put("x", "after-lo", aws.String("0"))
	hi := s.put("x", "after-hi", aws.String(maxHashKey.String()))
	if aws.ToString(lo.ShardId) != *children[0].ShardId || aws.ToString(hi.ShardId) != *children[1].ShardId {
		t.Errorf("after split: records went to %s and %s, want %s and %s", aws.ToString(lo.ShardId), aws.ToString(hi.ShardId), *children[0].ShardId, *children[1].ShardId)
	}
	// Reading the parent (with an iterator taken before the split) ends with a
	// null iterator and the children.
	recs, last := s.readToEnd(parentIt)
	if got := datas(recs); !reflect.DeepEqual(got, []string{"before-1", "before-2"}) {
		t.Errorf("parent records %v", got)
	}
	checkChildShards(t, last.ChildShards, []string{*children[0].ShardId, *children[1].ShardId}, []string{parent})
	// Splitting at a key outside the shard's range is refused.
	_, err := s.kc.SplitShard(s.ctx, &kinesis.SplitShardInput{StreamName: aws.String(s.name),
		ShardToSplit: children[0].ShardId, NewStartingHashKey: children[1].HashKeyRange.EndingHashKey})
	var ia *types.InvalidArgumentException
	if !errors.As(err, &ia) {
		t.Errorf("SplitShard outside the shard's range: want InvalidArgumentException, got %v", err)
	}
}

// checkChildShards asserts the ChildShards of the last GetRecords of a closed shard.
func checkChildShards(t *testing.T, got []types.ChildShard, wantIDs, wantParents []string) {
	t.Helper()
	var ids []string
	for _, c := range got {
		ids = append(ids, aws.ToString(c.ShardId))
		if !reflect.DeepEqual(sorted(c.ParentShards...), sorted(wantParents...)) {
			t.Errorf("child %s: ParentShards %v, want %v", aws.ToString(c.ShardId), c.ParentShards, wantParents)
		}
		if c.HashKeyRange == nil || c.HashKeyRange.StartingHashKey == nil || c.HashKeyRange.EndingHashKey == nil {
			t.Errorf("child %s: no HashKeyRange", aws.ToString(c.ShardId))
		}
	}
	if !reflect.DeepEqual(sorted(ids...), sorted(wantIDs...)) {
		t.Errorf("ChildShards at the end of a closed shard: %v, want %v", ids, wantIDs)
	}
}

func testMergeShards(t *testing.T, tg target) {
	s := newStream(t, tg, 3)
	shards := s.describe().Shards
	sort.Slice(shards, func(i, j int) bool {
		return bigOf(t, shards[i].HashKeyRange.StartingHashKey).Cmp(bigOf(t, shards[j].HashKeyRange.StartingHashKey)) < 0
	})
	a, b, c := *shards[0].ShardId, *shards[1].ShardId, *shards[2].ShardId
	// Not adjacent: refused.
	_, err := s.kc.MergeShards(s.ctx, &kinesis.MergeShardsInput{StreamName: aws.String(s.name), ShardToMerge: aws.String(a), AdjacentShardToMerge: aws.String(c)})
	var ia *types.InvalidArgumentException
	if !errors.As(err, &ia) {
		t.Errorf("MergeShards of non-adjacent shards: want InvalidArgumentException, got %v", err)
	}
	s.put("x", "in-c", shards[2].HashKeyRange.StartingHashKey)
	// Adjacent, given in reverse order (higher range first): AWS accepts
	// either order.
	first, second := c, b
	if !conforms(t, tg, "merge-order") {
		first, second = b, c
	}
	if _, err := s.kc.MergeShards(s.ctx, &kinesis.MergeShardsInput{StreamName: aws.String(s.name), ShardToMerge: aws.String(first), AdjacentShardToMerge: aws.String(second)}); err != nil {
		t.Fatalf("MergeShards(%s, %s): %v", first, second, err)
	}
	s.waitActive()
	open := s.openShards()
	checkCoverage(t, open)
	if len(open) != 2 {
		t.Fatalf("after merge: %d open shards, want 2", len(open))
	}
	var child types.Shard
	for _, sh := range open {
		if *sh.ShardId != a {
			child = sh
		}
	}
	if !reflect.DeepEqual(sorted(aws.ToString(child.ParentShardId), aws.ToString(child.AdjacentParentShardId)), sorted(b, c)) {
		t.Errorf("merged child %s: parents %v / %v, want %s and %s", *child.ShardId, aws.ToString(child.ParentShardId), aws.ToString(child.AdjacentParentShardId), b, c)
	}
	t.Logf("MergeShards(ShardToMerge=%s, Adjacent=%s) → ParentShardId=%s AdjacentParentShardId=%s", first, second, aws.ToString(child.ParentShardId), aws.ToString(child.AdjacentParentShardId))
	if *child.HashKeyRange.StartingHashKey != *shards[1].HashKeyRange.StartingHashKey || *child.HashKeyRange.EndingHashKey != *shards[2].HashKeyRange.EndingHashKey {
		t.Errorf("merged range %s..%s, want the union", *child.HashKeyRange.StartingHashKey, *child.HashKeyRange.EndingHashKey)
	}
	for _, p := range []string{b, c} {
		recs, last := s.readToEnd(s.iterator(p, types.ShardIteratorTypeTrimHorizon, nil))
		if p == c && !reflect.DeepEqual(datas(recs), []string{"in-c"}) {
			t.Errorf("parent %s records %v", p, datas(recs))
		}
		checkChildShards(t, last.ChildShards, []string{*child.ShardId}, []string{b, c})
	}
}

func testUpdateShardCount(t *testing.T, tg target) {
	s := newStream(t, tg, 2)
	for _, target := range []int32{4, 2} {
		before := int32(len(s.openShards()))
		out, err := s.kc.UpdateShardCount(s.ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(s.name),
			TargetShardCount: aws.Int32(target), ScalingType: types.ScalingTypeUniformScaling})
		if err != nil {
			t.Fatalf("UpdateShardCount %d: %v", target, err)
		}
		if aws.ToInt32(out.TargetShardCount) != target || aws.ToInt32(out.CurrentShardCount) != before {
			t.Errorf("UpdateShardCount answer: current %d target %d, want %d %d", aws.ToInt32(out.CurrentShardCount), aws.ToInt32(out.TargetShardCount), before, target)
		}
		s.waitActive()
		open := s.openShards()
		if int32(len(open)) != target {
			t.Fatalf("after UpdateShardCount %d: %d open shards", target, len(open))
		}
		checkCoverage(t, open)
		// Uniform scaling: every open shard covers 1/target of the key space.
		width := new(big.Int).Div(new(big.Int).Add(maxHashKey, big.NewInt(1)), big.NewInt(int64(target)))
		slack := new(big.Int).Div(width, big.NewInt(100))
		for _, sh := range open {
			w := new(big.Int).Sub(bigOf(t, sh.HashKeyRange.EndingHashKey), bigOf(t, sh.HashKeyRange.StartingHashKey))
			if new(big.Int).Abs(new(big.Int).Sub(w, width)).Cmp(slack) > 0 {
				t.Errorf("after UpdateShardCount %d: shard %s covers %s keys, want about %s", target, *sh.ShardId, w, width)
			}
		}
		summary, err := s.kc.DescribeStreamSummary(s.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.name)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(summary.StreamDescriptionSummary.OpenShardCount) != target {
			t.Errorf("OpenShardCount %d, want %d", aws.ToInt32(summary.StreamDescriptionSummary.OpenShardCount), target)
		}
	}
}

func testKinesisErrors(t *testing.T, tg target) {
	b := tg.backend(t)
	kc, ctx := kinesisClient(b), ctxT(t)
	missing := aws.String(uniqueName("missing"))
	var nf *types.ResourceNotFoundException
	calls := map[string]func() error{
		"DescribeStream": func() error {
			_, err := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: missing})
			return err
		},
		"DescribeStreamSummary": func() error {
			_, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: missing})
			return err
		},
		"DeleteStream": func() error {
			_, err := kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: missing})
			return err
		},
		"ListShards": func() error { _, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: missing}); return err },
		"PutRecord": func() error {
			_, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: missing, PartitionKey: aws.String("k"), Data: []byte("x")})
			return err
		},
		"PutRecords": func() error {
			_, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: missing, Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("x")}}})
			return err
		},
		"GetShardIterator": func() error {
			_, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: missing, ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			return err
		},
	}
	for op, call := range calls {
		if err := call(); !errors.As(err, &nf) {
			t.Errorf("%s on a missing stream: want ResourceNotFoundException, got %v", op, err)
		} else if nf.ErrorMessage() == "" {
			t.Errorf("%s on a missing stream: ResourceNotFoundException without a message", op)
		}
	}
	// A missing shard of an existing stream is ResourceNotFoundException too.
	s := &kstream{t: t, ctx: ctx, b: b, kc: kc, name: uniqueName("err")}
	s.create(1)
	_, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(s.name), ShardId: aws.String("shardId-000000000099"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if !errors.As(err, &nf) {
		t.Errorf("GetShardIterator on a missing shard: want ResourceNotFoundException, got %v", err)
	}
}

// testThrottling drives one shard past each AWS limit (on a frozen clock, so
// "per second" is exact) and checks the answer, and that staying within the
// limits is never throttled.
func testThrottling(t *testing.T, tg target) {
	if !tg.caps.Throttles {
		t.Skipf("%s never throttles (AWS: 1 MB/s or 1,000 records/s writes, 2 MB/s and 5 GetRecords/s reads, 5 GetShardIterator/s per shard): checked on the in-process emulator only", tg.impl)
	}
	b := tg.backend(t)
	if b.Clock == nil {
		t.Fatal("a throttling backend must expose its clock")
	}
	kc, ctx := kinesisClient(b), ctxT(t)
	s := &kstream{t: t, ctx: ctx, b: b, kc: kc, name: uniqueName("thr")}
	b.Kinesis.SetLimits(s.name, true) // before creation: applies to the new stream
	s.create(1)
	shard := *s.describe().Shards[0].ShardId
	var pte *types.ProvisionedThroughputExceededException

	// Writes: 1,000 records in one second are accepted ...
	batch := func(n int, size int) []types.PutRecordsRequestEntry {
		e := make([]types.PutRecordsRequestEntry, n)
		for i := range e {
			e[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: make([]byte, size)}
		}
		return e
	}
	for i := range 2 {
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(s.name), Records: batch(500, 10)})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords batch %d within 1,000 records/s: err %v, failed %d", i, err, aws.ToInt32(out.FailedRecordCount))
		}
	}
	// ... the next ones in the same second fail per entry ...
	out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(s.name), Records: batch(10, 10)})
	if err != nil {
		t.Fatalf("PutRecords over the limit: the request must succeed with per-entry failures, got %v", err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 10 {
		t.Errorf("PutRecords over 1,000 records/s: FailedRecordCount %d, want 10", aws.ToInt32(out.FailedRecordCount))
	}
	for i, r := range out.Records {
		if aws.ToString(r.ErrorCode) != "ProvisionedThroughputExceededException" || r.ErrorMessage == nil || r.SequenceNumber != nil {
			t.Errorf("entry %d: ErrorCode %q message %v seq %v", i, aws.ToString(r.ErrorCode), r.ErrorMessage, r.SequenceNumber)
		}
	}
	// ... and PutRecord raises the exception.
	_, err = kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(s.name), PartitionKey: aws.String("k"), Data: []byte("x")})
	if !errors.As(err, &pte) {
		t.Errorf("PutRecord over 1,000 records/s: want ProvisionedThroughputExceededException, got %v", err)
	}
	// A second later the shard accepts writes again; 1 MB in a second is
	// accepted, more is throttled.
	b.Clock.Advance(time.Second)
	mb := 1 << 20
	out, err = kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(s.name), Records: batch(4, mb/4-16)})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords of just under 1 MB after a second: err %v, failed %d", err, aws.ToInt32(out.FailedRecordCount))
	}
	_, err = kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(s.name), PartitionKey: aws.String("k"), Data: make([]byte, 64<<10)})
	if !errors.As(err, &pte) {
		t.Errorf("PutRecord over 1 MB/s: want ProvisionedThroughputExceededException, got %v", err)
	}

	// GetShardIterator: 5 per second per shard.
	b.Clock.Advance(time.Second)
	var it string
	for range 5 {
		it = s.iterator(shard, types.ShardIteratorTypeTrimHorizon, nil)
	}
	_, err = kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(s.name), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if !errors.As(err, &pte) {
		t.Errorf("6th GetShardIterator in a second: want ProvisionedThroughputExceededException, got %v", err)
	}

	// GetRecords: 5 calls per second per shard.
	b.Clock.Advance(time.Second)
	for i := range 5 {
		o, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(1)})
		if err != nil {
			t.Fatalf("GetRecords call %d within 5/s: %v", i+1, err)
		}
		it = *o.NextShardIterator
	}
	_, err = kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(1)})
	if !errors.As(err, &pte) {
		t.Errorf("6th GetRecords in a second: want ProvisionedThroughputExceededException, got %v", err)
	}

	// GetRecords: 2 MB/s. The shard holds about 1 MB of 10-byte records and 1 MB
	// of large ones; read 2 MB+ then the next call in the same second is throttled.
	b.Clock.Advance(time.Second)
	for range 2 {
		b.Clock.Advance(time.Second)
		if _, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(s.name), Records: batch(4, mb/4-16)}); err != nil {
			t.Fatal(err)
		}
	}
	b.Clock.Advance(time.Second)
	it = s.iterator(shard, types.ShardIteratorTypeTrimHorizon, nil)
	read := 0
	for calls := 0; calls < 5 && read <= 2*mb; calls++ {
		o, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if errors.As(err, &pte) {
			break // the limit hit inside the loop: also a pass
		}
		if err != nil {
			t.Fatalf("GetRecords: %v", err)
		}
		for _, r := range o.Records {
			read += len(r.Data)
		}
		it = *o.NextShardIterator
	}
	if read < 2*mb {
		t.Fatalf("could only read %d bytes before throttling, want >= 2 MB before the read limit", read)
	}
	_, err = kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	if !errors.As(err, &pte) {
		t.Errorf("GetRecords after reading %d bytes in a second: want ProvisionedThroughputExceededException, got %v", read, err)
	}
	// With the clock moved on, reading resumes.
	b.Clock.Advance(5 * time.Second)
	if _, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)}); err != nil {
		t.Errorf("GetRecords after the window: %v", err)
	}
}

// testIteratorExpiry: an iterator expires 5 minutes after it was issued.
func testIteratorExpiry(t *testing.T, tg target) {
	if !tg.caps.ExpiresIteratorsOnClock {
		t.Skipf("%s expires iterators only after a real 5 minutes: checked on the in-process emulator only (AWS: ExpiredIteratorException 5 minutes after issue)", tg.impl)
	}
	s := newStream(t, tg, 1)
	shard := *s.describe().Shards[0].ShardId
	s.put("k", "r0", nil)
	it := s.iterator(shard, types.ShardIteratorTypeTrimHorizon, nil)
	s.b.Clock.Advance(5*time.Minute - time.Second)
	out := s.get(it, 0) // still valid just before 5 minutes
	fresh := *out.NextShardIterator
	s.b.Clock.Advance(2 * time.Second)
	_, err := s.kc.GetRecords(s.ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	var ex *types.ExpiredIteratorException
	if !errors.As(err, &ex) {
		t.Errorf("GetRecords with a 5 min 1 s old iterator: want ExpiredIteratorException, got %v", err)
	}
	// The NextShardIterator issued 2 s ago is still good.
	if _, err := s.kc.GetRecords(s.ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(fresh)}); err != nil {
		t.Errorf("GetRecords with a fresh NextShardIterator: %v", err)
	}
}
