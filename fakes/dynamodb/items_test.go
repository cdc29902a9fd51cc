package dynamodb

import (
	"bytes"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

type item = map[string]types.AttributeValue

func TestItemRoundTripAllTypes(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "things", "pk", types.ScalarAttributeTypeS, "", "")
	in := item{
		"pk":    s("k1"),
		"str":   s("héllo \"quoted\"\n"),
		"empty": s(""),
		"num":   n("1.50"),
		"exp":   n("1e2"),
		"neg":   n("-0.0100"),
		"big":   n("12345678901234567890123456789012345678"),
		"bin":   &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"yes":   &types.AttributeValueMemberBOOL{Value: true},
		"nil":   &types.AttributeValueMemberNULL{Value: true},
		"map":   &types.AttributeValueMemberM{Value: item{"a": n("1"), "b": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("x")}}}},
		"list":  &types.AttributeValueMemberL{Value: []types.AttributeValue{n("007"), s("y"), &types.AttributeValueMemberM{Value: item{}}}},
		"ss":    &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"ns":    &types.AttributeValueMemberNS{Value: []string{"1.0", "2E1"}},
		"bs":    &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
	}
	put(t, c, "things", in)
	got := get(t, c, "things", item{"pk": s("k1")})
	if len(got) != len(in) {
		t.Fatalf("got %d attributes, want %d", len(got), len(in))
	}
	checks := map[string]string{"str": "héllo \"quoted\"\n", "empty": "", "num": "1.5", "exp": "100", "neg": "-0.01",
		"big": "12345678901234567890123456789012345678"}
	for k, want := range checks {
		if str(got[k]) != want {
			t.Errorf("%s = %q, want %q", k, str(got[k]), want)
		}
	}
	if b := got["bin"].(*types.AttributeValueMemberB).Value; !bytes.Equal(b, []byte{0, 1, 2, 255}) {
		t.Errorf("bin = %v", b)
	}
	if !got["yes"].(*types.AttributeValueMemberBOOL).Value || !got["nil"].(*types.AttributeValueMemberNULL).Value {
		t.Error("BOOL/NULL lost")
	}
	m := got["map"].(*types.AttributeValueMemberM).Value
	if str(m["a"]) != "1" || str(m["b"].(*types.AttributeValueMemberL).Value[0]) != "x" {
		t.Errorf("map = %v", m)
	}
	l := got["list"].(*types.AttributeValueMemberL).Value
	if len(l) != 3 || str(l[0]) != "7" {
		t.Errorf("list = %v", l)
	}
	ns := got["ns"].(*types.AttributeValueMemberNS).Value
	sort.Strings(ns)
	if strings.Join(ns, ",") != "1,20" {
		t.Errorf("ns = %v", ns)
	}
	if len(got["bs"].(*types.AttributeValueMemberBS).Value) != 2 || len(got["ss"].(*types.AttributeValueMemberSS).Value) != 2 {
		t.Error("sets lost")
	}
	// Projection through GetItem.
	out, err := c.GetItem(ctx(), &dynamodb.GetItemInput{TableName: aws.String("things"), Key: item{"pk": s("k1")},
		ProjectionExpression: aws.String("num, #m.a, #l[1]"), ExpressionAttributeNames: map[string]string{"#m": "map", "#l": "list"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Item) != 3 || str(out.Item["num"]) != "1.5" || len(out.Item["list"].(*types.AttributeValueMemberL).Value) != 1 {
		t.Errorf("projected item %v", out.Item)
	}
	// A missing item has no Item at all.
	out, err = c.GetItem(ctx(), &dynamodb.GetItemInput{TableName: aws.String("things"), Key: item{"pk": s("nope")}})
	if err != nil || out.Item != nil {
		t.Fatalf("missing item: %v %v", out.Item, err)
	}
}

func TestConditionalPutAndTypedErrors(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "locks", "id", types.ScalarAttributeTypeS, "", "")
	in := &dynamodb.PutItemInput{TableName: aws.String("locks"), Item: item{"id": s("a"), "owner": s("w1")},
		ConditionExpression: aws.String("attribute_not_exists(id)")}
	if _, err := c.PutItem(ctx(), in); err != nil {
		t.Fatal(err)
	}
	in.Item = item{"id": s("a"), "owner": s("w2")}
	_, err := c.PutItem(ctx(), in)
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("want ConditionalCheckFailedException, got %v", err)
	}
	if ccf.ErrorMessage() != "The conditional request failed" || ccf.Item != nil {
		t.Errorf("ccf = %q item %v", ccf.ErrorMessage(), ccf.Item)
	}
	in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	_, err = c.PutItem(ctx(), in)
	if !errors.As(err, &ccf) || str(ccf.Item["owner"]) != "w1" {
		t.Fatalf("ccf with ALL_OLD: %v %v", err, ccf)
	}
	if str(get(t, c, "locks", item{"id": s("a")})["owner"]) != "w1" {
		t.Error("failed condition must not write")
	}
	// ALL_OLD return values on a successful overwrite.
	out, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: aws.String("locks"), Item: item{"id": s("a"), "owner": s("w3")},
		ConditionExpression: aws.String("#o = :o"), ExpressionAttributeNames: map[string]string{"#o": "owner"},
		ExpressionAttributeValues: item{":o": s("w1")}, ReturnValues: types.ReturnValueAllOld})
	if err != nil || str(out.Attributes["owner"]) != "w1" {
		t.Fatalf("ALL_OLD: %v %v", out, err)
	}
	_, err = c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: aws.String("locks"), Item: item{"id": s("a")}, ReturnValues: types.ReturnValueAllNew})
	wantValidation(t, err, "ReturnValues can only be ALL_OLD or NONE")
	// Unknown tables are ResourceNotFoundException.
	_, err = c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: aws.String("nosuch"), Item: item{"id": s("a")}})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("want ResourceNotFoundException, got %v", err)
	}
}

func TestUpdateItemReturnValues(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "upd", "pk", types.ScalarAttributeTypeS, "", "")
	put(t, c, "upd", item{"pk": s("k"), "a": n("1"), "b": s("keep"), "m": &types.AttributeValueMemberM{Value: item{"x": n("1"), "y": n("2")}}})
	upd := func(rv types.ReturnValue) item {
		t.Helper()
		out, err := c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: aws.String("upd"), Key: item{"pk": s("k")},
			UpdateExpression:          aws.String("SET a = a + :one, m.x = :v REMOVE gone"),
			ExpressionAttributeValues: item{":one": n("1"), ":v": s("new")}, ReturnValues: rv})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes
	}
	if got := upd(types.ReturnValueNone); got != nil {
		t.Errorf("NONE returned %v", got)
	}
	if got := upd(types.ReturnValueAllOld); str(got["a"]) != "2" || str(got["b"]) != "keep" || len(got) != 4 {
		t.Errorf("ALL_OLD = %v", got)
	}
	if got := upd(types.ReturnValueAllNew); str(got["a"]) != "4" || len(got) != 4 {
		t.Errorf("ALL_NEW = %v", got)
	}
	got := upd(types.ReturnValueUpdatedOld)
	if len(got) != 2 || str(got["a"]) != "4" {
		t.Errorf("UPDATED_OLD = %v", got)
	}
	if m := got["m"].(*types.AttributeValueMemberM).Value; len(m) != 1 || str(m["x"]) != "new" {
		t.Errorf("UPDATED_OLD m = %v", m)
	}
	got = upd(types.ReturnValueUpdatedNew)
	if len(got) != 2 || str(got["a"]) != "6" {
		t.Errorf("UPDATED_NEW = %v", got)
	}
}

func TestUpdateItemSemantics(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "counters", "pk", types.ScalarAttributeTypeS, "sk", types.ScalarAttributeTypeN)
	key := item{"pk": s("c"), "sk": n("1")}
	// UpdateItem creates the item, with its key, when it does not exist.
	out, err := c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: aws.String("counters"), Key: key,
		UpdateExpression:          aws.String("ADD #c :inc SET tags = list_append(if_not_exists(tags, :empty), :tag)"),
		ExpressionAttributeNames:  map[string]string{"#c": "count"},
		ExpressionAttributeValues: item{":inc": n("12345678901234567890123456789012345677"), ":empty": &types.AttributeValueMemberL{}, ":tag": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("t")}}},
		ReturnValues:              types.ReturnValueAllNew})
	if err != nil {
		t.Fatal(err)
	}
	if str(out.Attributes["pk"]) != "c" || str(out.Attributes["sk"]) != "1" || str(out.Attributes["count"]) != "12345678901234567890123456789012345677" {
		t.Fatalf("created item %v", out.Attributes)
	}
	_, err = c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: aws.String("counters"), Key: key,
		UpdateExpression: aws.String("ADD #c :inc"), ExpressionAttributeNames: map[string]string{"#c": "count"},
		ExpressionAttributeValues: item{":inc": n("1")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := str(get(t, c, "counters", key)["count"]); got != "12345678901234567890123456789012345678" {
		t.Errorf("38-digit counter = %s (float64 would have lost the last digits)", got)
	}
	// Overflowing 38 digits is a ValidationException, and nothing changes.
	_, err = c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: aws.String("counters"), Key: key,
		UpdateExpression: aws.String("SET #c = #c + :inc"), ExpressionAttributeNames: map[string]string{"#c": "count"},
		ExpressionAttributeValues: item{":inc": n("0.5")}})
	wantValidation(t, err, "Attempting to store more than 38 significant digits in a Number")
	_, err = c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: aws.String("counters"), Key: key,
		UpdateExpression: aws.String("SET sk = :v"), ExpressionAttributeValues: item{":v": n("2")}})
	wantValidation(t, err, "Cannot update attribute sk. This attribute is part of the key")
	_, err = c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: aws.String("counters"), Key: key,
		UpdateExpression: aws.String("SET x = nothere + :v"), ExpressionAttributeValues: item{":v": n("2")}})
	wantValidation(t, err, "The provided expression refers to an attribute that does not exist in the item")
	_, err = c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: aws.String("counters"), Key: key,
		UpdateExpression: aws.String("SET q.r = :v"), ExpressionAttributeValues: item{":v": n("2")}})
	wantValidation(t, err, "The document path provided in the update expression is invalid for update")
	// A failed condition carries the old item when asked.
	_, err = c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: aws.String("counters"), Key: key,
		UpdateExpression: aws.String("SET x = :v"), ConditionExpression: aws.String("attribute_not_exists(pk)"),
		ExpressionAttributeValues:           item{":v": n("2")},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || str(ccf.Item["pk"]) != "c" {
		t.Fatalf("ccf: %v", err)
	}
	// UpdateItem without an UpdateExpression just makes sure the item exists.
	if _, err := c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: aws.String("counters"), Key: item{"pk": s("bare"), "sk": n("0")}}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, c, "counters", item{"pk": s("bare"), "sk": n("0")}); len(got) != 2 {
		t.Errorf("bare item = %v", got)
	}
}

func TestDeleteItem(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "del", "pk", types.ScalarAttributeTypeN, "", "")
	put(t, c, "del", item{"pk": n("1"), "v": s("x")})
	_, err := c.DeleteItem(ctx(), &dynamodb.DeleteItemInput{TableName: aws.String("del"), Key: item{"pk": n("1.0")},
		ConditionExpression: aws.String("v = :y"), ExpressionAttributeValues: item{":y": s("y")}})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("want ccf: %v", err)
	}
	out, err := c.DeleteItem(ctx(), &dynamodb.DeleteItemInput{TableName: aws.String("del"), Key: item{"pk": n("1.0")},
		ConditionExpression: aws.String("v = :x"), ExpressionAttributeValues: item{":x": s("x")}, ReturnValues: types.ReturnValueAllOld})
	if err != nil || str(out.Attributes["v"]) != "x" {
		t.Fatalf("delete: %v %v", out, err)
	}
	if got := get(t, c, "del", item{"pk": n("1")}); got != nil {
		t.Errorf("item still there: %v", got)
	}
	// Deleting a missing item succeeds and returns nothing.
	out, err = c.DeleteItem(ctx(), &dynamodb.DeleteItemInput{TableName: aws.String("del"), Key: item{"pk": n("1")}, ReturnValues: types.ReturnValueAllOld})
	if err != nil || out.Attributes != nil {
		t.Fatalf("delete missing: %v %v", out, err)
	}
}

func TestValidationErrorsThroughSDK(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "val", "pk", types.ScalarAttributeTypeS, "", "")
	key := item{"pk": s("k")}
	tbl := aws.String("val")
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"syntax", func() error {
			_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: tbl, Item: key, ConditionExpression: aws.String("a AND AND b")})
			return err
		}, `Invalid ConditionExpression: Syntax error; token: "AND", near: "a AND AND"`},
		{"unused value", func() error {
			_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: tbl, Item: key, ConditionExpression: aws.String("a = :a"),
				ExpressionAttributeValues: item{":a": n("1"), ":x": n("2")}})
			return err
		}, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"},
		{"unused name", func() error {
			_, err := c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: tbl, Key: key, UpdateExpression: aws.String("SET a = :a"),
				ExpressionAttributeNames: map[string]string{"#n": "n"}, ExpressionAttributeValues: item{":a": n("1")}})
			return err
		}, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#n}"},
		{"undefined value", func() error {
			_, err := c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: tbl, Key: key, UpdateExpression: aws.String("SET a = :b"),
				ExpressionAttributeValues: item{":a": n("1")}})
			return err
		}, "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :b"},
		{"reserved word", func() error {
			_, err := c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: tbl, Key: key, UpdateExpression: aws.String("SET status = :a"),
				ExpressionAttributeValues: item{":a": n("1")}})
			return err
		}, "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status"},
		{"values without expression", func() error {
			_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: tbl, Item: key, ExpressionAttributeValues: item{":a": n("1")}})
			return err
		}, "ExpressionAttributeValues can only be specified when using expressions"},
		{"empty values", func() error {
			_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: tbl, Item: key, ConditionExpression: aws.String("attribute_exists(a)"),
				ExpressionAttributeValues: item{}})
			return err
		}, "ExpressionAttributeValues must not be empty"},
		{"bad value", func() error {
			_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: tbl, Item: key, ConditionExpression: aws.String("a = :a"),
				ExpressionAttributeValues: item{":a": &types.AttributeValueMemberSS{Value: []string{}}}})
			return err
		}, "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set  may not be empty for key :a"},
		{"empty expression", func() error {
			_, err := c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: tbl, Key: key, UpdateExpression: aws.String("")})
			return err
		}, "Invalid UpdateExpression: The expression can not be empty;"},
		{"duplicate set", func() error {
			_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: tbl, Item: item{"pk": s("k"), "x": &types.AttributeValueMemberSS{Value: []string{"a", "a"}}}})
			return err
		}, "Input collection [a, a] contains duplicates."},
		{"bad number", func() error {
			_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: tbl, Item: item{"pk": s("k"), "x": n("1e200")}})
			return err
		}, "Number overflow. Attempting to store a number with magnitude larger than supported range"},
		{"missing key", func() error {
			_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: tbl, Item: item{"x": s("k")}})
			return err
		}, "One or more parameter values were invalid: Missing the key pk in the item"},
		{"key type", func() error {
			_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: tbl, Item: item{"pk": n("1")}})
			return err
		}, "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"},
		{"empty key", func() error {
			_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: tbl, Item: item{"pk": s("")}})
			return err
		}, "The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"},
		{"key schema mismatch", func() error {
			_, err := c.GetItem(ctx(), &dynamodb.GetItemInput{TableName: tbl, Key: item{"pk": s("k"), "extra": s("x")}})
			return err
		}, "The provided key element does not match the schema"},
		{"projection overlap", func() error {
			_, err := c.GetItem(ctx(), &dynamodb.GetItemInput{TableName: tbl, Key: key, ProjectionExpression: aws.String("a, a.b")})
			return err
		}, "Invalid ProjectionExpression: Two document paths overlap with each other"},
		{"legacy parameter", func() error {
			_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: tbl, Item: key,
				Expected: map[string]types.ExpectedAttributeValue{"a": {Exists: aws.Bool(false)}}})
			return err
		}, "Legacy parameters are not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantValidation(t, tc.call(), tc.want) })
	}
}

func TestItemSizeLimit(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "big", "pk", types.ScalarAttributeTypeS, "", "")
	// pk(2)+"k"(1) + "v"(1) + value: exactly 400 KB fits, one byte more does not.
	fits := strings.Repeat("x", maxItemBytes-4)
	put(t, c, "big", item{"pk": s("k"), "v": s(fits)})
	_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: aws.String("big"), Item: item{"pk": s("k"), "v": s(fits + "x")}})
	wantValidation(t, err, "Item size has exceeded the maximum allowed size")
	_, err = c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: aws.String("big"), Key: item{"pk": s("k")},
		UpdateExpression: aws.String("SET w = :w"), ExpressionAttributeValues: item{":w": s("yy")}})
	wantValidation(t, err, "Item size to update has exceeded the maximum allowed size")
}
