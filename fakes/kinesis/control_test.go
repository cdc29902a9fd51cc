package kinesis_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// rawCall posts one request the way the JSON 1.1 protocol does and returns
// status, headers and the decoded body.
func rawCall(t *testing.T, url, op, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: body %q is not JSON: %v", op, raw, err)
	}
	return resp.StatusCode, resp.Header, m
}

func TestWireProtocol(t *testing.T) {
	e := newEnv(t, false)
	status, hdr, body := rawCall(t, e.url, "DescribeStream", `{"StreamName":"nope"}`)
	if status != 400 || hdr.Get("Content-Type") != "application/x-amz-json-1.1" || body["__type"] != "ResourceNotFoundException" || body["message"] == "" {
		t.Fatalf("missing stream: %d %v %v", status, hdr, body)
	}
	if hdr.Get("x-amzn-RequestId") == "" {
		t.Fatal("no request id")
	}
	if _, _, body := rawCall(t, e.url, "FlyToTheMoon", `{}`); body["__type"] != "UnknownOperationException" {
		t.Fatalf("unknown op: %v", body)
	}
	if _, _, body := rawCall(t, e.url, "CreateStream", `{"StreamName":`); body["__type"] != "SerializationException" {
		t.Fatalf("bad json: %v", body)
	}

	if status, _, body := rawCall(t, e.url, "CreateStream", `{"StreamName":"raw","ShardCount":1}`); status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	e.clk.Advance(1234 * time.Millisecond)
	data := []byte{0, 1, 2, 0xff, 'x'}
	_, _, put := rawCall(t, e.url, "PutRecord", `{"StreamName":"raw","PartitionKey":"k\"\u00e9","Data":"`+base64.StdEncoding.EncodeToString(data)+`"}`)
	if put["ShardId"] != "shardId-000000000000" || len(put["SequenceNumber"].(string)) != 56 {
		t.Fatalf("put: %v", put)
	}
	_, _, it := rawCall(t, e.url, "GetShardIterator", `{"StreamName":"raw","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}`)
	_, _, got := rawCall(t, e.url, "GetRecords", `{"ShardIterator":"`+it["ShardIterator"].(string)+`"}`)
	recs := got["Records"].([]any)
	if len(recs) != 1 {
		t.Fatalf("records: %v", got)
	}
	r := recs[0].(map[string]any)
	wantTS := json.Number(fmt.Sprintf("%d.234", t0.Unix()+1)) // t0 + 1.234 s, epoch seconds with milliseconds
	if r["ApproximateArrivalTimestamp"] != wantTS || r["Data"] != base64.StdEncoding.EncodeToString(data) || r["PartitionKey"] != "k\"é" {
		t.Fatalf("record wire form: %v", r)
	}
	if got["MillisBehindLatest"] != json.Number("0") || got["NextShardIterator"] == nil {
		t.Fatalf("get records wire form: %v", got)
	}
}

func TestStreamLifecycle(t *testing.T) {
	e := newEnv(t, false)
	must[*sdk.CreateStreamOutput](t)(e.c.CreateStream(ctx, &sdk.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(2)}))
	_, err := e.c.CreateStream(ctx, &sdk.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(2)})
	wantErr[*types.ResourceInUseException](t, err)
	_, err = e.c.CreateStream(ctx, &sdk.CreateStreamInput{StreamName: aws.String("bad name!"), ShardCount: aws.Int32(1)})
	wantErr[*types.InvalidArgumentException](t, err)
	_, err = e.c.CreateStream(ctx, &sdk.CreateStreamInput{StreamName: aws.String("zero"), ShardCount: aws.Int32(0)})
	wantErr[*types.InvalidArgumentException](t, err)
	_, err = e.c.CreateStream(ctx, &sdk.CreateStreamInput{StreamName: aws.String("huge"), ShardCount: aws.Int32(20000)})
	wantErr[*types.LimitExceededException](t, err)

	d := must[*sdk.DescribeStreamOutput](t)(e.c.DescribeStream(ctx, &sdk.DescribeStreamInput{StreamName: aws.String("orders")})).StreamDescription
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
	if aws.ToString(d.StreamARN) != arn || d.StreamStatus != types.StreamStatusActive || aws.ToInt32(d.RetentionPeriodHours) != 24 ||
		aws.ToBool(d.HasMoreShards) || len(d.Shards) != 2 || d.StreamModeDetails.StreamMode != types.StreamModeProvisioned ||
		!d.StreamCreationTimestamp.Equal(t0) {
		t.Fatalf("describe: %+v", d)
	}
	half := new(big.Int).Rsh(two128, 1)
	if d.Shards[0].HashKeyRange.StartingHashKey == nil || *d.Shards[0].HashKeyRange.StartingHashKey != "0" ||
		*d.Shards[0].HashKeyRange.EndingHashKey != new(big.Int).Sub(half, big.NewInt(1)).String() ||
		*d.Shards[1].HashKeyRange.StartingHashKey != half.String() ||
		*d.Shards[1].HashKeyRange.EndingHashKey != new(big.Int).Sub(two128, big.NewInt(1)).String() {
		t.Fatalf("hash ranges: %+v %+v", d.Shards[0].HashKeyRange, d.Shards[1].HashKeyRange)
	}
	if d.Shards[0].SequenceNumberRange.EndingSequenceNumber != nil || len(aws.ToString(d.Shards[0].SequenceNumberRange.StartingSequenceNumber)) != 56 {
		t.Fatalf("sequence range: %+v", d.Shards[0].SequenceNumberRange)
	}

	// The ARN names the same stream; a foreign account does not.
	byARN := must[*sdk.DescribeStreamSummaryOutput](t)(e.c.DescribeStreamSummary(ctx, &sdk.DescribeStreamSummaryInput{StreamARN: aws.String(arn)}))
	if aws.ToInt32(byARN.StreamDescriptionSummary.OpenShardCount) != 2 || aws.ToString(byARN.StreamDescriptionSummary.StreamName) != "orders" {
		t.Fatalf("summary: %+v", byARN.StreamDescriptionSummary)
	}
	_, err = e.c.DescribeStreamSummary(ctx, &sdk.DescribeStreamSummaryInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:111111111111:stream/orders")})
	wantErr[*types.ResourceNotFoundException](t, err)
	_, err = e.c.DescribeStreamSummary(ctx, &sdk.DescribeStreamSummaryInput{StreamARN: aws.String(arn), StreamName: aws.String("other")})
	wantErr[*types.InvalidArgumentException](t, err)

	// ON_DEMAND streams get four shards.
	must[*sdk.CreateStreamOutput](t)(e.c.CreateStream(ctx, &sdk.CreateStreamInput{StreamName: aws.String("od"),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}))
	od := must[*sdk.DescribeStreamSummaryOutput](t)(e.c.DescribeStreamSummary(ctx, &sdk.DescribeStreamSummaryInput{StreamName: aws.String("od")}))
	if aws.ToInt32(od.StreamDescriptionSummary.OpenShardCount) != 4 || od.StreamDescriptionSummary.StreamModeDetails.StreamMode != types.StreamModeOnDemand {
		t.Fatalf("on-demand: %+v", od.StreamDescriptionSummary)
	}

	// ListStreams pages through every stream in name order.
	for _, n := range []string{"a1", "a2", "a3"} {
		e.create(t, n, 1)
	}
	var names []string
	p := sdk.NewListStreamsPaginator(e.c, &sdk.ListStreamsInput{Limit: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out := must[*sdk.ListStreamsOutput](t)(p.NextPage(ctx))
		if len(out.StreamNames) > 2 || len(out.StreamSummaries) != len(out.StreamNames) {
			t.Fatalf("page: %+v", out)
		}
		names = append(names, out.StreamNames...)
		pages++
	}
	if want := []string{"a1", "a2", "a3", "od", "orders"}; !slices.Equal(names, want) || pages != 3 {
		t.Fatalf("ListStreams = %v in %d pages, want %v in 3", names, pages, want)
	}
	ls := must[*sdk.ListStreamsOutput](t)(e.c.ListStreams(ctx, &sdk.ListStreamsInput{ExclusiveStartStreamName: aws.String("a3")}))
	if !slices.Equal(ls.StreamNames, []string{"od", "orders"}) || aws.ToBool(ls.HasMoreStreams) {
		t.Fatalf("ExclusiveStartStreamName: %+v", ls)
	}

	must[*sdk.DeleteStreamOutput](t)(e.c.DeleteStream(ctx, &sdk.DeleteStreamInput{StreamName: aws.String("orders")}))
	_, err = e.c.DescribeStream(ctx, &sdk.DescribeStreamInput{StreamName: aws.String("orders")})
	wantErr[*types.ResourceNotFoundException](t, err)
	_, err = e.c.DeleteStream(ctx, &sdk.DeleteStreamInput{StreamName: aws.String("orders")})
	wantErr[*types.ResourceNotFoundException](t, err)
	_, err = e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"), Data: []byte("x")})
	wantErr[*types.ResourceNotFoundException](t, err)
}

func TestDescribeStreamPagination(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 5)
	first := must[*sdk.DescribeStreamOutput](t)(e.c.DescribeStream(ctx, &sdk.DescribeStreamInput{StreamName: aws.String("s"), Limit: aws.Int32(2)}))
	if got := ids(first.StreamDescription.Shards); !slices.Equal(got, []string{sid(0), sid(1)}) || !aws.ToBool(first.StreamDescription.HasMoreShards) {
		t.Fatalf("first page %v more=%v", got, aws.ToBool(first.StreamDescription.HasMoreShards))
	}
	next := must[*sdk.DescribeStreamOutput](t)(e.c.DescribeStream(ctx, &sdk.DescribeStreamInput{StreamName: aws.String("s"), Limit: aws.Int32(10), ExclusiveStartShardId: aws.String(sid(1))}))
	if got := ids(next.StreamDescription.Shards); !slices.Equal(got, []string{sid(2), sid(3), sid(4)}) || aws.ToBool(next.StreamDescription.HasMoreShards) {
		t.Fatalf("second page %v", got)
	}
	var all []string
	p := sdk.NewDescribeStreamPaginator(e.c, &sdk.DescribeStreamInput{StreamName: aws.String("s")}, func(o *sdk.DescribeStreamPaginatorOptions) { o.Limit = aws.Int32(2) })
	for p.HasMorePages() {
		out := must[*sdk.DescribeStreamOutput](t)(p.NextPage(ctx))
		all = append(all, ids(out.StreamDescription.Shards)...)
	}
	if len(all) != 5 || all[4] != sid(4) {
		t.Fatalf("paginator: %v", all)
	}
	_, err := e.c.DescribeStream(ctx, &sdk.DescribeStreamInput{StreamName: aws.String("s"), Limit: aws.Int32(0)})
	wantErr[*types.InvalidArgumentException](t, err)
}

// TestListShards builds the lineage 0,1 → split 0 into 2,3 → merge 3,1 into 4
// and checks every ShardFilter, pagination and retention expiry.
func TestListShards(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 2)
	quarter := new(big.Int).Rsh(two128, 2).String()
	e.clk.Advance(time.Hour) // T1
	must[*sdk.SplitShardOutput](t)(e.c.SplitShard(ctx, &sdk.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String(sid(0)), NewStartingHashKey: aws.String(quarter)}))
	e.clk.Advance(time.Hour) // T2
	must[*sdk.MergeShardsOutput](t)(e.c.MergeShards(ctx, &sdk.MergeShardsInput{StreamName: aws.String("s"), ShardToMerge: aws.String(sid(3)), AdjacentShardToMerge: aws.String(sid(1))}))

	list := func(f *types.ShardFilter, extra func(*sdk.ListShardsInput)) []string {
		t.Helper()
		in := &sdk.ListShardsInput{StreamName: aws.String("s"), ShardFilter: f}
		if extra != nil {
			extra(in)
		}
		return ids(must[*sdk.ListShardsOutput](t)(e.c.ListShards(ctx, in)).Shards)
	}
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	cases := []struct {
		name string
		f    *types.ShardFilter
		want []int
	}{
		{"none", nil, []int{0, 1, 2, 3, 4}},
		{"AT_LATEST", &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}, []int{2, 4}},
		{"AT_TRIM_HORIZON", &types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}, []int{0, 1}},
		{"FROM_TRIM_HORIZON", &types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}, []int{0, 1, 2, 3, 4}},
		{"AT_TIMESTAMP", &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: at(90 * time.Minute)}, []int{1, 2, 3}},
		{"AT_TIMESTAMP before creation", &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: at(-time.Hour)}, []int{0, 1}},
		{"FROM_TIMESTAMP", &types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: at(90 * time.Minute)}, []int{1, 2, 3, 4}},
		{"AFTER_SHARD_ID", &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String(sid(2))}, []int{3, 4}},
	}
	for _, c := range cases {
		var want []string
		for _, n := range c.want {
			want = append(want, sid(n))
		}
		if got := list(c.f, nil); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", c.name, got, want)
		}
	}
	// Every filter pages the same way: MaxResults 1 and NextToken alone
	// (the token carries the filter) walk exactly the unpaginated answer.
	for _, c := range cases {
		var want, got []string
		for _, n := range c.want {
			want = append(want, sid(n))
		}
		out := must[*sdk.ListShardsOutput](t)(e.c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String("s"), ShardFilter: c.f, MaxResults: aws.Int32(1)}))
		got = append(got, ids(out.Shards)...)
		for pages := 1; out.NextToken != nil; pages++ {
			if pages > len(want) {
				t.Fatalf("%s: more pages than shards", c.name)
			}
			out = must[*sdk.ListShardsOutput](t)(e.c.ListShards(ctx, &sdk.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(1)}))
			got = append(got, ids(out.Shards)...)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s paginated: got %v, want %v", c.name, got, want)
		}
	}
	if got := list(nil, func(in *sdk.ListShardsInput) { in.ExclusiveStartShardId = aws.String(sid(1)) }); !slices.Equal(got, []string{sid(2), sid(3), sid(4)}) {
		t.Errorf("ExclusiveStartShardId: %v", got)
	}
	_, err := e.c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp}})
	wantErr[*types.InvalidArgumentException](t, err)

	// Lineage as listed.
	m := byID(e.shards(t, "s"))
	if aws.ToString(m[sid(2)].ParentShardId) != sid(0) || aws.ToString(m[sid(4)].ParentShardId) != sid(3) || aws.ToString(m[sid(4)].AdjacentParentShardId) != sid(1) {
		t.Fatalf("lineage: %+v", m)
	}

	// Pagination: NextToken alone continues the listing, filter included.
	var pages [][]string
	out := must[*sdk.ListShardsOutput](t)(e.c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(2)}))
	pages = append(pages, ids(out.Shards))
	for out.NextToken != nil {
		_, err := e.c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String("s"), NextToken: out.NextToken})
		wantErr[*types.InvalidArgumentException](t, err) // AWS: NextToken identifies the stream; StreamName is refused
		out = must[*sdk.ListShardsOutput](t)(e.c.ListShards(ctx, &sdk.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(2)}))
		pages = append(pages, ids(out.Shards))
	}
	if len(pages) != 3 || !slices.Equal(pages[2], []string{sid(4)}) {
		t.Fatalf("pages: %v", pages)
	}
	fl := must[*sdk.ListShardsOutput](t)(e.c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(1), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}}))
	fl2 := must[*sdk.ListShardsOutput](t)(e.c.ListShards(ctx, &sdk.ListShardsInput{NextToken: fl.NextToken}))
	if !slices.Equal(ids(fl.Shards), []string{sid(2)}) || !slices.Equal(ids(fl2.Shards), []string{sid(4)}) || fl2.NextToken != nil {
		t.Fatalf("filtered pages: %v %v", ids(fl.Shards), ids(fl2.Shards))
	}
	_, err = e.c.ListShards(ctx, &sdk.ListShardsInput{NextToken: aws.String("garbage")})
	wantErr[*types.InvalidArgumentException](t, err)

	// Tokens expire after 300 seconds on the emulator clock.
	tok := must[*sdk.ListShardsOutput](t)(e.c.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(1)})).NextToken
	e.clk.Advance(299 * time.Second)
	must[*sdk.ListShardsOutput](t)(e.c.ListShards(ctx, &sdk.ListShardsInput{NextToken: tok}))
	e.clk.Advance(time.Second)
	_, err = e.c.ListShards(ctx, &sdk.ListShardsInput{NextToken: tok})
	wantErr[*types.ExpiredNextTokenException](t, err)

	// Past retention, the closed shards (0 and 1 closed at T1/T2, 3 at T2) vanish.
	e.clk.Set(t0.Add(2*time.Hour + 24*time.Hour + time.Minute))
	if got := list(nil, nil); !slices.Equal(got, []string{sid(2), sid(4)}) {
		t.Fatalf("after retention: %v", got)
	}
	if got := list(&types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}, nil); !slices.Equal(got, []string{sid(2), sid(4)}) {
		t.Fatalf("AT_TRIM_HORIZON after retention: %v", got)
	}
	_, err = e.c.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	wantErr[*types.ResourceNotFoundException](t, err)
}

func TestRetentionPeriod(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 1)
	put := func(data string) string {
		t.Helper()
		out := must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte(data)}))
		return aws.ToString(out.SequenceNumber)
	}
	first := put("old")
	e.clk.Advance(2 * time.Hour)
	put("new")
	e.clk.Advance(23 * time.Hour) // "old" is 25 h old, "new" 23 h
	trim := e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	recs, _ := e.readAll(t, trim, 0)
	if len(recs) != 1 || string(recs[0].Data) != "new" {
		t.Fatalf("after retention: %d records", len(recs))
	}
	// An iterator at a trimmed record starts at the trim horizon.
	at := e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String(first)})
	if recs, _ := e.readAll(t, at, 0); len(recs) != 1 || string(recs[0].Data) != "new" {
		t.Fatalf("AT_SEQUENCE_NUMBER of trimmed record: %d records", len(recs))
	}

	// Growing retention does not bring expired data back.
	must[*sdk.IncreaseStreamRetentionPeriodOutput](t)(e.c.IncreaseStreamRetentionPeriod(ctx, &sdk.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("s"), RetentionPeriodHours: aws.Int32(48)}))
	if recs, _ := e.readAll(t, e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}), 0); len(recs) != 1 {
		t.Fatalf("retention increase resurrected data: %d records", len(recs))
	}
	sum := must[*sdk.DescribeStreamSummaryOutput](t)(e.c.DescribeStreamSummary(ctx, &sdk.DescribeStreamSummaryInput{StreamName: aws.String("s")}))
	if aws.ToInt32(sum.StreamDescriptionSummary.RetentionPeriodHours) != 48 {
		t.Fatalf("retention = %d", aws.ToInt32(sum.StreamDescriptionSummary.RetentionPeriodHours))
	}
	// With 48 h, "new" survives 30 more hours; with 24 h again it would not.
	e.clk.Advance(20 * time.Hour)
	if recs, _ := e.readAll(t, e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}), 0); len(recs) != 1 {
		t.Fatalf("48h retention dropped data: %d records", len(recs))
	}
	must[*sdk.DecreaseStreamRetentionPeriodOutput](t)(e.c.DecreaseStreamRetentionPeriod(ctx, &sdk.DecreaseStreamRetentionPeriodInput{StreamName: aws.String("s"), RetentionPeriodHours: aws.Int32(24)}))
	if recs, _ := e.readAll(t, e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}), 0); len(recs) != 0 {
		t.Fatalf("24h retention kept 43h-old data: %d records", len(recs))
	}

	for _, c := range []struct {
		inc   bool
		hours int32
	}{{true, 10}, {true, 9000}, {false, 30}, {false, 23}} {
		var err error
		if c.inc {
			_, err = e.c.IncreaseStreamRetentionPeriod(ctx, &sdk.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("s"), RetentionPeriodHours: aws.Int32(c.hours)})
		} else {
			_, err = e.c.DecreaseStreamRetentionPeriod(ctx, &sdk.DecreaseStreamRetentionPeriodInput{StreamName: aws.String("s"), RetentionPeriodHours: aws.Int32(c.hours)})
		}
		wantErr[*types.InvalidArgumentException](t, err)
	}
}

// TestTrimBefore stages "parent trimmed before it was read".
func TestTrimBefore(t *testing.T) {
	e := newEnv(t, false)
	e.create(t, "s", 1)
	for i := 0; i < 3; i++ {
		must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("parent")}))
	}
	e.clk.Advance(time.Second)
	must[*sdk.SplitShardOutput](t)(e.c.SplitShard(ctx, &sdk.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String(sid(0)), NewStartingHashKey: aws.String("1000")}))
	child := must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("early-child")}))
	e.clk.Advance(time.Second)
	if err := e.emu.TrimBefore("s", e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.TrimBefore("missing", e.clk.Now()); err == nil {
		t.Fatal("TrimBefore on a missing stream succeeded")
	}
	if got := ids(e.shards(t, "s")); !slices.Equal(got, []string{sid(1), sid(2)}) {
		t.Fatalf("shards after trim: %v", got)
	}
	_, err := e.c.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(sid(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	wantErr[*types.ResourceNotFoundException](t, err)
	must[*sdk.PutRecordOutput](t)(e.c.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("late-child")}))
	recs, _ := e.readAll(t, e.iterator(t, &sdk.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: child.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon}), 0)
	if len(recs) != 1 || string(recs[0].Data) != "late-child" {
		t.Fatalf("child after trim: %d records", len(recs))
	}
}
