package dynamodb

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// seedEvents makes table "events" (pk S, sk N) with sk 1..10 under "a",
// 1..3 under "b", plus a string-keyed table "docs".
func seedEvents(t *testing.T) *dynamodb.Client {
	c, _ := newClient(t)
	createTable(t, c, "events", "pk", types.ScalarAttributeTypeS, "sk", types.ScalarAttributeTypeN)
	for i := 1; i <= 10; i++ {
		put(t, c, "events", item{"pk": s("a"), "sk": n(fmt.Sprint(i)), "kind": s([]string{"odd", "even"}[i%2^1]), "v": n(fmt.Sprint(i * 10))})
	}
	for i := 1; i <= 3; i++ {
		put(t, c, "events", item{"pk": s("b"), "sk": n(fmt.Sprint(i))})
	}
	return c
}

func sks(items []item) string {
	var out []string
	for _, it := range items {
		out = append(out, str(it["sk"]))
	}
	return strings.Join(out, ",")
}

func TestQueryKeyConditions(t *testing.T) {
	c := seedEvents(t)
	vals := item{":a": s("a"), ":3": n("3"), ":7": n("7"), ":5": n("5")}
	for _, tc := range []struct {
		kc   string
		want string
	}{
		{"pk = :a", "1,2,3,4,5,6,7,8,9,10"},
		{"pk = :a AND sk = :5", "5"},
		{"pk = :a AND sk < :3", "1,2"},
		{"pk = :a AND sk <= :3", "1,2,3"},
		{"pk = :a AND sk > :7", "8,9,10"},
		{"pk = :a AND sk >= :7", "7,8,9,10"},
		{"pk = :a AND sk BETWEEN :3 AND :5", "3,4,5"},
		{"sk BETWEEN :3 AND :5 AND pk = :a", "3,4,5"},
	} {
		used := item{}
		for k, v := range vals {
			if strings.Contains(tc.kc, k+" ") || strings.HasSuffix(tc.kc, k) {
				used[k] = v
			}
		}
		out, err := c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("events"), KeyConditionExpression: aws.String(tc.kc), ExpressionAttributeValues: used})
		if err != nil {
			t.Errorf("%s: %v", tc.kc, err)
			continue
		}
		if got := sks(out.Items); got != tc.want || int(out.Count) != len(out.Items) || out.LastEvaluatedKey != nil {
			t.Errorf("%s = %s (count %d, lek %v), want %s", tc.kc, got, out.Count, out.LastEvaluatedKey, tc.want)
		}
	}
	// Reverse order.
	out, err := c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("events"), KeyConditionExpression: aws.String("pk = :a AND sk > :7"),
		ExpressionAttributeValues: item{":a": s("a"), ":7": n("7")}, ScanIndexForward: aws.Bool(false)})
	if err != nil || sks(out.Items) != "10,9,8" {
		t.Fatalf("reverse: %v %v", sks(out.Items), err)
	}
}

func TestQueryBeginsWith(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "docs", "pk", types.ScalarAttributeTypeS, "sk", types.ScalarAttributeTypeS)
	for _, sk := range []string{"2024-01-01", "2024-01-15", "2024-02-01", "2023-12-31", "2024"} {
		put(t, c, "docs", item{"pk": s("d"), "sk": s(sk)})
	}
	out, err := c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("docs"), KeyConditionExpression: aws.String("pk = :d AND begins_with(sk, :p)"),
		ExpressionAttributeValues: item{":d": s("d"), ":p": s("2024-01")}})
	if err != nil || sks(out.Items) != "2024-01-01,2024-01-15" {
		t.Fatalf("begins_with: %s %v", sks(out.Items), err)
	}
}

func TestQueryPaginationFilterAndCount(t *testing.T) {
	c := seedEvents(t)
	// Limit counts items evaluated before the filter; pages end with a
	// LastEvaluatedKey even when the last page happens to be full.
	var got []string
	var start item
	pages := 0
	scanned := 0
	for {
		out, err := c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("events"), KeyConditionExpression: aws.String("pk = :a"),
			FilterExpression: aws.String("kind = :even"), ExpressionAttributeValues: item{":a": s("a"), ":even": s("even")},
			Limit: aws.Int32(3), ExclusiveStartKey: start, ProjectionExpression: aws.String("sk")})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		scanned += int(out.ScannedCount)
		for _, it := range out.Items {
			if len(it) != 1 {
				t.Fatalf("projection leaked attributes: %v", it)
			}
			got = append(got, str(it["sk"]))
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		if len(out.LastEvaluatedKey) != 2 {
			t.Fatalf("LastEvaluatedKey = %v", out.LastEvaluatedKey)
		}
		start = out.LastEvaluatedKey
	}
	if strings.Join(got, ",") != "2,4,6,8,10" || scanned != 10 || pages != 4 {
		t.Fatalf("got %v scanned %d pages %d", got, scanned, pages)
	}
	// Limit equal to the remaining items still yields a LastEvaluatedKey,
	// then an empty last page, as in DynamoDB.
	out, err := c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("events"), KeyConditionExpression: aws.String("pk = :b"),
		ExpressionAttributeValues: item{":b": s("b")}, Limit: aws.Int32(3)})
	if err != nil || out.LastEvaluatedKey == nil {
		t.Fatalf("full page: %v %v", out, err)
	}
	out, err = c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("events"), KeyConditionExpression: aws.String("pk = :b"),
		ExpressionAttributeValues: item{":b": s("b")}, Limit: aws.Int32(3), ExclusiveStartKey: out.LastEvaluatedKey})
	if err != nil || len(out.Items) != 0 || out.LastEvaluatedKey != nil {
		t.Fatalf("after full page: %v %v", out, err)
	}
	// Reverse pagination.
	out, err = c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("events"), KeyConditionExpression: aws.String("pk = :a"),
		ExpressionAttributeValues: item{":a": s("a")}, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(2),
		ExclusiveStartKey: item{"pk": s("a"), "sk": n("8")}})
	if err != nil || sks(out.Items) != "7,6" {
		t.Fatalf("reverse page: %s %v", sks(out.Items), err)
	}
	// Select COUNT.
	out, err = c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("events"), KeyConditionExpression: aws.String("pk = :a"),
		FilterExpression: aws.String("v > :v"), ExpressionAttributeValues: item{":a": s("a"), ":v": n("55")}, Select: types.SelectCount})
	if err != nil || out.Count != 5 || out.ScannedCount != 10 || out.Items != nil {
		t.Fatalf("COUNT: %+v %v", out, err)
	}
}

func TestQueryErrors(t *testing.T) {
	c := seedEvents(t)
	tbl := aws.String("events")
	for _, tc := range []struct {
		in   dynamodb.QueryInput
		want string
	}{
		{dynamodb.QueryInput{TableName: tbl}, "Either the KeyConditions or KeyConditionExpression parameter must be specified"},
		{dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("sk = :n"), ExpressionAttributeValues: item{":n": n("1")}},
			"Query condition missed key schema element: pk"},
		{dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk > :a"), ExpressionAttributeValues: item{":a": s("a")}},
			"Query key condition not supported"},
		{dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :a AND kind = :a"), ExpressionAttributeValues: item{":a": s("a")}},
			"Query key condition not supported"},
		{dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :a OR sk = :n"), ExpressionAttributeValues: item{":a": s("a"), ":n": n("1")}},
			"Invalid operator used in KeyConditionExpression: OR"},
		{dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :n"), ExpressionAttributeValues: item{":n": n("1")}},
			"Condition parameter type does not match schema type"},
		{dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :a AND begins_with(sk, :n)"), ExpressionAttributeValues: item{":a": s("a"), ":n": n("1")}},
			"begins_with"},
		{dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :a"), FilterExpression: aws.String("sk > :n"),
			ExpressionAttributeValues: item{":a": s("a"), ":n": n("1")}}, "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"},
		{dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :a"), ExpressionAttributeValues: item{":a": s("a")},
			ExclusiveStartKey: item{"pk": s("b"), "sk": n("1")}}, "The provided starting key is outside query boundaries based on provided conditions"},
		{dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :a"), ExpressionAttributeValues: item{":a": s("a")},
			ExclusiveStartKey: item{"pk": s("a")}}, "The provided starting key is invalid"},
		{dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :a"), ExpressionAttributeValues: item{":a": s("a")},
			Limit: aws.Int32(0)}, "Member must have value greater than or equal to 1"},
		{dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :a"), ExpressionAttributeValues: item{":a": s("a")},
			Select: types.SelectCount, ProjectionExpression: aws.String("v")}, "Cannot specify the ProjectionExpression when choosing to get only the Count"},
		{dynamodb.QueryInput{TableName: tbl, IndexName: aws.String("nope"), KeyConditionExpression: aws.String("pk = :a"), ExpressionAttributeValues: item{":a": s("a")}},
			"The table does not have the specified index: nope"},
	} {
		in := tc.in
		_, err := c.Query(ctx(), &in)
		wantValidation(t, err, tc.want)
	}
}

func TestScan(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "scanme", "pk", types.ScalarAttributeTypeS, "sk", types.ScalarAttributeTypeN)
	want := map[string]bool{}
	for i := 0; i < 40; i++ {
		pk := fmt.Sprintf("p%02d", i%13)
		put(t, c, "scanme", item{"pk": s(pk), "sk": n(fmt.Sprint(i)), "big": &types.AttributeValueMemberBOOL{Value: i >= 20}})
		want[fmt.Sprintf("%s/%d", pk, i)] = true
	}
	collect := func(in dynamodb.ScanInput) (keys []string, pages int) {
		t.Helper()
		p := dynamodb.NewScanPaginator(c, &in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx())
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, it := range out.Items {
				keys = append(keys, str(it["pk"])+"/"+str(it["sk"]))
			}
		}
		return keys, pages
	}
	keys, pages := collect(dynamodb.ScanInput{TableName: aws.String("scanme"), Limit: aws.Int32(7)})
	if len(keys) != 40 || pages != 6 {
		t.Fatalf("paged scan: %d keys in %d pages", len(keys), pages)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] || !want[k] {
			t.Fatalf("scan returned %s twice or unexpectedly", k)
		}
		seen[k] = true
	}
	// Items of one partition come out together, in range order.
	pos := map[string]int{}
	for i, k := range keys {
		pos[k] = i
	}
	for i := 13; i < 40; i++ {
		prev := fmt.Sprintf("p%02d/%d", i%13, i-13)
		if pos[fmt.Sprintf("p%02d/%d", i%13, i)] != pos[prev]+1 {
			t.Fatalf("partition p%02d not contiguous in scan order", i%13)
		}
	}
	// Filter + projection.
	keys, _ = collect(dynamodb.ScanInput{TableName: aws.String("scanme"), FilterExpression: aws.String("big = :t"),
		ExpressionAttributeValues: item{":t": &types.AttributeValueMemberBOOL{Value: true}}, ProjectionExpression: aws.String("pk, sk")})
	if len(keys) != 20 {
		t.Fatalf("filtered scan: %d", len(keys))
	}
	// Parallel scan: segments partition the table.
	total := 0
	segSeen := map[string]bool{}
	for seg := int32(0); seg < 4; seg++ {
		keys, _ := collect(dynamodb.ScanInput{TableName: aws.String("scanme"), Segment: aws.Int32(seg), TotalSegments: aws.Int32(4), Limit: aws.Int32(5)})
		for _, k := range keys {
			if segSeen[k] {
				t.Fatalf("%s in two segments", k)
			}
			segSeen[k] = true
		}
		total += len(keys)
	}
	if total != 40 {
		t.Fatalf("segments covered %d items", total)
	}
	out, err := c.Scan(ctx(), &dynamodb.ScanInput{TableName: aws.String("scanme"), Select: types.SelectCount})
	if err != nil || out.Count != 40 || out.Items != nil {
		t.Fatalf("count scan: %+v %v", out, err)
	}
	_, err = c.Scan(ctx(), &dynamodb.ScanInput{TableName: aws.String("scanme"), Segment: aws.Int32(4), TotalSegments: aws.Int32(4)})
	wantValidation(t, err, "Segment: 4 is not less than TotalSegments: 4")
	_, err = c.Scan(ctx(), &dynamodb.ScanInput{TableName: aws.String("scanme"), Segment: aws.Int32(1)})
	wantValidation(t, err, "The TotalSegments parameter is required")
	_, err = c.Scan(ctx(), &dynamodb.ScanInput{TableName: aws.String("scanme"), ExclusiveStartKey: item{"pk": s("p00")}})
	wantValidation(t, err, "The provided starting key is invalid")
}

func TestScanPageSizeLimit(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "fat", "pk", types.ScalarAttributeTypeN, "", "")
	blob := strings.Repeat("z", 300*1024)
	for i := 0; i < 8; i++ {
		put(t, c, "fat", item{"pk": n(fmt.Sprint(i)), "blob": s(blob)})
	}
	// 8 × 300 KB: each page stops once it has read 1 MB.
	var start item
	var pages, total int
	for {
		out, err := c.Scan(ctx(), &dynamodb.ScanInput{TableName: aws.String("fat"), ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		total += len(out.Items)
		if len(out.Items) > 4 {
			t.Fatalf("page of %d items exceeds 1 MB", len(out.Items))
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		start = out.LastEvaluatedKey
	}
	if total != 8 || pages < 2 {
		t.Fatalf("%d items in %d pages", total, pages)
	}
}

func TestGlobalSecondaryIndex(t *testing.T) {
	c, _ := newClient(t)
	_, err := c.CreateTable(ctx(), &dynamodb.CreateTableInput{
		TableName:   aws.String("leases"),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("leaseKey"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("leaseOwner"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String("LeaseOwnerToLeaseKeyIndex"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("leaseOwner"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeRange}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, owner := range []string{"w1", "w2", "w1", "", "w1"} {
		it := item{"leaseKey": s(fmt.Sprintf("shard-%d", i)), "checkpoint": s("TRIM_HORIZON")}
		if owner != "" {
			it["leaseOwner"] = s(owner)
		}
		put(t, c, "leases", it)
	}
	out, err := c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("leases"), IndexName: aws.String("LeaseOwnerToLeaseKeyIndex"),
		KeyConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: item{":o": s("w1")}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range out.Items {
		if _, ok := it["checkpoint"]; ok {
			t.Fatalf("KEYS_ONLY index returned %v", it)
		}
		got = append(got, str(it["leaseKey"]))
	}
	if strings.Join(got, ",") != "shard-0,shard-2,shard-4" {
		t.Fatalf("index query = %v", got)
	}
	// Pagination through the index.
	out, err = c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("leases"), IndexName: aws.String("LeaseOwnerToLeaseKeyIndex"),
		KeyConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: item{":o": s("w1")}, Limit: aws.Int32(2)})
	if err != nil || len(out.Items) != 2 || len(out.LastEvaluatedKey) != 2 {
		t.Fatalf("index page 1: %v %v", out, err)
	}
	out, err = c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("leases"), IndexName: aws.String("LeaseOwnerToLeaseKeyIndex"),
		KeyConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: item{":o": s("w1")}, Limit: aws.Int32(2),
		ExclusiveStartKey: out.LastEvaluatedKey})
	if err != nil || len(out.Items) != 1 || str(out.Items[0]["leaseKey"]) != "shard-4" {
		t.Fatalf("index page 2: %v %v", out, err)
	}
	// Index scans see only items that carry the index key.
	sc, err := c.Scan(ctx(), &dynamodb.ScanInput{TableName: aws.String("leases"), IndexName: aws.String("LeaseOwnerToLeaseKeyIndex")})
	if err != nil || len(sc.Items) != 4 {
		t.Fatalf("index scan: %v %v", sc, err)
	}
	// Writes must respect index key types.
	_, err = c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: aws.String("leases"), Item: item{"leaseKey": s("x"), "leaseOwner": n("1")}})
	wantValidation(t, err, "Type mismatch for Index Key leaseOwner Expected: S Actual: N IndexName: LeaseOwnerToLeaseKeyIndex")
	_, err = c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("leases"), IndexName: aws.String("LeaseOwnerToLeaseKeyIndex"),
		KeyConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: item{":o": s("w1")}, ConsistentRead: aws.Bool(true)})
	wantValidation(t, err, "Consistent reads are not supported on global secondary indexes")
	d, err := c.DescribeTable(ctx(), &dynamodb.DescribeTableInput{TableName: aws.String("leases")})
	if err != nil || len(d.Table.GlobalSecondaryIndexes) != 1 || *d.Table.GlobalSecondaryIndexes[0].ItemCount != 4 ||
		d.Table.GlobalSecondaryIndexes[0].IndexStatus != types.IndexStatusActive {
		t.Fatalf("describe GSI: %+v %v", d, err)
	}
}

func TestLocalSecondaryIndex(t *testing.T) {
	c, _ := newClient(t)
	_, err := c.CreateTable(ctx(), &dynamodb.CreateTableInput{
		TableName:   aws.String("orders"),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("cust"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("ts"), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("cust"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("id"), KeyType: types.KeyTypeRange}},
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{{
			IndexName:  aws.String("byTime"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("cust"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("ts"), KeyType: types.KeyTypeRange}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"total"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, ts := range []string{"30", "10", "20"} {
		put(t, c, "orders", item{"cust": s("c1"), "id": s(fmt.Sprint("o", i)), "ts": n(ts), "total": n("9.99"), "note": s("x")})
	}
	q := func(sel types.Select) []item {
		out, err := c.Query(ctx(), &dynamodb.QueryInput{TableName: aws.String("orders"), IndexName: aws.String("byTime"),
			KeyConditionExpression: aws.String("cust = :c AND ts >= :t"), ExpressionAttributeValues: item{":c": s("c1"), ":t": n("15")}, Select: sel})
		if err != nil {
			t.Fatal(err)
		}
		return out.Items
	}
	items := q("")
	if len(items) != 2 || str(items[0]["id"]) != "o2" || str(items[1]["id"]) != "o0" {
		t.Fatalf("LSI order: %v", items)
	}
	if _, ok := items[0]["note"]; ok || str(items[0]["total"]) != "9.99" || len(items[0]) != 4 {
		t.Fatalf("INCLUDE projection: %v", items[0])
	}
	// An LSI can fetch every attribute from the table.
	if items := q(types.SelectAllAttributes); len(items[0]) != 5 {
		t.Fatalf("ALL_ATTRIBUTES through LSI: %v", items[0])
	}
}
