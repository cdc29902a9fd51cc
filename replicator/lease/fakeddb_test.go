package lease

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// fakeDDB is a small in-memory stand-in for the DynamoDBAPI subset. It
// evaluates exactly the expression grammar the Manager writes:
// conditions "A AND B" of `attribute_not_exists(#n)`, `attribute_exists(#n)`
// and `#n = :v`; updates "SET #n = :v, ... REMOVE #n, ...". Anything else is
// a ValidationException, so a change in the Manager's expressions is caught.
type fakeDDB struct {
	mu       sync.Mutex
	tables   map[string]map[string]map[string]types.AttributeValue
	status   map[string]int // describes left before a table turns ACTIVE
	pageSize int32
	creating int // describes a new table stays CREATING
	calls    map[string]int
}

func newFakeDDB() *fakeDDB {
	return &fakeDDB{
		tables:   map[string]map[string]map[string]types.AttributeValue{},
		status:   map[string]int{},
		pageSize: 3, // small pages so every scan exercises pagination
		calls:    map[string]int{},
	}
}

func apiErr(code, msg string) error {
	switch code {
	case "ConditionalCheckFailedException":
		return &types.ConditionalCheckFailedException{Message: aws.String(msg)}
	case "ResourceNotFoundException":
		return &types.ResourceNotFoundException{Message: aws.String(msg)}
	case "ResourceInUseException":
		return &types.ResourceInUseException{Message: aws.String(msg)}
	case "ProvisionedThroughputExceededException":
		return &types.ProvisionedThroughputExceededException{Message: aws.String(msg)}
	}
	return &genericAPIError{code: code, msg: msg}
}

type genericAPIError struct{ code, msg string }

func (e *genericAPIError) Error() string                 { return e.code + ": " + e.msg }
func (e *genericAPIError) ErrorCode() string             { return e.code }
func (e *genericAPIError) ErrorMessage() string          { return e.msg }
func (e *genericAPIError) ErrorFault() smithy.ErrorFault { return smithy.FaultUnknown }

func copyItem(it map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(it))
	for k, v := range it {
		switch x := v.(type) {
		case *types.AttributeValueMemberSS:
			out[k] = &types.AttributeValueMemberSS{Value: append([]string(nil), x.Value...)}
		case *types.AttributeValueMemberS:
			out[k] = &types.AttributeValueMemberS{Value: x.Value}
		case *types.AttributeValueMemberN:
			out[k] = &types.AttributeValueMemberN{Value: x.Value}
		default:
			out[k] = v
		}
	}
	return out
}

func (f *fakeDDB) table(name *string) (map[string]map[string]types.AttributeValue, error) {
	t, ok := f.tables[aws.ToString(name)]
	if !ok {
		return nil, apiErr("ResourceNotFoundException", "Requested resource not found")
	}
	return t, nil
}

func keyString(k map[string]types.AttributeValue) (string, error) {
	s, ok := k[attrKey].(*types.AttributeValueMemberS)
	if !ok || len(k) != 1 {
		return "", apiErr("ValidationException", "bad key")
	}
	return s.Value, nil
}

func resolve(tok string, names map[string]string) (string, error) {
	tok = strings.TrimSpace(tok)
	if strings.HasPrefix(tok, "#") {
		n, ok := names[tok]
		if !ok {
			return "", apiErr("ValidationException", "undefined name "+tok)
		}
		return n, nil
	}
	return tok, nil
}

func (f *fakeDDB) cond(expr *string, item map[string]types.AttributeValue, names map[string]string, vals map[string]types.AttributeValue) error {
	if expr == nil {
		return nil
	}
	for _, term := range strings.Split(*expr, " AND ") {
		term = strings.TrimSpace(term)
		var ok bool
		switch {
		case strings.HasPrefix(term, "attribute_not_exists(") && strings.HasSuffix(term, ")"):
			n, err := resolve(term[len("attribute_not_exists("):len(term)-1], names)
			if err != nil {
				return err
			}
			_, present := item[n]
			ok = item == nil || !present
		case strings.HasPrefix(term, "attribute_exists(") && strings.HasSuffix(term, ")"):
			n, err := resolve(term[len("attribute_exists("):len(term)-1], names)
			if err != nil {
				return err
			}
			_, ok = item[n]
		case strings.Contains(term, " = "):
			lhs, rhs, _ := strings.Cut(term, " = ")
			n, err := resolve(lhs, names)
			if err != nil {
				return err
			}
			v, found := vals[strings.TrimSpace(rhs)]
			if !found {
				return apiErr("ValidationException", "undefined value "+rhs)
			}
			ok = item != nil && reflect.DeepEqual(item[n], v)
		default:
			return apiErr("ValidationException", "unsupported condition "+term)
		}
		if !ok {
			return apiErr("ConditionalCheckFailedException", "The conditional request failed")
		}
	}
	return nil
}

func (f *fakeDDB) count(op string) {
	f.calls[op]++
}

func (f *fakeDDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("GetItem")
	t, err := f.table(in.TableName)
	if err != nil {
		return nil, err
	}
	k, err := keyString(in.Key)
	if err != nil {
		return nil, err
	}
	out := &dynamodb.GetItemOutput{}
	if it, ok := t[k]; ok {
		out.Item = copyItem(it)
	}
	return out, nil
}

func (f *fakeDDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("PutItem")
	t, err := f.table(in.TableName)
	if err != nil {
		return nil, err
	}
	k, err := keyString(map[string]types.AttributeValue{attrKey: in.Item[attrKey]})
	if err != nil {
		return nil, err
	}
	if err := f.cond(in.ConditionExpression, t[k], in.ExpressionAttributeNames, in.ExpressionAttributeValues); err != nil {
		return nil, err
	}
	t[k] = copyItem(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

func (f *fakeDDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("UpdateItem")
	t, err := f.table(in.TableName)
	if err != nil {
		return nil, err
	}
	k, err := keyString(in.Key)
	if err != nil {
		return nil, err
	}
	cur := t[k]
	if err := f.cond(in.ConditionExpression, cur, in.ExpressionAttributeNames, in.ExpressionAttributeValues); err != nil {
		return nil, err
	}
	next := copyItem(cur)
	if cur == nil {
		next = copyItem(in.Key)
	}
	expr := aws.ToString(in.UpdateExpression)
	setPart, removePart, _ := strings.Cut(expr, " REMOVE ")
	if strings.HasPrefix(setPart, "REMOVE ") {
		setPart, removePart = "", strings.TrimPrefix(setPart, "REMOVE ")
	}
	if setPart != "" {
		if !strings.HasPrefix(setPart, "SET ") {
			return nil, apiErr("ValidationException", "unsupported update "+expr)
		}
		for _, a := range strings.Split(strings.TrimPrefix(setPart, "SET "), ",") {
			lhs, rhs, ok := strings.Cut(a, " = ")
			if !ok {
				return nil, apiErr("ValidationException", "unsupported assignment "+a)
			}
			n, err := resolve(lhs, in.ExpressionAttributeNames)
			if err != nil {
				return nil, err
			}
			v, found := in.ExpressionAttributeValues[strings.TrimSpace(rhs)]
			if !found {
				return nil, apiErr("ValidationException", "undefined value "+rhs)
			}
			next[n] = v
		}
	}
	if removePart != "" {
		for _, a := range strings.Split(removePart, ",") {
			n, err := resolve(a, in.ExpressionAttributeNames)
			if err != nil {
				return nil, err
			}
			delete(next, n)
		}
	}
	t[k] = copyItem(next)
	return &dynamodb.UpdateItemOutput{}, nil
}

func (f *fakeDDB) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("DeleteItem")
	t, err := f.table(in.TableName)
	if err != nil {
		return nil, err
	}
	k, err := keyString(in.Key)
	if err != nil {
		return nil, err
	}
	delete(t, k)
	return &dynamodb.DeleteItemOutput{}, nil
}

func (f *fakeDDB) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("Scan")
	t, err := f.table(in.TableName)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	start := 0
	if in.ExclusiveStartKey != nil {
		after, err := keyString(in.ExclusiveStartKey)
		if err != nil {
			return nil, err
		}
		start = sort.SearchStrings(keys, after)
		if start < len(keys) && keys[start] == after {
			start++
		}
	}
	limit := f.pageSize
	if in.Limit != nil {
		limit = *in.Limit
	}
	out := &dynamodb.ScanOutput{}
	end := min(start+int(limit), len(keys))
	for _, k := range keys[start:end] {
		out.Items = append(out.Items, copyItem(t[k]))
	}
	out.Count = int32(len(out.Items))
	if end < len(keys) {
		out.LastEvaluatedKey = map[string]types.AttributeValue{attrKey: str(keys[end-1])}
	}
	return out, nil
}

func (f *fakeDDB) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("CreateTable")
	name := aws.ToString(in.TableName)
	if _, ok := f.tables[name]; ok {
		return nil, apiErr("ResourceInUseException", "Table already exists: "+name)
	}
	if in.BillingMode != types.BillingModePayPerRequest {
		return nil, apiErr("ValidationException", fmt.Sprintf("fake wants PAY_PER_REQUEST, got %q", in.BillingMode))
	}
	if len(in.KeySchema) != 1 || aws.ToString(in.KeySchema[0].AttributeName) != attrKey {
		return nil, apiErr("ValidationException", "fake wants hash key leaseKey")
	}
	f.tables[name] = map[string]map[string]types.AttributeValue{}
	f.status[name] = f.creating
	return &dynamodb.CreateTableOutput{}, nil
}

func (f *fakeDDB) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("DescribeTable")
	name := aws.ToString(in.TableName)
	if _, ok := f.tables[name]; !ok {
		return nil, apiErr("ResourceNotFoundException", "Requested resource not found: Table: "+name+" not found")
	}
	st := types.TableStatusActive
	if f.status[name] > 0 {
		f.status[name]--
		st = types.TableStatusCreating
	}
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{
		TableName:          in.TableName,
		TableStatus:        st,
		KeySchema:          []types.KeySchemaElement{{AttributeName: aws.String(attrKey), KeyType: types.KeyTypeHash}},
		BillingModeSummary: &types.BillingModeSummary{BillingMode: types.BillingModePayPerRequest},
	}}, nil
}

// raw gives tests direct access to a row, as an operator with the console would have.
func (f *fakeDDB) raw(table, key string, edit func(map[string]map[string]types.AttributeValue)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	edit(f.tables[table])
}

// faulty wraps a DynamoDBAPI with a per-client fault: while fail returns a
// non-nil error for an operation, that call fails without reaching the table.
type faulty struct {
	DynamoDBAPI
	mu    sync.Mutex
	fail  func(op string) error      // before the call: the table never sees it
	keyed func(op, key string) error // like fail, told the item key (single-item calls)
	after func(op string) error      // after a successful call: applied, but the answer is lost
}

func (f *faulty) checkAfter(op string, err error) error {
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.after == nil {
		return nil
	}
	return f.after(op)
}

func (f *faulty) setAfter(after func(op string) error) {
	f.mu.Lock()
	f.after = after
	f.mu.Unlock()
}

func (f *faulty) check(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		return nil
	}
	return f.fail(op)
}

func (f *faulty) checkKey(op string, key map[string]types.AttributeValue) error {
	if err := f.check(op); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keyed == nil {
		return nil
	}
	k, _ := key[attrKey].(*types.AttributeValueMemberS)
	if k == nil {
		return nil
	}
	return f.keyed(op, k.Value)
}

func (f *faulty) setKeyed(fail func(op, key string) error) {
	f.mu.Lock()
	f.keyed = fail
	f.mu.Unlock()
}

func (f *faulty) set(fail func(op string) error) {
	f.mu.Lock()
	f.fail = fail
	f.mu.Unlock()
}

func (f *faulty) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := f.check("GetItem"); err != nil {
		return nil, err
	}
	return f.DynamoDBAPI.GetItem(ctx, in, o...)
}

func (f *faulty) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := f.checkKey("UpdateItem", in.Key); err != nil {
		return nil, err
	}
	out, err := f.DynamoDBAPI.UpdateItem(ctx, in, o...)
	if err = f.checkAfter("UpdateItem", err); err != nil {
		return nil, err
	}
	return out, nil
}

func (f *faulty) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := f.check("PutItem"); err != nil {
		return nil, err
	}
	return f.DynamoDBAPI.PutItem(ctx, in, o...)
}

func (f *faulty) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if err := f.check("Scan"); err != nil {
		return nil, err
	}
	return f.DynamoDBAPI.Scan(ctx, in, o...)
}
