package conformance

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// arnOf is the stream's ARN, as DescribeStreamSummary reports it.
func (s *kstream) arnOf() string {
	s.t.Helper()
	out, err := s.kc.DescribeStreamSummary(s.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.name)})
	if err != nil {
		s.t.Fatalf("DescribeStreamSummary %s: %v", s.name, err)
	}
	return aws.ToString(out.StreamDescriptionSummary.StreamARN)
}

// testStreamARN names the stream by StreamARN alone in every operation that
// takes it: the answers are those of the same calls by name.
func testStreamARN(t *testing.T, tg target) {
	s := newStream(t, tg, 2)
	arn := aws.String(s.arnOf())
	sum, err := s.kc.DescribeStreamSummary(s.ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: arn})
	if err != nil || aws.ToString(sum.StreamDescriptionSummary.StreamName) != s.name {
		t.Fatalf("DescribeStreamSummary by ARN: %v %+v", err, sum)
	}
	d, err := s.kc.DescribeStream(s.ctx, &kinesis.DescribeStreamInput{StreamARN: arn})
	if err != nil || len(d.StreamDescription.Shards) != 2 {
		t.Fatalf("DescribeStream by ARN: %v", err)
	}
	// ListShards by ARN, one shard a page: the NextToken goes with StreamARN
	// (only StreamName is refused beside a NextToken).
	ls, err := s.kc.ListShards(s.ctx, &kinesis.ListShardsInput{StreamARN: arn, MaxResults: aws.Int32(1)})
	if err != nil || len(ls.Shards) != 1 || ls.NextToken == nil {
		t.Fatalf("ListShards by ARN, MaxResults 1: %v %+v", err, ls)
	}
	if conforms(t, tg, "list-shards-token-arn") {
		ls2, err := s.kc.ListShards(s.ctx, &kinesis.ListShardsInput{StreamARN: arn, NextToken: ls.NextToken})
		if err != nil || len(ls2.Shards) != 1 || aws.ToString(ls2.Shards[0].ShardId) == aws.ToString(ls.Shards[0].ShardId) {
			t.Fatalf("ListShards by ARN with NextToken: %v %+v", err, ls2)
		}
	}

	put, err := s.kc.PutRecord(s.ctx, &kinesis.PutRecordInput{StreamARN: arn, PartitionKey: aws.String("k"), Data: []byte("one")})
	if err != nil {
		t.Fatalf("PutRecord by ARN: %v", err)
	}
	puts, err := s.kc.PutRecords(s.ctx, &kinesis.PutRecordsInput{StreamARN: arn, Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("two")}}})
	if err != nil || aws.ToInt32(puts.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords by ARN: %v", err)
	}
	it, err := s.kc.GetShardIterator(s.ctx, &kinesis.GetShardIteratorInput{StreamARN: arn, ShardId: put.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatalf("GetShardIterator by ARN: %v", err)
	}
	recs, err := s.kc.GetRecords(s.ctx, &kinesis.GetRecordsInput{StreamARN: arn, ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatalf("GetRecords with StreamARN: %v", err)
	}
	if got := datas(recs.Records); strings.Join(got, ",") != "one,two" {
		t.Errorf("GetRecords by ARN read %v, want [one two]", got)
	}

	// A name beside the ARN is accepted when it is the ARN's.
	if _, err := s.kc.DescribeStreamSummary(s.ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: arn, StreamName: aws.String(s.name)}); err != nil {
		t.Errorf("DescribeStreamSummary with matching name and ARN: %v", err)
	}
	if _, err := s.kc.UpdateShardCount(s.ctx, &kinesis.UpdateShardCountInput{StreamARN: arn, TargetShardCount: aws.Int32(4), ScalingType: types.ScalingTypeUniformScaling}); err != nil {
		t.Fatalf("UpdateShardCount by ARN: %v", err)
	}
	s.waitActive()
	if n := len(s.openShards()); n != 4 {
		t.Errorf("after UpdateShardCount 4 by ARN: %d open shards", n)
	}
}

// testStreamARNErrors: an ARN of another account, region or stream names a
// stream that does not exist; a name that disagrees with the ARN is an
// invalid argument.
func testStreamARNErrors(t *testing.T, tg target) {
	s := newStream(t, tg, 1)
	arn := s.arnOf()
	parts := strings.SplitN(arn, ":", 6) // arn aws kinesis REGION ACCOUNT stream/NAME
	otherAccount := strings.Join([]string{parts[0], parts[1], parts[2], parts[3], "999999999999", parts[5]}, ":")
	otherRegion := strings.Join([]string{parts[0], parts[1], parts[2], "ap-southeast-2", parts[4], parts[5]}, ":")
	otherStream := strings.Join([]string{parts[0], parts[1], parts[2], parts[3], parts[4], "stream/" + uniqueName("missing")}, ":")
	var nf *types.ResourceNotFoundException
	for what, a := range map[string]string{"another account": otherAccount, "another region": otherRegion, "a missing stream": otherStream} {
		_, err := s.kc.DescribeStreamSummary(s.ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(a)})
		if !errors.As(err, &nf) {
			t.Errorf("DescribeStreamSummary by the ARN of %s (%s): want ResourceNotFoundException, got %v", what, a, err)
		}
		_, err = s.kc.ListShards(s.ctx, &kinesis.ListShardsInput{StreamARN: aws.String(a)})
		if !errors.As(err, &nf) {
			t.Errorf("ListShards by the ARN of %s: want ResourceNotFoundException, got %v", what, err)
		}
		_, err = s.kc.PutRecord(s.ctx, &kinesis.PutRecordInput{StreamARN: aws.String(a), PartitionKey: aws.String("k"), Data: []byte("x")})
		if !errors.As(err, &nf) {
			t.Errorf("PutRecord by the ARN of %s: want ResourceNotFoundException, got %v", what, err)
		}
	}
	if !conforms(t, tg, "arn-name-mismatch") {
		return
	}
	var ia *types.InvalidArgumentException
	_, err := s.kc.DescribeStreamSummary(s.ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(arn), StreamName: aws.String(s.name + "-other")})
	if !errors.As(err, &ia) {
		t.Errorf("DescribeStreamSummary with a name that disagrees with the ARN: want InvalidArgumentException, got %v", err)
	}
	_, err = s.kc.GetShardIterator(s.ctx, &kinesis.GetShardIteratorInput{StreamARN: aws.String(arn), StreamName: aws.String(s.name + "-other"),
		ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if !errors.As(err, &ia) {
		t.Errorf("GetShardIterator with a name that disagrees with the ARN: want InvalidArgumentException, got %v", err)
	}
}
