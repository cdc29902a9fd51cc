package conformance

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// TestDynamoDB runs every DynamoDB case against the in-process emulator and,
// when installed, dynalite.
func TestDynamoDB(t *testing.T) {
	forEachTarget(t, Dynalite, map[string]func(*testing.T, target){
		"TableLifecycle":    testTableLifecycle,
		"ItemCRUD":          testItemCRUD,
		"ConditionLanguage": testConditionLanguage,
		"UpdateExpressions": testUpdateExpressions,
		"Numbers":           testNumbers,
		"Query":             testQuery,
		"Scan":              testScan,
		"Batch":             testBatch,
		"Validation":        testValidation,
		"ConcurrentWrites":  testConcurrentWrites,
		"Transactions":      testTransactions,
	})
}

func testTableLifecycle(t *testing.T, tg target) {
	b := tg.backend(t)
	d := &dtable{t: t, ctx: ctxT(t), b: b, dc: dynamoClient(b), name: uniqueName("life")}
	created := d.create(types.ScalarAttributeTypeN)
	if td := created.TableDescription; td == nil || aws.ToString(td.TableName) != d.name ||
		(td.TableStatus != types.TableStatusCreating && td.TableStatus != types.TableStatusActive) {
		t.Errorf("CreateTable answer: %+v", created.TableDescription)
	}
	out, err := d.dc.DescribeTable(d.ctx, &dynamodb.DescribeTableInput{TableName: aws.String(d.name)})
	if err != nil {
		t.Fatal(err)
	}
	td := out.Table
	if td.TableStatus != types.TableStatusActive || aws.ToInt64(td.ItemCount) != 0 || td.CreationDateTime == nil {
		t.Errorf("DescribeTable: status %s items %d created %v", td.TableStatus, aws.ToInt64(td.ItemCount), td.CreationDateTime)
	}
	if arn := aws.ToString(td.TableArn); !strings.HasPrefix(arn, "arn:aws:dynamodb:") || !strings.HasSuffix(arn, ":table/"+d.name) {
		t.Errorf("TableArn %q", arn)
	}
	ks := map[string]types.KeyType{}
	for _, k := range td.KeySchema {
		ks[aws.ToString(k.AttributeName)] = k.KeyType
	}
	if !reflect.DeepEqual(ks, map[string]types.KeyType{"pk": types.KeyTypeHash, "sk": types.KeyTypeRange}) {
		t.Errorf("KeySchema %v", ks)
	}
	if len(td.AttributeDefinitions) != 2 {
		t.Errorf("AttributeDefinitions %v", td.AttributeDefinitions)
	}
	if td.BillingModeSummary == nil || td.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Logf("%s: DescribeTable.BillingModeSummary = %+v (AWS reports PAY_PER_REQUEST)", tg.impl, td.BillingModeSummary)
	}

	_, err = d.dc.CreateTable(d.ctx, &dynamodb.CreateTableInput{TableName: aws.String(d.name), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}}})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Errorf("CreateTable of an existing table: want ResourceInUseException, got %v", err)
	}
	_, err = d.dc.CreateTable(d.ctx, &dynamodb.CreateTableInput{TableName: aws.String(uniqueName("bad")), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("other"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}}})
	wantCode(t, "CreateTable with a key not in AttributeDefinitions", err, "ValidationException")

	// ListTables pages by ExclusiveStartTableName, in name order.
	mine := map[string]bool{d.name: true}
	for range 2 {
		o := &dtable{t: t, ctx: d.ctx, b: b, dc: d.dc, name: uniqueName("life")}
		o.create("")
		mine[o.name] = true
	}
	var names []string
	in := &dynamodb.ListTablesInput{Limit: aws.Int32(1)}
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("ListTables: no end")
		}
		lo, err := d.dc.ListTables(d.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(lo.TableNames) > 1 {
			t.Fatalf("Limit 1 returned %d names", len(lo.TableNames))
		}
		names = append(names, lo.TableNames...)
		if lo.LastEvaluatedTableName == nil {
			break
		}
		in = &dynamodb.ListTablesInput{Limit: aws.Int32(1), ExclusiveStartTableName: lo.LastEvaluatedTableName}
	}
	for i := 1; i < len(names); i++ {
		if names[i] <= names[i-1] {
			t.Errorf("ListTables not in name order: %q after %q", names[i], names[i-1])
		}
	}
	found := 0
	for _, n := range names {
		if mine[n] {
			found++
		}
	}
	if found != len(mine) {
		t.Errorf("ListTables pages hold %d of our %d tables: %v", found, len(mine), names)
	}

	if _, err := d.dc.DeleteTable(d.ctx, &dynamodb.DeleteTableInput{TableName: aws.String(d.name)}); err != nil {
		t.Fatalf("DeleteTable: %v", err)
	}
	eventually(t, "deleted table to disappear", func() (bool, error) {
		_, err := d.dc.DescribeTable(d.ctx, &dynamodb.DescribeTableInput{TableName: aws.String(d.name)})
		var nf *types.ResourceNotFoundException
		return errors.As(err, &nf), err
	})
	_, err = d.dc.GetItem(d.ctx, &dynamodb.GetItemInput{TableName: aws.String(d.name), Key: item{"pk": sv("x"), "sk": nv("1")}})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("GetItem on a deleted table: want ResourceNotFoundException, got %v", err)
	}
	_, err = d.dc.DeleteTable(d.ctx, &dynamodb.DeleteTableInput{TableName: aws.String(d.name)})
	if !errors.As(err, &nf) {
		t.Errorf("DeleteTable of a missing table: want ResourceNotFoundException, got %v", err)
	}
}

func testItemCRUD(t *testing.T, tg target) {
	d := newTable(t, tg, "")
	full := item{
		"pk": sv("a"), "s": sv("text"), "n": nv("42"), "b": bv([]byte{0, 1, 2}), "t": boolv(true), "z": nullv(),
		"l":  lv(sv("first"), nv("2"), mv(item{"in": sv("list")})),
		"m":  mv(item{"child": mv(item{"deep": sv("value"), "other": nv("1")}), "flat": sv("f")}),
		"ss": ssv("x", "y"), "ns": nsv("1", "2.5"), "bs": bsv([]byte("p"), []byte("q")),
	}
	d.put(full)
	wantItem(t, "GetItem after PutItem", d.get(item{"pk": sv("a")}), full)

	pout, err := d.dc.GetItem(d.ctx, &dynamodb.GetItemInput{TableName: aws.String(d.name), Key: item{"pk": sv("a")},
		ProjectionExpression:     aws.String("#s, m.child.deep, l[2].#in, nothere"),
		ExpressionAttributeNames: map[string]string{"#s": "s", "#in": "in"}})
	if err != nil {
		t.Fatal(err)
	}
	wantItem(t, "GetItem with ProjectionExpression", pout.Item, item{"s": sv("text"),
		"m": mv(item{"child": mv(item{"deep": sv("value")})}), "l": lv(mv(item{"in": sv("list")}))})

	if got := d.get(item{"pk": sv("nope")}); got != nil {
		t.Errorf("GetItem of a missing key: %v, want no item", plainItem(got))
	}

	// PutItem ReturnValues ALL_OLD: nothing for a new item, the old item on replace.
	o, err := d.dc.PutItem(d.ctx, &dynamodb.PutItemInput{TableName: aws.String(d.name), Item: item{"pk": sv("b"), "v": nv("1")}, ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		t.Fatal(err)
	}
	wantItem(t, "PutItem ALL_OLD of a new item", o.Attributes, nil)
	o, err = d.dc.PutItem(d.ctx, &dynamodb.PutItemInput{TableName: aws.String(d.name), Item: item{"pk": sv("b"), "v": nv("2")}, ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		t.Fatal(err)
	}
	wantItem(t, "PutItem ALL_OLD on replace", o.Attributes, item{"pk": sv("b"), "v": nv("1")})
	_, err = d.dc.PutItem(d.ctx, &dynamodb.PutItemInput{TableName: aws.String(d.name), Item: item{"pk": sv("b")}, ReturnValues: types.ReturnValueAllNew})
	wantCode(t, "PutItem with ReturnValues ALL_NEW (only NONE and ALL_OLD are allowed)", err, "ValidationException")

	// Conditional put: attribute_not_exists guards creation.
	_, err = d.dc.PutItem(d.ctx, &dynamodb.PutItemInput{TableName: aws.String(d.name), Item: item{"pk": sv("b"), "v": nv("3")},
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if !isCCF(err) {
		t.Errorf("PutItem attribute_not_exists on an existing item: want ConditionalCheckFailedException, got %v", err)
	}
	wantItem(t, "item after a failed conditional put", d.get(item{"pk": sv("b")}), item{"pk": sv("b"), "v": nv("2")})

	// Conditional delete.
	_, err = d.dc.DeleteItem(d.ctx, &dynamodb.DeleteItemInput{TableName: aws.String(d.name), Key: item{"pk": sv("b")},
		ConditionExpression: aws.String("v = :one"), ExpressionAttributeValues: item{":one": nv("1")}})
	if !isCCF(err) {
		t.Errorf("DeleteItem with a false condition: want ConditionalCheckFailedException, got %v", err)
	}
	do, err := d.dc.DeleteItem(d.ctx, &dynamodb.DeleteItemInput{TableName: aws.String(d.name), Key: item{"pk": sv("b")},
		ConditionExpression: aws.String("v = :two"), ExpressionAttributeValues: item{":two": nv("2")}, ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		t.Fatalf("DeleteItem with a true condition: %v", err)
	}
	wantItem(t, "DeleteItem ALL_OLD", do.Attributes, item{"pk": sv("b"), "v": nv("2")})
	if got := d.get(item{"pk": sv("b")}); got != nil {
		t.Errorf("item still there after DeleteItem: %v", plainItem(got))
	}
	if _, err := d.dc.DeleteItem(d.ctx, &dynamodb.DeleteItemInput{TableName: aws.String(d.name), Key: item{"pk": sv("b")}}); err != nil {
		t.Errorf("DeleteItem of a missing item must succeed: %v", err)
	}
}

func testConditionLanguage(t *testing.T, tg target) {
	d := newTable(t, tg, "")
	d.put(item{
		"pk": sv("c"), "n": nv("5"), "s": sv("hello world"),
		"l":  lv(nv("1"), sv("two"), mv(item{"x": nv("1")})),
		"m":  mv(item{"a": mv(item{"b": sv("deep")}), "e": mv(item{})}),
		"ss": ssv("a", "b"), "ns": nsv("1", "2"), "t": boolv(true), "nul": nullv(), "status": sv("on"),
	})
	values := item{
		":one": nv("1"), ":two": nv("2"), ":three": nv("3"), ":five": nv("5"), ":six": nv("6"), ":ten": nv("10"), ":eleven": nv("11"),
		":z": sv("z"), ":hel": sv("hel"), ":wor": sv("wor"), ":a": sv("a"), ":two_s": sv("two"), ":on": sv("on"),
		":N": sv("N"), ":SS": sv("SS"), ":NULL": sv("NULL"), ":L": sv("L"), ":M": sv("M"), ":BOOL": sv("BOOL"), ":true": boolv(true),
	}
	names := map[string]string{"#n": "n", "#st": "status", "#dot": "m.a"}
	cases := []struct {
		expr string
		want bool
	}{
		{"n = :five", true}, {"n <> :five", false}, {"n < :six", true}, {"n <= :five", true},
		{"n > :five", false}, {"n >= :six", false}, {"s < :z", true}, {"s > :z", false},
		{"n BETWEEN :one AND :five", true}, {"n BETWEEN :six AND :ten", false},
		{"n IN (:one, :five)", true}, {"n IN (:one, :six)", false}, {"s IN (:hel, :z)", false},
		{"n = :five AND s = :z", false}, {"n = :five OR s = :z", true},
		{"NOT n = :five", false}, {"NOT (n = :one OR n = :six)", true},
		// AND binds tighter than OR, NOT tighter than AND.
		{"n = :one AND s = :z OR n = :five", true}, {"n = :five OR n = :one AND s = :z", true},
		{"(n = :five OR n = :one) AND s = :z", false}, {"NOT n = :one AND n = :five", true},
		{"attribute_exists(m.a.b)", true}, {"attribute_exists(m.a.c)", false}, {"attribute_not_exists(zz)", true},
		{"attribute_exists(l[2].x)", true}, {"attribute_exists(l[5])", false}, {"attribute_not_exists(n)", false},
		{"attribute_type(n, :N)", true}, {"attribute_type(ss, :SS)", true}, {"attribute_type(nul, :NULL)", true},
		{"attribute_type(m, :L)", false}, {"attribute_type(m.e, :M)", true}, {"attribute_type(t, :BOOL)", true},
		{"begins_with(s, :hel)", true}, {"begins_with(s, :z)", false},
		{"contains(s, :wor)", true}, {"contains(ss, :a)", true}, {"contains(ss, :z)", false},
		{"contains(l, :two_s)", true}, {"contains(ns, :one)", true}, {"contains(ns, :three)", false},
		{"size(s) = :eleven", true}, {"size(l) = :three", true}, {"size(m) > :one", true}, {"size(ss) = :two", true},
		{"n < size(s)", true}, {"size(m.e) = :one", false},
		{"#n = :five", true}, {"#st = :on", true}, {"#dot = :five", false}, {"t = :true", true},
		{"n = :hel", false}, {"zz = :five", false}, {"l[1] = :two_s", true}, {"m.a.b = :z", false},
	}
	for _, c := range cases {
		vs, ns := exprArgs(values, names, c.expr)
		if vs == nil {
			vs = item{}
		}
		vs[":touch"] = nv("1")
		_, err := d.dc.UpdateItem(d.ctx, &dynamodb.UpdateItemInput{TableName: aws.String(d.name), Key: item{"pk": sv("c")},
			UpdateExpression: aws.String("SET touched = :touch"), ConditionExpression: aws.String(c.expr),
			ExpressionAttributeValues: vs, ExpressionAttributeNames: ns})
		switch {
		case err == nil && !c.want:
			t.Errorf("condition %q held, want false", c.expr)
		case err != nil && c.want:
			t.Errorf("condition %q: want true, got %v", c.expr, err)
		case err != nil && !isCCF(err):
			t.Errorf("condition %q: want ConditionalCheckFailedException, got %v", c.expr, err)
		}
	}
}

func testUpdateExpressions(t *testing.T, tg target) {
	d := newTable(t, tg, "")
	key := item{"pk": sv("u")}
	d.put(item{"pk": sv("u"), "a": nv("10"), "b": nv("3"), "l": lv(nv("1"), nv("2")),
		"m": mv(item{"x": mv(item{"y": nv("1")})}), "ss": ssv("a", "b"), "gone": sv("x"), "keep": sv("k")})
	update := func(expr string, rv types.ReturnValue, values item, names map[string]string) (item, error) {
		t.Helper()
		out, err := d.dc.UpdateItem(d.ctx, &dynamodb.UpdateItemInput{TableName: aws.String(d.name), Key: key,
			UpdateExpression: aws.String(expr), ExpressionAttributeValues: values, ExpressionAttributeNames: names, ReturnValues: rv})
		if err != nil {
			return nil, err
		}
		return out.Attributes, nil
	}
	mustUpdate := func(expr string, rv types.ReturnValue, values item) item {
		t.Helper()
		got, err := update(expr, rv, values, nil)
		if err != nil {
			t.Fatalf("UpdateItem %q: %v", expr, err)
		}
		return got
	}

	// Every operand reads the item as it was before the update (a2 copies the old a).
	got := mustUpdate("SET a = a + :two, b = b - :one, c = if_not_exists(c, :zero), a2 = if_not_exists(a, :zero), "+
		"l = list_append(l, :l34), m.x.z = :str, m.x.y = m.x.y + :one REMOVE gone ADD cnt :five, ss2 :ssc DELETE ss :ssa",
		types.ReturnValueAllNew, item{":two": nv("2"), ":one": nv("1"), ":zero": nv("0"), ":l34": lv(nv("3"), nv("4")),
			":str": sv("s"), ":five": nv("5"), ":ssc": ssv("c"), ":ssa": ssv("a")})
	wantItem(t, "SET/REMOVE/ADD/DELETE with ALL_NEW", got, item{"pk": sv("u"), "a": nv("12"), "b": nv("2"), "c": nv("0"), "a2": nv("10"),
		"l": lv(nv("1"), nv("2"), nv("3"), nv("4")), "m": mv(item{"x": mv(item{"y": nv("2"), "z": sv("s")})}),
		"ss": ssv("b"), "ss2": ssv("c"), "keep": sv("k"), "cnt": nv("5")})

	got = mustUpdate("SET l = list_append(:l0, l)", types.ReturnValueUpdatedNew, item{":l0": lv(nv("0"))})
	wantItem(t, "list_append prepend with UPDATED_NEW", got, item{"l": lv(nv("0"), nv("1"), nv("2"), nv("3"), nv("4"))})

	got = mustUpdate("SET a = :a, keep = :k", types.ReturnValueUpdatedOld, item{":a": nv("100"), ":k": sv("k2")})
	wantItem(t, "UPDATED_OLD", got, item{"a": nv("12"), "keep": sv("k")})

	// Nested paths in UPDATED_* return only the touched paths.
	got = mustUpdate("SET m.x.y = :nine", types.ReturnValueUpdatedNew, item{":nine": nv("9")})
	wantItem(t, "UPDATED_NEW of a nested path", got, item{"m": mv(item{"x": mv(item{"y": nv("9")})})})

	before := d.get(key)
	got = mustUpdate("REMOVE l[0], m.x.z", types.ReturnValueAllOld, nil)
	wantItem(t, "REMOVE with ALL_OLD", got, before)
	after := d.get(key)
	wantItem(t, "list and map after REMOVE l[0], m.x.z", item{"l": after["l"], "m": after["m"]},
		item{"l": lv(nv("1"), nv("2"), nv("3"), nv("4")), "m": mv(item{"x": mv(item{"y": nv("9")})})})

	got = mustUpdate("ADD a :neg, ss :ssc DELETE ss2 :ssx", types.ReturnValueUpdatedOld, item{":neg": nv("-3"), ":ssc": ssv("c", "d"), ":ssx": ssv("x")})
	wantItem(t, "ADD a negative number, ADD to a set, DELETE a missing member, UPDATED_OLD", got, item{"a": nv("100"), "ss": ssv("b"), "ss2": ssv("c")})

	// Deleting a set's last members removes the attribute (DynamoDB has no empty sets).
	got = mustUpdate("DELETE ss :ssbcd", types.ReturnValueAllNew, item{":ssbcd": ssv("b", "c", "d")})
	if _, ok := got["ss"]; ok {
		t.Errorf("empty set kept: %v", plain(got["ss"]))
	}
	if a := plain(got["a"]); a != "N:97" {
		t.Errorf("a after ADD -3: %v, want 97", a)
	}
	// SET at an index past the end of a list appends.
	mustUpdate("SET l[10] = :x", types.ReturnValueNone, item{":x": sv("end")})
	if l := d.get(key)["l"]; !reflect.DeepEqual(plain(l), plain(lv(nv("1"), nv("2"), nv("3"), nv("4"), sv("end")))) {
		t.Errorf("SET l[10] on a 4-element list: %v, want the value appended", plain(l))
	}
	// UpdateItem of a missing key creates the item.
	out, err := d.dc.UpdateItem(d.ctx, &dynamodb.UpdateItemInput{TableName: aws.String(d.name), Key: item{"pk": sv("new")},
		UpdateExpression: aws.String("SET v = :one ADD c :one"), ExpressionAttributeValues: item{":one": nv("1")}, ReturnValues: types.ReturnValueAllNew})
	if err != nil {
		t.Fatal(err)
	}
	wantItem(t, "UpdateItem upsert", out.Attributes, item{"pk": sv("new"), "v": nv("1"), "c": nv("1")})

	// Ill-typed or impossible updates are ValidationException and change nothing.
	snapshot := d.get(key)
	for _, c := range []struct {
		expr   string
		values item
		why    string
	}{
		{"SET nope.x = :one", item{":one": nv("1")}, "a nested path under a missing attribute"},
		{"SET a = a + :s", item{":s": sv("x")}, "arithmetic on a string operand"},
		{"ADD l :one", item{":one": nv("1")}, "ADD to a list"},
		{"SET l = list_append(l, :one)", item{":one": nv("1")}, "list_append with a number"},
		{"SET pk = :s", item{":s": sv("x")}, "updating a key attribute"},
		{"SET a = :one, a = :one", item{":one": nv("1")}, "two updates of one path"},
		{"SET m = :one REMOVE m.x", item{":one": nv("1")}, "overlapping paths"},
		{"DELETE a :one", item{":one": nv("1")}, "DELETE with a non-set operand"},
	} {
		_, err := update(c.expr, types.ReturnValueNone, c.values, nil)
		wantCode(t, fmt.Sprintf("UpdateExpression %q (%s)", c.expr, c.why), err, "ValidationException")
	}
	wantItem(t, "item after refused updates", d.get(key), snapshot)
}

func testNumbers(t *testing.T, tg target) {
	d := newTable(t, tg, "")
	const big38 = "12345678901234567890123456789012345678"
	d.put(item{"pk": sv("n"), "big": nv(big38), "tenth": nv("0.1"), "tiny": nv("-0.00000000000000000000000000000000000123"),
		"nines": nv("99999999999999999999999999999999999999"), "padded": nv("1.500"), "lead": nv("007"), "hundred": nv("100")})
	got := d.get(item{"pk": sv("n")})
	for attr, want := range map[string]string{"big": big38, "tenth": "0.1", "tiny": "-0.00000000000000000000000000000000000123",
		"padded": "1.5", "lead": "7", "hundred": "100"} {
		if n, ok := got[attr].(*types.AttributeValueMemberN); !ok || n.Value != want {
			t.Errorf("number %s read back as %v, want %s (exact, leading/trailing zeros trimmed)", attr, plain(got[attr]), want)
		}
	}
	out, err := d.dc.UpdateItem(d.ctx, &dynamodb.UpdateItemInput{TableName: aws.String(d.name), Key: item{"pk": sv("n")},
		UpdateExpression:          aws.String("SET big = big + :one, tenth = tenth + :fifth ADD nines :one"),
		ExpressionAttributeValues: item{":one": nv("1"), ":fifth": nv("0.2")}, ReturnValues: types.ReturnValueUpdatedNew})
	if err != nil {
		t.Fatal(err)
	}
	wantItem(t, "38-digit arithmetic", out.Attributes, item{"big": nv("12345678901234567890123456789012345679"),
		"tenth": nv("0.3"), "nines": nv("100000000000000000000000000000000000000")})

	// 39 significant digits cannot be stored, directly or as a result.
	_, err = d.dc.PutItem(d.ctx, &dynamodb.PutItemInput{TableName: aws.String(d.name), Item: item{"pk": sv("x"), "v": nv("1234567890123456789012345678901234567890.1")}})
	wantCode(t, "PutItem with 41 significant digits", err, "ValidationException")
	if conforms(t, tg, "arith-precision") {
		_, err = d.dc.UpdateItem(d.ctx, &dynamodb.UpdateItemInput{TableName: aws.String(d.name), Key: item{"pk": sv("n")},
			UpdateExpression: aws.String("SET big = big + :tenth"), ExpressionAttributeValues: item{":tenth": nv("0.1")}})
		wantCode(t, "arithmetic needing 39 significant digits", err, "ValidationException")
	}
	_, err = d.dc.PutItem(d.ctx, &dynamodb.PutItemInput{TableName: aws.String(d.name), Item: item{"pk": sv("x"), "v": nv("1E+126")}})
	wantCode(t, "PutItem of 1E+126 (above the largest number)", err, "ValidationException")
	_, err = d.dc.PutItem(d.ctx, &dynamodb.PutItemInput{TableName: aws.String(d.name), Item: item{"pk": sv("x"), "v": nv("abc")}})
	wantCode(t, "PutItem of a non-number N", err, "ValidationException")
	// Numbers compare by value, not as strings.
	_, err = d.dc.UpdateItem(d.ctx, &dynamodb.UpdateItemInput{TableName: aws.String(d.name), Key: item{"pk": sv("n")},
		UpdateExpression: aws.String("SET checked = :one"), ConditionExpression: aws.String("hundred > :nine AND padded = :p"),
		ExpressionAttributeValues: item{":one": nv("1"), ":nine": nv("9"), ":p": nv("1.50000")}})
	if err != nil {
		t.Errorf("numeric comparison (100 > 9, 1.5 = 1.50000): %v", err)
	}
}

func testQuery(t *testing.T, tg target) {
	d := newTable(t, tg, types.ScalarAttributeTypeS)
	for i := 1; i <= 10; i++ {
		d.put(item{"pk": sv("A"), "sk": sv(fmt.Sprintf("s#%02d", i)), "v": nv(fmt.Sprint(i))})
	}
	d.put(item{"pk": sv("B"), "sk": sv("s#01"), "v": nv("1")})
	values := item{":a": sv("A"), ":s03": sv("s#03"), ":s06": sv("s#06"), ":s0": sv("s#0"), ":s05": sv("s#05"), ":five": nv("5"), ":one": nv("1")}
	query := func(in dynamodb.QueryInput) *dynamodb.QueryOutput {
		t.Helper()
		in.TableName = aws.String(d.name)
		in.ExpressionAttributeValues, _ = exprArgs(values, nil, aws.ToString(in.KeyConditionExpression), aws.ToString(in.FilterExpression))
		out, err := d.dc.Query(d.ctx, &in)
		if err != nil {
			t.Fatalf("Query %q filter %q: %v", aws.ToString(in.KeyConditionExpression), aws.ToString(in.FilterExpression), err)
		}
		return out
	}
	sks := func(items []item) []string {
		var out []string
		for _, it := range items {
			out = append(out, it["sk"].(*types.AttributeValueMemberS).Value)
		}
		return out
	}
	seq := func(from, to int) []string {
		var out []string
		for i := from; from <= to && i <= to || from > to && i >= to; {
			out = append(out, fmt.Sprintf("s#%02d", i))
			if from <= to {
				i++
			} else {
				i--
			}
		}
		return out
	}
	check := func(what string, got, want []string) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	out := query(dynamodb.QueryInput{KeyConditionExpression: aws.String("pk = :a")})
	check("Query pk", sks(out.Items), seq(1, 10))
	if out.Count != 10 || out.ScannedCount != 10 || out.LastEvaluatedKey != nil {
		t.Errorf("Count %d ScannedCount %d LastEvaluatedKey %v", out.Count, out.ScannedCount, out.LastEvaluatedKey)
	}
	check("ScanIndexForward false", sks(query(dynamodb.QueryInput{KeyConditionExpression: aws.String("pk = :a"), ScanIndexForward: aws.Bool(false)}).Items), seq(10, 1))
	check("sk BETWEEN", sks(query(dynamodb.QueryInput{KeyConditionExpression: aws.String("pk = :a AND sk BETWEEN :s03 AND :s06")}).Items), seq(3, 6))
	check("begins_with(sk)", sks(query(dynamodb.QueryInput{KeyConditionExpression: aws.String("pk = :a AND begins_with(sk, :s0)")}).Items), seq(1, 9))
	check("sk >", sks(query(dynamodb.QueryInput{KeyConditionExpression: aws.String("pk = :a AND sk > :s05")}).Items), seq(6, 10))
	out = query(dynamodb.QueryInput{KeyConditionExpression: aws.String("pk = :a"), FilterExpression: aws.String("v > :five")})
	check("FilterExpression", sks(out.Items), seq(6, 10))
	if out.Count != 5 || out.ScannedCount != 10 {
		t.Errorf("filtered Query: Count %d ScannedCount %d, want 5 and 10", out.Count, out.ScannedCount)
	}
	out = query(dynamodb.QueryInput{KeyConditionExpression: aws.String("pk = :a"), Select: types.SelectCount})
	if out.Count != 10 || len(out.Items) != 0 {
		t.Errorf("Select COUNT: Count %d, %d items", out.Count, len(out.Items))
	}
	out = query(dynamodb.QueryInput{KeyConditionExpression: aws.String("pk = :a AND sk = :s03"), ProjectionExpression: aws.String("v")})
	wantItem(t, "Query with ProjectionExpression", out.Items[0], item{"v": nv("3")})

	// Pagination: Limit counts items read before the filter.
	var pages []int
	var all []string
	in := dynamodb.QueryInput{KeyConditionExpression: aws.String("pk = :a"), Limit: aws.Int32(3)}
	for range 10 {
		out := query(in)
		pages = append(pages, len(out.Items))
		all = append(all, sks(out.Items)...)
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if !reflect.DeepEqual(pages, []int{3, 3, 3, 1}) {
		t.Errorf("Query pages with Limit 3: %v, want [3 3 3 1]", pages)
	}
	check("paged Query", all, seq(1, 10))
	out = query(dynamodb.QueryInput{KeyConditionExpression: aws.String("pk = :a"), FilterExpression: aws.String("v > :five"), Limit: aws.Int32(4)})
	if out.Count != 0 || out.ScannedCount != 4 || out.LastEvaluatedKey == nil {
		t.Errorf("Limit 4 with a filter matching none of the first 4: Count %d ScannedCount %d LastEvaluatedKey %v", out.Count, out.ScannedCount, out.LastEvaluatedKey)
	}

	for _, bad := range []string{"sk = :s03", "v = :one", "pk = :a OR sk = :s03", "pk = :a AND contains(sk, :s0)"} {
		vs, _ := exprArgs(values, nil, bad)
		_, err := d.dc.Query(d.ctx, &dynamodb.QueryInput{TableName: aws.String(d.name), KeyConditionExpression: aws.String(bad), ExpressionAttributeValues: vs})
		wantCode(t, fmt.Sprintf("KeyConditionExpression %q", bad), err, "ValidationException")
	}
}

func testScan(t *testing.T, tg target) {
	d := newTable(t, tg, "")
	for i := range 25 {
		d.put(item{"pk": sv(fmt.Sprintf("p%02d", i)), "n": nv(fmt.Sprint(i))})
	}
	seen := map[string]int{}
	var pages []int
	count, scanned := int32(0), int32(0)
	in := &dynamodb.ScanInput{TableName: aws.String(d.name), Limit: aws.Int32(7),
		FilterExpression: aws.String("n < :ten"), ExpressionAttributeValues: item{":ten": nv("10")}}
	for range 20 {
		out, err := d.dc.Scan(d.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, int(out.ScannedCount))
		count += out.Count
		scanned += out.ScannedCount
		for _, it := range out.Items {
			seen[it["pk"].(*types.AttributeValueMemberS).Value]++
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if !reflect.DeepEqual(pages, []int{7, 7, 7, 4}) {
		t.Errorf("Scan pages (ScannedCount) with Limit 7 over 25 items: %v, want [7 7 7 4]", pages)
	}
	if count != 10 || scanned != 25 || len(seen) != 10 {
		t.Errorf("filtered Scan: Count %d ScannedCount %d distinct %d, want 10 25 10", count, scanned, len(seen))
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("Scan returned %s %d times", k, c)
		}
	}
	out, err := d.dc.Scan(d.ctx, &dynamodb.ScanInput{TableName: aws.String(d.name), Select: types.SelectCount})
	if err != nil || out.Count != 25 || len(out.Items) != 0 {
		t.Errorf("Scan Select COUNT: %v, Count %d, %d items", err, out.Count, len(out.Items))
	}
}

func testBatch(t *testing.T, tg target) {
	d := newTable(t, tg, "")
	puts := func(from, to int) []types.WriteRequest {
		var w []types.WriteRequest
		for i := from; i < to; i++ {
			w = append(w, types.WriteRequest{PutRequest: &types.PutRequest{Item: item{"pk": sv(fmt.Sprintf("k%02d", i)), "v": nv(fmt.Sprint(i)), "pad": sv("x")}}})
		}
		return w
	}
	out, err := d.dc.BatchWriteItem(d.ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{d.name: puts(0, 25)}})
	if err != nil {
		t.Fatalf("BatchWriteItem of 25: %v", err)
	}
	if len(out.UnprocessedItems) != 0 {
		t.Errorf("UnprocessedItems: %v", out.UnprocessedItems)
	}
	_, err = d.dc.BatchWriteItem(d.ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{d.name: puts(100, 126)}})
	wantCode(t, "BatchWriteItem of 26 requests", err, "ValidationException")
	dup := append(puts(200, 201), puts(200, 201)...)
	_, err = d.dc.BatchWriteItem(d.ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{d.name: dup}})
	wantCode(t, "BatchWriteItem with the same key twice", err, "ValidationException")

	get := func(ids ...int) map[string]string {
		t.Helper()
		var keys []item
		for _, i := range ids {
			keys = append(keys, item{"pk": sv(fmt.Sprintf("k%02d", i))})
		}
		out, err := d.dc.BatchGetItem(d.ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			d.name: {Keys: keys, ProjectionExpression: aws.String("pk, v"), ConsistentRead: aws.Bool(true)}}})
		if err != nil {
			t.Fatalf("BatchGetItem: %v", err)
		}
		if len(out.UnprocessedKeys) != 0 {
			t.Errorf("UnprocessedKeys: %v", out.UnprocessedKeys)
		}
		got := map[string]string{}
		for _, it := range out.Responses[d.name] {
			if _, ok := it["pad"]; ok {
				t.Error("BatchGetItem ignored ProjectionExpression")
			}
			got[it["pk"].(*types.AttributeValueMemberS).Value] = it["v"].(*types.AttributeValueMemberN).Value
		}
		return got
	}
	var ids []int
	for i := range 30 { // 25 present, 5 missing
		ids = append(ids, i)
	}
	got := get(ids...)
	if len(got) != 25 || got["k07"] != "7" {
		t.Errorf("BatchGetItem of 25 present and 5 missing keys returned %d items: %v", len(got), got)
	}
	var mixed []types.WriteRequest
	for i := range 5 {
		mixed = append(mixed, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: item{"pk": sv(fmt.Sprintf("k%02d", i))}}})
	}
	mixed = append(mixed, puts(30, 35)...)
	if _, err := d.dc.BatchWriteItem(d.ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{d.name: mixed}}); err != nil {
		t.Fatalf("BatchWriteItem deletes+puts: %v", err)
	}
	got = get(0, 1, 2, 3, 4, 30, 31, 32, 33, 34)
	if !reflect.DeepEqual(sortedKeys(got), []string{"k30", "k31", "k32", "k33", "k34"}) {
		t.Errorf("after batch deletes and puts: %v", sortedKeys(got))
	}
	_, err = d.dc.BatchGetItem(d.ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		d.name: {Keys: []item{{"pk": sv("k10")}, {"pk": sv("k10")}}}}})
	wantCode(t, "BatchGetItem with duplicate keys", err, "ValidationException")
}

func testValidation(t *testing.T, tg target) {
	d := newTable(t, tg, "")
	d.put(item{"pk": sv("v"), "a": nv("1")})
	key := item{"pk": sv("v")}
	type req struct {
		why          string
		update, cond string
		values       item
		names        map[string]string
		put          item // a PutItem instead of an UpdateItem
	}
	cases := []req{
		{why: "truncated SET", update: "SET a = "},
		{why: "undefined value placeholder", update: "SET a = :nope"},
		{why: "undefined name placeholder", update: "SET #nope = :one", values: item{":one": nv("1")}},
		{why: "unused value", update: "SET a = :one", values: item{":one": nv("1"), ":unused": nv("2")}},
		{why: "unused name", update: "SET a = :one", values: item{":one": nv("1")}, names: map[string]string{"#unused": "x"}},
		{why: "unknown function", update: "SET a = :one", cond: "no_such_function(a)", values: item{":one": nv("1")}},
		{why: "condition that is not a boolean", update: "SET a = :one", cond: "size(a)", values: item{":one": nv("1")}},
		{why: "unbalanced parentheses", update: "SET a = :one", cond: "(a = :one", values: item{":one": nv("1")}},
		{why: "SET clause twice", update: "SET a = :one SET b = :one", values: item{":one": nv("1")}},
		{why: "a reserved word used as a name", update: "SET a = :one", cond: "status = :one", values: item{":one": nv("1")}},
		{why: "missing key attribute", put: item{"a": nv("1")}},
		{why: "key of the wrong type", put: item{"pk": nv("1")}},
		{why: "empty string key", put: item{"pk": sv("")}},
		{why: "empty set", put: item{"pk": sv("e"), "s": ssv()}},
		{why: "duplicate set members", put: item{"pk": sv("e"), "s": ssv("a", "a")}},
	}
	for _, c := range cases {
		var err error
		if c.put != nil {
			_, err = d.dc.PutItem(d.ctx, &dynamodb.PutItemInput{TableName: aws.String(d.name), Item: c.put})
		} else {
			in := &dynamodb.UpdateItemInput{TableName: aws.String(d.name), Key: key, UpdateExpression: aws.String(c.update),
				ExpressionAttributeValues: c.values, ExpressionAttributeNames: c.names}
			if c.cond != "" {
				in.ConditionExpression = aws.String(c.cond)
			}
			_, err = d.dc.UpdateItem(d.ctx, in)
		}
		wantCode(t, c.why, err, "ValidationException")
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorMessage() == "" {
			t.Errorf("%s: %s without a message", c.why, ae.ErrorCode())
		}
	}
	wantItem(t, "item after refused requests", d.get(key), item{"pk": sv("v"), "a": nv("1")})
}

// testConcurrentWrites: 16 goroutines race conditional writes on the same
// keys; conditional writes are atomic, so each key has exactly one winner and
// no increment is lost.
func testConcurrentWrites(t *testing.T, tg target) {
	d := newTable(t, tg, "")
	const workers, keys, rounds = 16, 20, 5
	var wins [keys]atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				_, err := d.dc.PutItem(d.ctx, &dynamodb.PutItemInput{TableName: aws.String(d.name),
					Item:                item{"pk": sv(fmt.Sprintf("race-%d", k)), "winner": nv(fmt.Sprint(w)), "version": nv("0")},
					ConditionExpression: aws.String("attribute_not_exists(pk)")})
				switch {
				case err == nil:
					wins[k].Add(1)
				case !isCCF(err):
					errs <- err
					return
				}
			}
			// Compare-and-set increments: read the version, write version+1 if unchanged.
			for r := range rounds {
				k := (w + r) % 4
				for attempt := 0; ; attempt++ {
					if attempt > 1000 {
						errs <- fmt.Errorf("worker %d: CAS on key %d never succeeded", w, k)
						return
					}
					got, err := d.dc.GetItem(d.ctx, &dynamodb.GetItemInput{TableName: aws.String(d.name), Key: item{"pk": sv(fmt.Sprintf("race-%d", k))}, ConsistentRead: aws.Bool(true)})
					if err != nil {
						errs <- err
						return
					}
					v := got.Item["version"].(*types.AttributeValueMemberN).Value
					_, err = d.dc.UpdateItem(d.ctx, &dynamodb.UpdateItemInput{TableName: aws.String(d.name), Key: item{"pk": sv(fmt.Sprintf("race-%d", k))},
						UpdateExpression: aws.String("SET version = version + :one ADD hits :one"), ConditionExpression: aws.String("version = :v"),
						ExpressionAttributeValues: item{":one": nv("1"), ":v": nv(v)}})
					if err == nil {
						break
					}
					if !isCCF(err) {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("unexpected error: %v", err)
	}
	for k := range keys {
		if n := wins[k].Load(); n != 1 {
			t.Errorf("key race-%d: %d winners, want exactly 1", k, n)
		}
	}
	total := 0
	for k := range 4 {
		it := d.get(item{"pk": sv(fmt.Sprintf("race-%d", k))})
		v, h := it["version"].(*types.AttributeValueMemberN).Value, it["hits"].(*types.AttributeValueMemberN).Value
		if v != h {
			t.Errorf("key race-%d: version %s but %s successful CAS updates", k, v, h)
		}
		var n int
		fmt.Sscan(v, &n)
		total += n
	}
	if total != workers*rounds {
		t.Errorf("CAS increments: %d applied, want %d", total, workers*rounds)
	}
}

func testTransactions(t *testing.T, tg target) {
	if !tg.caps.Transactions {
		t.Skipf("%s has no transactions (TransactWriteItems): not part of the Shardbridge DynamoDB surface on this backend", tg.impl)
	}
	d := newTable(t, tg, "")
	d.put(item{"pk": sv("guard"), "v": nv("1")})
	_, err := d.dc.TransactWriteItems(d.ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(d.name), Item: item{"pk": sv("t1")}}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String(d.name), Key: item{"pk": sv("guard")},
			ConditionExpression: aws.String("v = :two"), ExpressionAttributeValues: item{":two": nv("2")}}},
	}})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		t.Errorf("TransactWriteItems with a failing check: want TransactionCanceledException, got %v", err)
	}
	if d.get(item{"pk": sv("t1")}) != nil {
		t.Error("a cancelled transaction wrote its Put")
	}
	_, err = d.dc.TransactWriteItems(d.ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(d.name), Item: item{"pk": sv("t1")}}},
		{Update: &types.Update{TableName: aws.String(d.name), Key: item{"pk": sv("guard")},
			UpdateExpression: aws.String("SET v = v + :one"), ExpressionAttributeValues: item{":one": nv("1")}}},
	}})
	if err != nil {
		t.Fatalf("TransactWriteItems: %v", err)
	}
	wantItem(t, "after a transaction", d.get(item{"pk": sv("guard")}), item{"pk": sv("guard"), "v": nv("2")})
}
