package fault

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Target prefixes of the AWS JSON protocols.
const (
	kinesisTargetPrefix  = "Kinesis_20131202."
	dynamodbTargetPrefix = "DynamoDB_20120810."
)

// request is what the injector knows about one AWS call. The body is parsed
// lazily: only a rule that selects on a stream, shard or table needs it, and
// skipping the parse keeps large PutRecords cheap when no such rule exists.
type request struct {
	service, op string
	body        []byte

	parsed   bool
	stream   string
	shards   []string
	tables   []string
	iterator string // GetRecords' ShardIterator
}

func newRequest(r *http.Request, body []byte) *request {
	target := r.Header.Get("X-Amz-Target")
	req := &request{body: body}
	switch {
	case strings.HasPrefix(target, kinesisTargetPrefix):
		req.service, req.op = ServiceKinesis, strings.TrimPrefix(target, kinesisTargetPrefix)
	case strings.HasPrefix(target, dynamodbTargetPrefix):
		req.service, req.op = ServiceDynamoDB, strings.TrimPrefix(target, dynamodbTargetPrefix)
	}
	return req
}

// kinesisBody holds every request field that names a stream or shard.
type kinesisBody struct {
	StreamName           string `json:"StreamName"`
	StreamARN            string `json:"StreamARN"`
	ConsumerARN          string `json:"ConsumerARN"`
	ShardID              string `json:"ShardId"`
	ShardToSplit         string `json:"ShardToSplit"`
	ShardToMerge         string `json:"ShardToMerge"`
	AdjacentShardToMerge string `json:"AdjacentShardToMerge"`
	ShardIterator        string `json:"ShardIterator"`
}

// dynamodbBody holds every request field that names a table.
type dynamodbBody struct {
	TableName     string                     `json:"TableName"`
	RequestItems  map[string]json.RawMessage `json:"RequestItems"`
	TransactItems []map[string]struct {
		TableName string `json:"TableName"`
	} `json:"TransactItems"`
}

// parse fills stream, shards and tables from the body (once). A body that is
// not JSON leaves them empty, so selective rules simply do not match it.
func (q *request) parse(iters *iteratorMap) {
	if q.parsed {
		return
	}
	q.parsed = true
	switch q.service {
	case ServiceKinesis:
		var b kinesisBody
		if json.Unmarshal(q.body, &b) != nil {
			return
		}
		q.stream = b.StreamName
		if q.stream == "" {
			q.stream = streamFromARN(b.StreamARN)
		}
		if q.stream == "" {
			q.stream = streamFromARN(b.ConsumerARN)
		}
		for _, s := range []string{b.ShardID, b.ShardToSplit, b.ShardToMerge, b.AdjacentShardToMerge} {
			if s != "" {
				q.shards = append(q.shards, s)
			}
		}
		q.iterator = b.ShardIterator
		if q.iterator != "" {
			if loc, ok := iters.get(q.iterator); ok {
				if q.stream == "" {
					q.stream = loc.stream
				}
				q.shards = append(q.shards, loc.shard)
			}
		}
	case ServiceDynamoDB:
		var b dynamodbBody
		if json.Unmarshal(q.body, &b) != nil {
			return
		}
		add := func(t string) {
			if t = tableFromName(t); t != "" {
				q.tables = append(q.tables, t)
			}
		}
		add(b.TableName)
		for t := range b.RequestItems {
			add(t)
		}
		for _, item := range b.TransactItems {
			for _, op := range item {
				add(op.TableName)
			}
		}
	}
}

// event describes this request as fired by rule r.
// Events are rare, so the body is always parsed for them: the event names
// the stream, shard and table even when the rule did not select on them.
func (q *request) event(r *installed, now time.Time, iters *iteratorMap) Event {
	q.parse(iters)
	ev := Event{
		Time: now, RuleID: r.id, RuleName: r.rule.Name,
		Service: q.service, Operation: q.op, Action: r.rule.Action,
	}
	if r.rule.Action == Latency {
		ev.Latency = r.rule.Latency
	}
	ev.Stream = q.stream
	if r.rule.Shard != "" {
		ev.Shard = r.rule.Shard
	} else if len(q.shards) > 0 {
		ev.Shard = q.shards[0]
	}
	if r.rule.Table != "" {
		ev.Table = r.rule.Table
	} else if len(q.tables) > 0 {
		ev.Table = q.tables[0]
	}
	return ev
}

// streamFromARN extracts NAME from arn:aws:kinesis:REGION:ACCOUNT:stream/NAME
// (and from a consumer ARN, stream/NAME/consumer/...).
func streamFromARN(arn string) string {
	_, rest, ok := strings.Cut(arn, ":stream/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// tableFromName accepts a table name or a table ARN (DynamoDB takes either).
func tableFromName(name string) string {
	if _, rest, ok := strings.Cut(name, ":table/"); ok && strings.HasPrefix(name, "arn:") {
		t, _, _ := strings.Cut(rest, "/")
		return t
	}
	return name
}
