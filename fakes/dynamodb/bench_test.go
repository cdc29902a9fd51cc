package dynamodb

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BenchmarkConditionalUpdateItem measures a KCL-style lease renewal — a
// compare-and-set UpdateItem — end to end through the real SDK client and
// HTTP, so the figure includes SDK serialisation, signing and the CRC check.
func BenchmarkConditionalUpdateItem(b *testing.B) {
	c, _ := newClient(b)
	createTable(b, c, "bench", "leaseKey", types.ScalarAttributeTypeS, "", "")
	put(b, c, "bench", item{"leaseKey": s("shard-0"), "leaseCounter": n("0"), "leaseOwner": s("w1")})
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String("bench"),
		Key:                       item{"leaseKey": s("shard-0")},
		UpdateExpression:          aws.String("SET leaseCounter = leaseCounter + :one"),
		ConditionExpression:       aws.String("attribute_exists(leaseKey) AND leaseOwner = :owner"),
		ExpressionAttributeValues: item{":one": n("1"), ":owner": s("w1")},
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.UpdateItem(ctx(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConditionalUpdateItemHandler is the same request straight into
// the handler, without the SDK and network: the emulator's own cost.
func BenchmarkConditionalUpdateItemHandler(b *testing.B) {
	e := New()
	rawCallB(b, e, "DynamoDB_20120810.CreateTable",
		`{"TableName":"bench","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"leaseKey","AttributeType":"S"}],"KeySchema":[{"AttributeName":"leaseKey","KeyType":"HASH"}]}`)
	rawCallB(b, e, "DynamoDB_20120810.PutItem",
		`{"TableName":"bench","Item":{"leaseKey":{"S":"shard-0"},"leaseCounter":{"N":"0"},"leaseOwner":{"S":"w1"}}}`)
	body := `{"TableName":"bench","Key":{"leaseKey":{"S":"shard-0"}},"UpdateExpression":"SET leaseCounter = leaseCounter + :one",` +
		`"ConditionExpression":"attribute_exists(leaseKey) AND leaseOwner = :owner","ExpressionAttributeValues":{":one":{"N":"1"},":owner":{"S":"w1"}}}`
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rawCallB(b, e, "DynamoDB_20120810.UpdateItem", body)
	}
}
