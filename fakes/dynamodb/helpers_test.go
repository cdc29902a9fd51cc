package dynamodb

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// newClient starts the emulator behind httptest and returns a real SDK
// client for it. Retries are off so error tests see the first answer.
func newClient(t testing.TB, opts ...Option) (*dynamodb.Client, *Emulator) {
	t.Helper()
	e := New(opts...)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	// Enough idle connections for the racing tests' 16 goroutines; with
	// the default of a few per host they would spend their time dialling.
	transport := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	t.Cleanup(transport.CloseIdleConnections)
	c := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRET", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: transport},
	})
	return c, e
}

func ctx() context.Context { return context.Background() }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// createTable makes a PAY_PER_REQUEST table; rangeKey may be "".
func createTable(t testing.TB, c *dynamodb.Client, name, hashKey string, hashType types.ScalarAttributeType, rangeKey string, rangeType types.ScalarAttributeType) {
	t.Helper()
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(hashKey), AttributeType: hashType}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(hashKey), KeyType: types.KeyTypeHash}},
	}
	if rangeKey != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(rangeKey), AttributeType: rangeType})
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(rangeKey), KeyType: types.KeyTypeRange})
	}
	if _, err := c.CreateTable(ctx(), in); err != nil {
		t.Fatalf("CreateTable %s: %v", name, err)
	}
}

func put(t testing.TB, c *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
}

func get(t testing.TB, c *dynamodb.Client, table string, key map[string]types.AttributeValue) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.GetItem(ctx(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	return out.Item
}

// wantValidation asserts err is a ValidationException whose message contains want.
func wantValidation(t testing.TB, err error, want string) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("want ValidationException containing %q, got %v", want, err)
	}
	if api.ErrorCode() != "ValidationException" || !strings.Contains(api.ErrorMessage(), want) {
		t.Fatalf("want ValidationException containing %q, got %s: %s", want, api.ErrorCode(), api.ErrorMessage())
	}
}

func str(av types.AttributeValue) string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	case nil:
		return "<nil>"
	}
	return "?"
}
