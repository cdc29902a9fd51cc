package sabotage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DeleteLeaseRow deletes a shard's row from a KCL lease table, as an
// operator cleaning up by hand would.
func DeleteLeaseRow(ctx context.Context, ddb *dynamodb.Client, table, shard string) error {
	_, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(table),
		Key:       map[string]dtypes.AttributeValue{"leaseKey": &dtypes.AttributeValueMemberS{Value: shard}},
	})
	if err != nil {
		return fmt.Errorf("delete lease %s from %s: %w", shard, table, err)
	}
	return nil
}

// CorruptLeaseRow overwrites a shard's leaseCounter with a string and its
// checkpoint with a number, the kind of damage a hand edit does. It returns
// the row as it was just before (the damage is conditional on the counter
// read, so no write slips in between), for RestoreLeaseRow.
func CorruptLeaseRow(ctx context.Context, ddb *dynamodb.Client, table, shard string) (map[string]dtypes.AttributeValue, error) {
	key := map[string]dtypes.AttributeValue{"leaseKey": &dtypes.AttributeValueMemberS{Value: shard}}
	for {
		got, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("corrupt lease %s in %s: read: %w", shard, table, err)
		}
		counter, ok := got.Item["leaseCounter"]
		if !ok {
			return nil, fmt.Errorf("corrupt lease %s in %s: no such row (or no leaseCounter)", shard, table)
		}
		_, err = ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           aws.String(table),
			Key:                 key,
			UpdateExpression:    aws.String("SET leaseCounter = :c, checkpoint = :p"),
			ConditionExpression: aws.String("leaseCounter = :read"),
			ExpressionAttributeValues: map[string]dtypes.AttributeValue{
				":c":    &dtypes.AttributeValueMemberS{Value: "not-a-number"},
				":p":    &dtypes.AttributeValueMemberN{Value: "42"},
				":read": counter,
			},
		})
		var ccf *dtypes.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf):
			continue // the row moved on between the read and the write
		case err != nil:
			return nil, fmt.Errorf("corrupt lease %s in %s: %w", shard, table, err)
		}
		return got.Item, nil
	}
}

// RestoreLeaseRow writes back a row saved by CorruptLeaseRow, as an operator
// undoing a bad hand edit would, with its leaseCounter moved on so every
// worker sees that the row changed (its owner, having dropped the lease,
// lets it expire and it is taken over from its checkpoint).
func RestoreLeaseRow(ctx context.Context, ddb *dynamodb.Client, table string, row map[string]dtypes.AttributeValue) error {
	item := maps.Clone(row)
	shard := "?"
	if k, ok := item["leaseKey"].(*dtypes.AttributeValueMemberS); ok {
		shard = k.Value
	}
	c, ok := item["leaseCounter"].(*dtypes.AttributeValueMemberN)
	if !ok {
		return fmt.Errorf("restore lease %s in %s: the saved row has no numeric leaseCounter", shard, table)
	}
	n, err := strconv.ParseInt(c.Value, 10, 64)
	if err != nil {
		return fmt.Errorf("restore lease %s in %s: leaseCounter %q: %w", shard, table, c.Value, err)
	}
	item["leaseCounter"] = &dtypes.AttributeValueMemberN{Value: strconv.FormatInt(n+1000, 10)}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		return fmt.Errorf("restore lease %s in %s: %w", shard, table, err)
	}
	return nil
}

// DeleteAllLeaseRows empties a lease table (every checkpoint forgotten), the
// usual way to make a KCL application start over from its initial position.
func DeleteAllLeaseRows(ctx context.Context, ddb *dynamodb.Client, table string) (int, error) {
	n := 0
	var start map[string]dtypes.AttributeValue
	for {
		out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ExclusiveStartKey: start, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return n, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, item := range out.Items {
			k, ok := item["leaseKey"].(*dtypes.AttributeValueMemberS)
			if !ok {
				continue
			}
			if err := DeleteLeaseRow(ctx, ddb, table, k.Value); err != nil {
				return n, err
			}
			n++
		}
		if len(out.LastEvaluatedKey) == 0 {
			return n, nil
		}
		start = out.LastEvaluatedKey
	}
}
