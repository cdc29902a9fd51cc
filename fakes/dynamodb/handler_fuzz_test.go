package dynamodb

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/fakes/clock"
)

// fuzzOps are the operations FuzzHandler aims bodies at: every supported one
// plus targets the emulator must refuse.
var fuzzOps = []string{
	"CreateTable", "DescribeTable", "DeleteTable", "ListTables", "GetItem", "PutItem", "UpdateItem",
	"DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem", "TransactWriteItems", "putitem", "",
}

// fuzzSeeds holds valid and nearly valid bodies per operation against the
// table fuzzEmulator creates.
var fuzzSeeds = map[string][]string{
	"CreateTable": {
		`{"TableName":"new","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"k","AttributeType":"S"}],"KeySchema":[{"AttributeName":"k","KeyType":"HASH"}]}`,
		`{"TableName":"tbl","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"k","AttributeType":"S"}],"KeySchema":[{"AttributeName":"k","KeyType":"HASH"}]}`,
		`{"TableName":"gsi","ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":1},"AttributeDefinitions":[{"AttributeName":"k","AttributeType":"S"},{"AttributeName":"g","AttributeType":"N"}],"KeySchema":[{"AttributeName":"k","KeyType":"HASH"}],"GlobalSecondaryIndexes":[{"IndexName":"byG","KeySchema":[{"AttributeName":"g","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"},"ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":1}}]}`,
	},
	"DescribeTable": {`{"TableName":"tbl"}`, `{"TableName":"arn:aws:dynamodb:us-east-1:000000000000:table/tbl"}`},
	"DeleteTable":   {`{"TableName":"tbl"}`, `{"TableName":"nope"}`},
	"ListTables":    {`{"Limit":1}`, `{"ExclusiveStartTableName":"a","Limit":100}`},
	"GetItem": {
		`{"TableName":"tbl","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},"ConsistentRead":true,"ProjectionExpression":"#m.x, l[0], n","ExpressionAttributeNames":{"#m":"m"}}`,
		`{"TableName":"tbl","Key":{"pk":{"S":"a"}}}`,
	},
	"PutItem": {
		`{"TableName":"tbl","Item":{"pk":{"S":"a"},"sk":{"N":"1"},"n":{"N":"12345678901234567890123456789012345678"}},"ConditionExpression":"attribute_not_exists(pk) OR (n BETWEEN :lo AND :hi AND NOT contains(s, :s))","ExpressionAttributeValues":{":lo":{"N":"-1E-130"},":hi":{"N":"9.9999999999999999999999999999999999999E+125"},":s":{"S":"x"}},"ReturnValues":"ALL_OLD"}`,
		`{"TableName":"tbl","Item":{"pk":{"S":"b"},"sk":{"N":"2"},"ss":{"SS":["a","b"]},"bs":{"BS":["AQ=="]},"m":{"M":{"x":{"L":[{"NULL":true},{"BOOL":false}]}}}},"ReturnValuesOnConditionCheckFailure":"ALL_OLD","ConditionExpression":"size(m) > :z","ExpressionAttributeValues":{":z":{"N":"0"}}}`,
	},
	"UpdateItem": {
		`{"TableName":"tbl","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},"UpdateExpression":"SET n = if_not_exists(n, :z) + :one, l = list_append(if_not_exists(l, :e), :l), m.y = :one REMOVE gone, m.x[0] ADD c :one, ss :ss DELETE ds :ss","ConditionExpression":"attribute_type(n, :N) AND n IN (:z, :one) AND begins_with(s, :s)","ExpressionAttributeValues":{":z":{"N":"0"},":one":{"N":"1"},":e":{"L":[]},":l":{"L":[{"S":"q"}]},":ss":{"SS":["x"]},":N":{"S":"N"},":s":{"S":"h"}},"ReturnValues":"UPDATED_NEW"}`,
		`{"TableName":"tbl","Key":{"pk":{"S":"z"},"sk":{"N":"9"}},"UpdateExpression":"SET #a = :v, #b = :v","ExpressionAttributeNames":{"#a":"a","#b":"b"},"ExpressionAttributeValues":{":v":{"BS":["AQ==","Ag=="]}},"ReturnValues":"ALL_NEW"}`,
		`{"TableName":"tbl","Key":{"pk":{"S":"z"},"sk":{"N":"9"}},"UpdateExpression":"SET #a.#b[2] = :v","ExpressionAttributeNames":{"#a":"a","#b":"b"},"ExpressionAttributeValues":{":v":{"B":"AQ=="}},"ReturnValues":"ALL_NEW"}`,
	},
	"DeleteItem": {
		`{"TableName":"tbl","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},"ConditionExpression":"n > :z","ExpressionAttributeValues":{":z":{"N":"0"}},"ReturnValues":"ALL_OLD"}`,
	},
	"Query": {
		`{"TableName":"tbl","KeyConditionExpression":"pk = :p AND sk BETWEEN :a AND :b","FilterExpression":"size(s) >= :a","ExpressionAttributeValues":{":p":{"S":"a"},":a":{"N":"0"},":b":{"N":"10"}},"Limit":1,"ScanIndexForward":false,"ExclusiveStartKey":{"pk":{"S":"a"},"sk":{"N":"5"}},"Select":"COUNT"}`,
		`{"TableName":"tbl","IndexName":"byG","KeyConditionExpression":"g = :g","ExpressionAttributeValues":{":g":{"N":"1"}}}`,
		`{"TableName":"tbl","KeyConditionExpression":"pk = :p AND begins_with(sk, :s)","ExpressionAttributeValues":{":p":{"S":"a"},":s":{"S":"x"}}}`,
	},
	"Scan": {
		`{"TableName":"tbl","Limit":2,"FilterExpression":"attribute_exists(m.x[1]) OR NOT (n <> :n)","ExpressionAttributeValues":{":n":{"N":"1"}},"ProjectionExpression":"pk, sk","Segment":0,"TotalSegments":2}`,
		`{"TableName":"tbl","ExclusiveStartKey":{"pk":{"S":"a"},"sk":{"N":"1"}},"Select":"ALL_ATTRIBUTES","ReturnConsumedCapacity":"TOTAL"}`,
	},
	"BatchGetItem": {
		`{"RequestItems":{"tbl":{"Keys":[{"pk":{"S":"a"},"sk":{"N":"1"}},{"pk":{"S":"q"},"sk":{"N":"1"}}],"ProjectionExpression":"n","ConsistentRead":true}}}`,
	},
	"BatchWriteItem": {
		`{"RequestItems":{"tbl":[{"PutRequest":{"Item":{"pk":{"S":"c"},"sk":{"N":"3"}}}},{"DeleteRequest":{"Key":{"pk":{"S":"a"},"sk":{"N":"1"}}}}]},"ReturnItemCollectionMetrics":"SIZE"}`,
	},
	"": {`{}`},
}

// fuzzEmulator is a small emulator with table "tbl" (pk S, sk N, index byG)
// and a few items, on a manual clock.
func fuzzEmulator(tb testing.TB) *Emulator {
	tb.Helper()
	e := New(WithClock(clock.NewManual(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))))
	for _, c := range []struct{ op, body string }{
		{"CreateTable", `{"TableName":"tbl","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"N"},{"AttributeName":"g","AttributeType":"N"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"GlobalSecondaryIndexes":[{"IndexName":"byG","KeySchema":[{"AttributeName":"g","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}]}`},
		{"PutItem", `{"TableName":"tbl","Item":{"pk":{"S":"a"},"sk":{"N":"1"},"g":{"N":"1"},"n":{"N":"0"},"s":{"S":"hello"},"m":{"M":{"x":{"L":[{"N":"1"},{"S":"y"}]}}},"l":{"L":[{"S":"p"}]},"ds":{"SS":["x","y"]}}}`},
		{"PutItem", `{"TableName":"tbl","Item":{"pk":{"S":"a"},"sk":{"N":"5"},"g":{"N":"1"},"s":{"S":""}}}`},
		{"PutItem", `{"TableName":"tbl","Item":{"pk":{"S":"b"},"sk":{"N":"-0.5"},"b":{"B":"AAE="}}}`},
	} {
		if rec := fuzzCall(e, c.op, []byte(c.body)); rec.Code != http.StatusOK {
			tb.Fatalf("setup %s: %d %s", c.op, rec.Code, rec.Body)
		}
	}
	return e
}

func fuzzCall(e http.Handler, op string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// checkAWSResponse fails unless rec is a well-formed DynamoDB answer: a JSON
// object with the JSON 1.0 content type and a matching X-Amz-Crc32; errors
// carry __type and message and are client errors (a 500 caused by a request
// body is an emulator bug).
func checkAWSResponse(t *testing.T, op string, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	raw := rec.Body.Bytes()
	if ct := rec.Header().Get("Content-Type"); ct != contentType {
		t.Fatalf("%s %q: Content-Type %q", op, body, ct)
	}
	if crc := rec.Header().Get("X-Amz-Crc32"); crc != strconv.FormatUint(uint64(crc32.ChecksumIEEE(raw)), 10) {
		t.Fatalf("%s %q: X-Amz-Crc32 %q does not match the body", op, body, crc)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		t.Fatalf("%s %q: response %q is not a JSON object: %v", op, body, raw, err)
	}
	if rec.Code == http.StatusOK {
		return
	}
	typ, _ := m["__type"].(string)
	msg, _ := m["message"].(string)
	if rec.Code != http.StatusBadRequest || typ == "" || msg == "" {
		t.Fatalf("%s %q: error response %d %s", op, body, rec.Code, raw)
	}
}

// FuzzHandler posts arbitrary bodies to every operation of a populated
// emulator: no panic, and always a well-formed AWS JSON response (4xx for
// bad input, never 5xx).
func FuzzHandler(f *testing.F) {
	for i, op := range fuzzOps {
		for _, s := range fuzzSeeds[op] {
			f.Add(uint8(i), []byte(s))
		}
		for _, generic := range []string{``, `null`, `[]`, `{"TableName":`, `{"TableName":7}`, `{"TableName":"tbl","Key":{"pk":{"S":"a","N":"1"}}}`, strings.Repeat("[", 10000)} {
			f.Add(uint8(i), []byte(generic))
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		op := fuzzOps[int(sel)%len(fuzzOps)]
		e := fuzzEmulator(t)
		checkAWSResponse(t, op, body, fuzzCall(e, op, body))
		checkAWSResponse(t, op, body, fuzzCall(e, op, body))
		// Whatever the call stored must read back and describe cleanly.
		for _, probe := range []struct{ op, body string }{
			{"Scan", `{"TableName":"tbl"}`},
			{"Query", `{"TableName":"tbl","IndexName":"byG","KeyConditionExpression":"g = :g","ExpressionAttributeValues":{":g":{"N":"1"}}}`},
			{"ListTables", `{}`},
		} {
			checkAWSResponse(t, probe.op, []byte(probe.body), fuzzCall(e, probe.op, []byte(probe.body)))
		}
	})
}

// TestHandlerRobustness covers what the fuzzer rarely builds: missing or
// foreign targets and bodies far above any DynamoDB limit.
func TestHandlerRobustness(t *testing.T) {
	e := fuzzEmulator(t)
	for _, c := range []struct {
		name, target string
		body         []byte
		wantType     string
	}{
		{"no target", "", []byte(`{}`), "UnknownOperationException"},
		{"other service", "Kinesis_20131202.ListStreams", []byte(`{}`), "UnknownOperationException"},
		{"unknown op", targetPrefix + "Nope", []byte(`{}`), "UnknownOperationException"},
		{"not json", targetPrefix + "GetItem", []byte(`{"TableName":`), "SerializationException"},
		{"wrong types", targetPrefix + "PutItem", []byte(`{"TableName":["t"]}`), "SerializationException"},
	} {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(c.body))
		req.Header.Set("X-Amz-Target", c.target)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		checkAWSResponse(t, c.name, c.body, rec)
		if !strings.Contains(rec.Body.String(), "#"+c.wantType) {
			t.Errorf("%s: got %s, want %s", c.name, rec.Body, c.wantType)
		}
	}
	// A declared length above the cap is refused before anything is read.
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", targetPrefix+"BatchWriteItem")
	req.ContentLength = 1 << 40
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	checkAWSResponse(t, "declared huge", nil, rec)
	if !strings.Contains(rec.Body.String(), "ValidationException") || !strings.Contains(rec.Body.String(), "Request size exceeds") {
		t.Errorf("declared huge body: %s", rec.Body)
	}
	// A body without a declared length that never ends is cut at the cap.
	req = httptest.NewRequest(http.MethodPost, "/", &endless{})
	req.Header.Set("X-Amz-Target", targetPrefix+"BatchWriteItem")
	req.ContentLength = -1
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	checkAWSResponse(t, "endless", nil, rec)
	if !strings.Contains(rec.Body.String(), "Request size exceeds") {
		t.Errorf("endless body: %s", rec.Body)
	}
}

// endless is a request body that never ends ({"RequestItems":[[[[...).
type endless struct{ n int }

func (r *endless) Read(p []byte) (int, error) {
	const head = `{"RequestItems":`
	for i := range p {
		if r.n < len(head) {
			p[i] = head[r.n]
		} else {
			p[i] = '['
		}
		r.n++
	}
	return len(p), nil
}
