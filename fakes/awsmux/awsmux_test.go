package awsmux_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shardbridge/shardbridge/fakes/awsmux"
)

func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, name+":"+r.Header.Get("X-Amz-Target")+":"+string(b))
	})
}

func TestRoutesByTarget(t *testing.T) {
	mux := awsmux.New(named("kinesis"), named("dynamodb"))
	cases := []struct {
		target     string
		wantStatus int
		wantBody   string
	}{
		{"Kinesis_20131202.PutRecord", 200, "kinesis:Kinesis_20131202.PutRecord:{}"},
		{"DynamoDB_20120810.GetItem", 200, "dynamodb:DynamoDB_20120810.GetItem:{}"},
		{"DynamoDBStreams_20120810.GetRecords", 400, ""},
		{"AmazonSQS.SendMessage", 400, ""},
		{"", 400, ""},
	}
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		if c.target != "" {
			req.Header.Set("X-Amz-Target", c.target)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != c.wantStatus {
			t.Errorf("%q: status %d, want %d", c.target, rec.Code, c.wantStatus)
		}
		if c.wantStatus == 200 {
			if rec.Body.String() != c.wantBody {
				t.Errorf("%q: body %q, want %q", c.target, rec.Body.String(), c.wantBody)
			}
			continue
		}
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Type != "UnknownOperationException" || e.Message == "" {
			t.Errorf("%q: error body %q (%v)", c.target, rec.Body.String(), err)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/x-amz-json") {
			t.Errorf("%q: Content-Type %q", c.target, ct)
		}
	}
}

func TestNilHandlerIsUnknown(t *testing.T) {
	mux := awsmux.New(named("kinesis"), nil)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.GetItem")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("status %d", rec.Code)
	}
}
