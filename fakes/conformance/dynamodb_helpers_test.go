package conformance

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

type item = map[string]types.AttributeValue

func sv(s string) types.AttributeValue  { return &types.AttributeValueMemberS{Value: s} }
func nv(s string) types.AttributeValue  { return &types.AttributeValueMemberN{Value: s} }
func bv(b []byte) types.AttributeValue  { return &types.AttributeValueMemberB{Value: b} }
func boolv(b bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: b} }
func nullv() types.AttributeValue       { return &types.AttributeValueMemberNULL{Value: true} }
func lv(vs ...types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberL{Value: vs}
}
func mv(m item) types.AttributeValue        { return &types.AttributeValueMemberM{Value: m} }
func ssv(ss ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: ss} }
func nsv(ss ...string) types.AttributeValue { return &types.AttributeValueMemberNS{Value: ss} }
func bsv(bs ...[]byte) types.AttributeValue { return &types.AttributeValueMemberBS{Value: bs} }

// plain turns an attribute value into comparable Go values; sets are sorted
// because DynamoDB does not promise an order.
func plain(av types.AttributeValue) any {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberB:
		return "B:" + string(v.Value)
	case *types.AttributeValueMemberBOOL:
		return v.Value
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberL:
		out := make([]any, len(v.Value))
		for i, e := range v.Value {
			out[i] = plain(e)
		}
		return out
	case *types.AttributeValueMemberM:
		return plainItem(v.Value)
	case *types.AttributeValueMemberSS:
		return "SS:" + strings.Join(sorted(v.Value...), ",")
	case *types.AttributeValueMemberNS:
		return "NS:" + strings.Join(sorted(v.Value...), ",")
	case *types.AttributeValueMemberBS:
		s := make([]string, len(v.Value))
		for i, b := range v.Value {
			s[i] = string(b)
		}
		return "BS:" + strings.Join(sorted(s...), ",")
	case nil:
		return nil
	default:
		return fmt.Sprintf("unknown %T", av)
	}
}

func plainItem(m item) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = plain(v)
	}
	return out
}

// sameItem compares items; an empty and a nil item are the same (the SDK
// decodes an absent and an empty Attributes map differently).
func sameItem(a, b item) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(plainItem(a), plainItem(b))
}

func wantItem(t *testing.T, what string, got, want item) {
	t.Helper()
	if !sameItem(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, plainItem(got), plainItem(want))
	}
}

// dtable is one table under test.
type dtable struct {
	t    *testing.T
	ctx  context.Context
	b    *Backend
	dc   *dynamodb.Client
	name string
}

// newTable creates a pay-per-request table keyed by pk (S) and, when
// rangeType is not empty, sk of that type, and waits for ACTIVE.
func newTable(t *testing.T, tg target, rangeType types.ScalarAttributeType) *dtable {
	t.Helper()
	b := tg.backend(t)
	d := &dtable{t: t, ctx: ctxT(t), b: b, dc: dynamoClient(b), name: uniqueName("tbl")}
	d.create(rangeType)
	return d
}

func (d *dtable) create(rangeType types.ScalarAttributeType) *dynamodb.CreateTableOutput {
	d.t.Helper()
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(d.name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	}
	if rangeType != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String("sk"), AttributeType: rangeType})
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange})
	}
	out, err := d.dc.CreateTable(d.ctx, in)
	if err != nil {
		d.t.Fatalf("CreateTable %s: %v", d.name, err)
	}
	// The reference emulator is shared by every test: drop the table after.
	d.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = d.dc.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(d.name)})
	})
	d.waitActive()
	return out
}

func (d *dtable) waitActive() {
	d.t.Helper()
	eventually(d.t, "table "+d.name+" ACTIVE", func() (bool, error) {
		out, err := d.dc.DescribeTable(d.ctx, &dynamodb.DescribeTableInput{TableName: aws.String(d.name)})
		if err != nil {
			return false, err
		}
		return out.Table.TableStatus == types.TableStatusActive, nil
	})
}

func (d *dtable) put(it item) {
	d.t.Helper()
	if _, err := d.dc.PutItem(d.ctx, &dynamodb.PutItemInput{TableName: aws.String(d.name), Item: it}); err != nil {
		d.t.Fatalf("PutItem %v: %v", plainItem(it), err)
	}
}

func (d *dtable) get(key item) item {
	d.t.Helper()
	out, err := d.dc.GetItem(d.ctx, &dynamodb.GetItemInput{TableName: aws.String(d.name), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		d.t.Fatalf("GetItem %v: %v", plainItem(key), err)
	}
	return out.Item
}

var placeholder = regexp.MustCompile(`[:#][A-Za-z0-9_]+`)

// exprArgs picks, from the candidates, exactly the :values and #names the
// expressions use: DynamoDB rejects unused ones.
func exprArgs(values item, names map[string]string, exprs ...string) (item, map[string]string) {
	var vs item
	var ns map[string]string
	for _, e := range exprs {
		for _, p := range placeholder.FindAllString(e, -1) {
			if p[0] == ':' {
				if v, ok := values[p]; ok {
					if vs == nil {
						vs = item{}
					}
					vs[p] = v
				}
			} else if n, ok := names[p]; ok {
				if ns == nil {
					ns = map[string]string{}
				}
				ns[p] = n
			}
		}
	}
	return vs, ns
}

func isCCF(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
