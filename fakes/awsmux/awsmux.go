// Package awsmux serves several AWS JSON-protocol emulators on one port, the
// way LocalStack does on 4566: a request is routed by the prefix of its
// X-Amz-Target header ("Kinesis_20131202." to the Kinesis handler,
// "DynamoDB_20120810." to the DynamoDB handler). A request with any other
// target, or none, is answered HTTP 400 with an AWS-shaped
// UnknownOperationException body, so an SDK pointed at the wrong service
// fails loudly instead of hanging. The request is passed through untouched.
package awsmux

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Target prefixes of the services routed.
const (
	KinesisPrefix  = "Kinesis_20131202."
	DynamoDBPrefix = "DynamoDB_20120810."
)

// New returns a handler that routes by X-Amz-Target to kinesis or dynamodb.
// A nil handler makes its service unknown.
func New(kinesis, dynamodb http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		switch {
		case strings.HasPrefix(target, KinesisPrefix) && kinesis != nil:
			kinesis.ServeHTTP(w, r)
		case strings.HasPrefix(target, DynamoDBPrefix) && dynamodb != nil:
			dynamodb.ServeHTTP(w, r)
		default:
			unknown(w, target)
		}
	})
}

func unknown(w http.ResponseWriter, target string) {
	msg := "missing X-Amz-Target header"
	if target != "" {
		msg = fmt.Sprintf("unknown operation %q: this endpoint serves %s* and %s*", target, KinesisPrefix, DynamoDBPrefix)
	}
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{"UnknownOperationException", msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(body)
}
