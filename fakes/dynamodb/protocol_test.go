package dynamodb

import (
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func rawCall(t *testing.T, h http.Handler, target, body string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestWireProtocol(t *testing.T) {
	e := New()
	resp, body := rawCall(t, e, "DynamoDB_20120810.CreateTable",
		`{"TableName":"wire","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"k","AttributeType":"S"}],"KeySchema":[{"AttributeName":"k","KeyType":"HASH"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("CreateTable: %d %s", resp.StatusCode, body)
	}
	// Every response carries the CRC32 of its body and the JSON 1.0 content type.
	for _, tc := range []struct {
		target, body string
		status       int
		errType      string
	}{
		{"DynamoDB_20120810.PutItem", `{"TableName":"wire","Item":{"k":{"S":"a"},"n":{"N":"1.50"}}}`, 200, ""},
		{"DynamoDB_20120810.GetItem", `{"TableName":"wire","Key":{"k":{"S":"a"}}}`, 200, ""},
		{"DynamoDB_20120810.PutItem", `{"TableName":"wire","Item":{"k":{"S":"a"}},"ConditionExpression":"attribute_not_exists(k)"}`, 400,
			"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"},
		{"DynamoDB_20120810.GetItem", `{"TableName":"nosuch","Key":{"k":{"S":"a"}}}`, 400, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"},
		{"DynamoDB_20120810.GetItem", `{"TableName":"wire","Key":{"k":{"S":"a"}},"ProjectionExpression":"a AND"}`, 400, "com.amazon.coral.validate#ValidationException"},
		{"DynamoDB_20120810.GetItem", `{"TableName":"wire","Key":{"k":{"S":5}}}`, 400, "com.amazon.coral.service#SerializationException"},
		{"DynamoDB_20120810.GetItem", `{not json`, 400, "com.amazon.coral.service#SerializationException"},
		{"DynamoDB_20120810.TransactWriteItems", `{}`, 400, "com.amazon.coral.service#UnknownOperationException"},
		{"Kinesis_20131202.ListStreams", `{}`, 400, "com.amazon.coral.service#UnknownOperationException"},
		{"", `{}`, 400, "com.amazon.coral.service#UnknownOperationException"},
	} {
		resp, body := rawCall(t, e, tc.target, tc.body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d (%s)", tc.target, tc.body, resp.StatusCode, tc.status, body)
		}
		if got := resp.Header.Get("X-Amz-Crc32"); got != strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10) {
			t.Errorf("%s: X-Amz-Crc32 %q does not match body", tc.target, got)
		}
		if resp.Header.Get("Content-Type") != contentType || resp.Header.Get("X-Amzn-Requestid") == "" {
			t.Errorf("%s: headers %v", tc.target, resp.Header)
		}
		if tc.errType != "" {
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Type != tc.errType || e.Message == "" {
				t.Errorf("%s: error body %s, want __type %s", tc.target, body, tc.errType)
			}
		}
	}
	_, body = rawCall(t, e, "DynamoDB_20120810.GetItem", `{"TableName":"wire","Key":{"k":{"S":"a"}}}`)
	if body != `{"Item":{"k":{"S":"a"},"n":{"N":"1.5"}}}` {
		t.Errorf("GetItem body %s", body)
	}
	// GET is a health check, as on the real endpoint.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "healthy: dynamodb.") {
		t.Errorf("health: %d %s", rec.Code, rec.Body.String())
	}
}

func rawCallB(b *testing.B, h http.Handler, target, body string) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", target)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", target, rec.Code, rec.Body.String())
	}
}
