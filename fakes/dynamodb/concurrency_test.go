package dynamodb

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const racers = 16

// TestConditionalPutRace: 16 goroutines race to create the same keys with
// attribute_not_exists; exactly one wins each key.
func TestConditionalPutRace(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "race", "pk", types.ScalarAttributeTypeS, "", "")
	const keys = 20
	wins := make([][]int, keys)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, racers)
	for g := 0; g < racers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < keys; k++ {
				_, err := c.PutItem(ctx(), &dynamodb.PutItemInput{TableName: aws.String("race"),
					Item:                item{"pk": s(fmt.Sprint("key-", k)), "owner": n(strconv.Itoa(g))},
					ConditionExpression: aws.String("attribute_not_exists(pk)")})
				var ccf *types.ConditionalCheckFailedException
				switch {
				case err == nil:
					mu.Lock()
					wins[k] = append(wins[k], g)
					mu.Unlock()
				case errors.As(err, &ccf):
				default:
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for k, w := range wins {
		if len(w) != 1 {
			t.Fatalf("key %d had %d winners: %v", k, len(w), w)
		}
		got := get(t, c, "race", item{"pk": s(fmt.Sprint("key-", k))})
		if str(got["owner"]) != strconv.Itoa(w[0]) {
			t.Fatalf("key %d owned by %s, winner was %d", k, str(got["owner"]), w[0])
		}
	}
}

// TestCounterCASRace: 16 goroutines bump a version counter with
// compare-and-set UpdateItem (the KCL lease pattern); every version is won
// by exactly one goroutine and no increment is lost.
func TestCounterCASRace(t *testing.T) {
	c, _ := newClient(t)
	createTable(t, c, "cas", "leaseKey", types.ScalarAttributeTypeS, "", "")
	put(t, c, "cas", item{"leaseKey": s("shard-0"), "leaseCounter": n("0")})
	const perGoroutine = 10
	var mu sync.Mutex
	winners := map[int]int{} // new version → goroutine
	var wg sync.WaitGroup
	errs := make(chan error, racers)
	for g := 0; g < racers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			won := 0
			for attempts := 0; won < perGoroutine; attempts++ {
				if attempts > 100000 {
					errs <- fmt.Errorf("goroutine %d starved", g)
					return
				}
				out, err := c.GetItem(ctx(), &dynamodb.GetItemInput{TableName: aws.String("cas"), Key: item{"leaseKey": s("shard-0")}, ConsistentRead: aws.Bool(true)})
				if err != nil {
					errs <- err
					return
				}
				cur, _ := strconv.Atoi(str(out.Item["leaseCounter"]))
				_, err = c.UpdateItem(ctx(), &dynamodb.UpdateItemInput{TableName: aws.String("cas"), Key: item{"leaseKey": s("shard-0")},
					UpdateExpression:          aws.String("SET leaseCounter = leaseCounter + :one, leaseOwner = :me"),
					ConditionExpression:       aws.String("leaseCounter = :cur"),
					ExpressionAttributeValues: item{":one": n("1"), ":me": n(strconv.Itoa(g)), ":cur": n(strconv.Itoa(cur))}})
				var ccf *types.ConditionalCheckFailedException
				switch {
				case err == nil:
					mu.Lock()
					if prev, dup := winners[cur+1]; dup {
						mu.Unlock()
						errs <- fmt.Errorf("version %d won by %d and %d", cur+1, prev, g)
						return
					}
					winners[cur+1] = g
					mu.Unlock()
					won++
				case errors.As(err, &ccf):
				default:
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := racers * perGoroutine
	if len(winners) != total {
		t.Fatalf("%d versions won, want %d", len(winners), total)
	}
	for v := 1; v <= total; v++ {
		if _, ok := winners[v]; !ok {
			t.Fatalf("version %d has no winner", v)
		}
	}
	got := get(t, c, "cas", item{"leaseKey": s("shard-0")})
	if str(got["leaseCounter"]) != strconv.Itoa(total) || str(got["leaseOwner"]) != strconv.Itoa(winners[total]) {
		t.Fatalf("final item %v, want counter %d owner %d", got, total, winners[total])
	}
}
