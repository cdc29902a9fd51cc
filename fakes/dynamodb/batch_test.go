package dynamodb

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestBatchWriteAndGet(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "left", "pk", types.ScalarAttributeTypeS, "", "")
	createTable(t, c, "right", "id", types.ScalarAttributeTypeN, "sk", types.ScalarAttributeTypeS)
	put(t, c, "left", item{"pk": s("doomed")})
	var lefts []types.WriteRequest
	for i := 0; i < 20; i++ {
		lefts = append(lefts, types.WriteRequest{PutRequest: &types.PutRequest{Item: item{"pk": s(fmt.Sprint("l", i)), "v": n(fmt.Sprint(i))}}})
	}
	lefts = append(lefts, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: item{"pk": s("doomed")}}})
	out, err := c.BatchWriteItem(ctx(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
		"left":  lefts,
		"right": {{PutRequest: &types.PutRequest{Item: item{"id": n("1"), "sk": s("a"), "x": s("y")}}}},
	}, ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.UnprocessedItems) != 0 || len(out.ConsumedCapacity) != 2 {
		t.Fatalf("unprocessed %v capacity %v", out.UnprocessedItems, out.ConsumedCapacity)
	}
	if get(t, c, "left", item{"pk": s("doomed")}) != nil {
		t.Error("DeleteRequest ignored")
	}
	keys := []map[string]types.AttributeValue{}
	for i := 0; i < 20; i += 2 {
		keys = append(keys, item{"pk": s(fmt.Sprint("l", i))})
	}
	keys = append(keys, item{"pk": s("absent")})
	got, err := c.BatchGetItem(ctx(), &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		"left":  {Keys: keys, ProjectionExpression: aws.String("#v"), ExpressionAttributeNames: map[string]string{"#v": "v"}},
		"right": {Keys: []map[string]types.AttributeValue{{"id": n("1.0"), "sk": s("a")}}, ConsistentRead: aws.Bool(true)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, it := range got.Responses["left"] {
		if len(it) != 1 {
			t.Fatalf("projection ignored: %v", it)
		}
		vs = append(vs, str(it["v"]))
	}
	sort.Strings(vs)
	if strings.Join(vs, ",") != "0,10,12,14,16,18,2,4,6,8" || len(got.Responses["right"]) != 1 || len(got.UnprocessedKeys) != 0 {
		t.Fatalf("BatchGetItem: left %v right %v unprocessed %v", vs, got.Responses["right"], got.UnprocessedKeys)
	}
}

func TestBatchErrors(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "bt1", "pk", types.ScalarAttributeTypeS, "", "")
	var tooMany []types.WriteRequest
	for i := 0; i < 26; i++ {
		tooMany = append(tooMany, types.WriteRequest{PutRequest: &types.PutRequest{Item: item{"pk": s(fmt.Sprint(i))}}})
	}
	_, err := c.BatchWriteItem(ctx(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bt1": tooMany}})
	wantValidation(t, err, "Member must have length less than or equal to 25")
	dup := []types.WriteRequest{
		{PutRequest: &types.PutRequest{Item: item{"pk": s("x")}}},
		{DeleteRequest: &types.DeleteRequest{Key: item{"pk": s("x")}}},
	}
	_, err = c.BatchWriteItem(ctx(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bt1": dup}})
	wantValidation(t, err, "Provided list of item keys contains duplicates")
	// A bad item anywhere rejects the whole batch before anything is written.
	bad := []types.WriteRequest{
		{PutRequest: &types.PutRequest{Item: item{"pk": s("fine")}}},
		{PutRequest: &types.PutRequest{Item: item{"nokey": s("x")}}},
	}
	_, err = c.BatchWriteItem(ctx(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bt1": bad}})
	wantValidation(t, err, "Missing the key pk in the item")
	if get(t, c, "bt1", item{"pk": s("fine")}) != nil {
		t.Error("partial batch written")
	}
	_, err = c.BatchWriteItem(ctx(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"nosuch": dup[:1]}})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("unknown table: %v", err)
	}
	var keys []map[string]types.AttributeValue
	for i := 0; i < 101; i++ {
		keys = append(keys, item{"pk": s(fmt.Sprint(i))})
	}
	_, err = c.BatchGetItem(ctx(), &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"bt1": {Keys: keys}}})
	wantValidation(t, err, "Too many items requested for the BatchGetItem call")
	_, err = c.BatchGetItem(ctx(), &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"bt1": {Keys: []map[string]types.AttributeValue{{"pk": s("a")}, {"pk": s("a")}}}}})
	wantValidation(t, err, "Provided list of item keys contains duplicates")
}

func TestBatchGetUnprocessedPast16MB(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "huge", "pk", types.ScalarAttributeTypeN, "", "")
	blob := strings.Repeat("b", 390*1024)
	var keys []map[string]types.AttributeValue
	for i := 0; i < 45; i++ {
		put(t, c, "huge", item{"pk": n(fmt.Sprint(i)), "blob": s(blob)})
		keys = append(keys, item{"pk": n(fmt.Sprint(i))})
	}
	got := 0
	req := map[string]types.KeysAndAttributes{"huge": {Keys: keys}}
	for rounds := 0; len(req) > 0; rounds++ {
		if rounds > 3 {
			t.Fatal("unprocessed keys never drained")
		}
		out, err := c.BatchGetItem(ctx(), &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			t.Fatal(err)
		}
		if rounds == 0 && len(out.UnprocessedKeys) == 0 {
			t.Fatal("17 MB answered in one response; want UnprocessedKeys past 16 MB")
		}
		got += len(out.Responses["huge"])
		req = out.UnprocessedKeys
	}
	if got != 45 {
		t.Fatalf("got %d items, want 45", got)
	}
}
