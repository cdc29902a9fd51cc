package dynamodb

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shardbridge/shardbridge/fakes/clock"
)

func TestCreateDescribeDeleteTable(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c, _ := newClient(t, WithClock(clock.NewManual(start)), WithRegion("eu-west-1"), WithAccount("123456789012"))
	out, err := c.CreateTable(ctx(), &dynamodb.CreateTableInput{
		TableName: aws.String("leases"),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("leaseKey"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema:             []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}},
		ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(7)},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := out.TableDescription
	if d.TableStatus != types.TableStatusActive || *d.TableName != "leases" || *d.ItemCount != 0 ||
		*d.TableArn != "arn:aws:dynamodb:eu-west-1:123456789012:table/leases" || !d.CreationDateTime.Equal(start) ||
		*d.ProvisionedThroughput.ReadCapacityUnits != 5 || *d.ProvisionedThroughput.WriteCapacityUnits != 7 ||
		d.BillingModeSummary.BillingMode != types.BillingModeProvisioned || d.TableId == nil {
		t.Fatalf("unexpected description %+v", d)
	}
	put(t, c, "leases", map[string]types.AttributeValue{"leaseKey": s("shard-0"), "owner": s("w1")})
	desc, err := c.DescribeTable(ctx(), &dynamodb.DescribeTableInput{TableName: aws.String("leases")})
	if err != nil {
		t.Fatal(err)
	}
	if *desc.Table.ItemCount != 1 || *desc.Table.TableSizeBytes == 0 || len(desc.Table.KeySchema) != 1 {
		t.Fatalf("describe after put: %+v", desc.Table)
	}
	// The table ARN works wherever a table name does.
	if _, err := c.DescribeTable(ctx(), &dynamodb.DescribeTableInput{TableName: desc.Table.TableArn}); err != nil {
		t.Fatalf("describe by ARN: %v", err)
	}
	del, err := c.DeleteTable(ctx(), &dynamodb.DeleteTableInput{TableName: aws.String("leases")})
	if err != nil {
		t.Fatal(err)
	}
	if del.TableDescription.TableStatus != types.TableStatusDeleting {
		t.Errorf("delete status %s", del.TableDescription.TableStatus)
	}
	_, err = c.DescribeTable(ctx(), &dynamodb.DescribeTableInput{TableName: aws.String("leases")})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) || rnf.ErrorMessage() != "Requested resource not found: Table: leases not found" {
		t.Fatalf("describe deleted table: %v", err)
	}
	_, err = c.GetItem(ctx(), &dynamodb.GetItemInput{TableName: aws.String("leases"), Key: map[string]types.AttributeValue{"leaseKey": s("x")}})
	if !errors.As(err, &rnf) {
		t.Fatalf("GetItem on deleted table: %v", err)
	}
	_, err = c.DeleteTable(ctx(), &dynamodb.DeleteTableInput{TableName: aws.String("leases")})
	if !errors.As(err, &rnf) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestCreateTableErrors(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "exists", "pk", types.ScalarAttributeTypeS, "", "")
	_, err := c.CreateTable(ctx(), &dynamodb.CreateTableInput{
		TableName:            aws.String("exists"),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) || inUse.ErrorMessage() != "Table already exists: exists" {
		t.Fatalf("duplicate table: %v", err)
	}
	def := func(name string, typ types.ScalarAttributeType) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: typ}
	}
	key := func(name string, kt types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: kt}
	}
	pt := &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(1), WriteCapacityUnits: aws.Int64(1)}
	for _, tc := range []struct {
		name string
		in   dynamodb.CreateTableInput
		want string
	}{
		{"short name", dynamodb.CreateTableInput{TableName: aws.String("ab"), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{def("pk", "S")}, KeySchema: []types.KeySchemaElement{key("pk", "HASH")}},
			"TableName must be at least 3 characters long"},
		{"bad chars", dynamodb.CreateTableInput{TableName: aws.String("a b c"), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{def("pk", "S")}, KeySchema: []types.KeySchemaElement{key("pk", "HASH")}},
			"Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
		{"bad type", dynamodb.CreateTableInput{TableName: aws.String("tbl"), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{def("pk", "BOOL")}, KeySchema: []types.KeySchemaElement{key("pk", "HASH")}},
			"Member must satisfy enum value set: [B, N, S]"},
		{"range first", dynamodb.CreateTableInput{TableName: aws.String("tbl"), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{def("pk", "S")}, KeySchema: []types.KeySchemaElement{key("pk", "RANGE")}},
			"The first KeySchemaElement is not a HASH key type"},
		{"undefined key", dynamodb.CreateTableInput{TableName: aws.String("tbl"), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{def("x", "S")}, KeySchema: []types.KeySchemaElement{key("pk", "HASH")}},
			"Some index key attributes are not defined in AttributeDefinitions"},
		{"extra definition", dynamodb.CreateTableInput{TableName: aws.String("tbl"), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{def("pk", "S"), def("x", "N")}, KeySchema: []types.KeySchemaElement{key("pk", "HASH")}},
			"Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions"},
		{"on-demand with throughput", dynamodb.CreateTableInput{TableName: aws.String("tbl"), BillingMode: types.BillingModePayPerRequest,
			ProvisionedThroughput: pt,
			AttributeDefinitions:  []types.AttributeDefinition{def("pk", "S")}, KeySchema: []types.KeySchemaElement{key("pk", "HASH")}},
			"Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"},
		{"provisioned without throughput", dynamodb.CreateTableInput{TableName: aws.String("tbl"),
			AttributeDefinitions: []types.AttributeDefinition{def("pk", "S")}, KeySchema: []types.KeySchemaElement{key("pk", "HASH")}},
			"ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"},
		{"same hash and range", dynamodb.CreateTableInput{TableName: aws.String("tbl"), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{def("pk", "S")}, KeySchema: []types.KeySchemaElement{key("pk", "HASH"), key("pk", "RANGE")}},
			"Both the Hash Key and the Range Key element in the KeySchema have the same name"},
		{"lsi without range", dynamodb.CreateTableInput{TableName: aws.String("tbl"), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{def("pk", "S"), def("x", "S")}, KeySchema: []types.KeySchemaElement{key("pk", "HASH")},
			LocalSecondaryIndexes: []types.LocalSecondaryIndex{{IndexName: aws.String("lsi"), KeySchema: []types.KeySchemaElement{key("pk", "HASH"), key("x", "RANGE")},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}}},
			"Table KeySchema does not have a range key"},
	} {
		in := tc.in
		_, err := c.CreateTable(ctx(), &in)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		wantValidation(t, err, tc.want)
	}
}

func TestListTablesPagination(t *testing.T) {
	c, _ := newClient(t)
	var want []string
	for i := 0; i < 7; i++ {
		name := fmt.Sprintf("table-%02d", 6-i)
		createTable(t, c, name, "pk", types.ScalarAttributeTypeS, "", "")
	}
	for i := 0; i < 7; i++ {
		want = append(want, fmt.Sprintf("table-%02d", i))
	}
	var got []string
	pages := 0
	p := dynamodb.NewListTablesPaginator(c, &dynamodb.ListTablesInput{Limit: aws.Int32(3)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.TableNames) > 3 {
			t.Fatalf("page of %d > limit", len(out.TableNames))
		}
		got = append(got, out.TableNames...)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Fatalf("got %v in %d pages, want %v in 3", got, pages, want)
	}
	out, err := c.ListTables(ctx(), &dynamodb.ListTablesInput{ExclusiveStartTableName: aws.String("table-04")})
	if err != nil || fmt.Sprint(out.TableNames) != "[table-05 table-06]" || out.LastEvaluatedTableName != nil {
		t.Fatalf("ExclusiveStartTableName: %v %v", out, err)
	}
	_, err = c.ListTables(ctx(), &dynamodb.ListTablesInput{Limit: aws.Int32(101)})
	wantValidation(t, err, "Member must have value between 1 and 100")
}

func TestDeletionProtection(t *testing.T) {
	c, _ := newClient(t)
	_, err := c.CreateTable(ctx(), &dynamodb.CreateTableInput{
		TableName:                 aws.String("protected"),
		BillingMode:               types.BillingModePayPerRequest,
		DeletionProtectionEnabled: aws.Bool(true),
		AttributeDefinitions:      []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:                 []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteTable(ctx(), &dynamodb.DeleteTableInput{TableName: aws.String("protected")})
	wantValidation(t, err, "protected against deletion")
}
