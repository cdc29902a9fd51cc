// Package dynamodb is Shardbridge's in-process DynamoDB emulator.
//
// Contract: New returns an *Emulator, an http.Handler that speaks DynamoDB's
// JSON 1.0 wire protocol (POST /, X-Amz-Target "DynamoDB_20120810.<Op>"), so
// an unmodified aws-sdk-go-v2 DynamoDB client works against it through
// BaseEndpoint. Every response carries the X-Amz-Crc32 header the SDK
// verifies, and errors are AWS-shaped ({"__type": "com.amazonaws.dynamodb.
// v20120810#ConditionalCheckFailedException", "message": ...}) so the SDK's
// typed errors match with errors.As.
//
// Supported operations: CreateTable, DescribeTable, DeleteTable, ListTables,
// GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan, BatchGetItem and
// BatchWriteItem, with the full expression language of package expr and the
// exact-decimal values of package attr. Tables are ACTIVE as soon as they
// are created; reads are always strongly consistent. Global and local
// secondary indexes are accepted, described and queryable (maintained
// synchronously). Every write that carries a condition is atomic: a
// per-table lock covers the condition check and the write. Transactions,
// streams, TTL, PartiQL and the legacy (pre-expression) parameters are not
// supported; see docs/emulator-dynamodb.md for the differences from AWS.
//
// The emulator keeps everything in memory, reads time only from its clock
// (fakes/clock) and is safe for concurrent use.
package dynamodb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

const (
	targetPrefix = "DynamoDB_20120810."
	contentType  = "application/x-amz-json-1.0"
	// maxBodyBytes bounds a request body; DynamoDB's largest requests
	// (BatchWriteItem: 25 × 400 KB) stay well below it.
	maxBodyBytes = 32 << 20
)

// Emulator is an in-memory DynamoDB. Create it with New.
type Emulator struct {
	clock   *clock.Clock
	log     *slog.Logger
	region  string
	account string

	mu     sync.RWMutex
	tables map[string]*table

	requests atomic.Uint64
	tableIDs atomic.Uint64
}

// Option configures an Emulator.
type Option func(*Emulator)

// WithClock sets the clock used for table creation times (default: real time).
func WithClock(c *clock.Clock) Option { return func(e *Emulator) { e.clock = c } }

// WithLogger sets the logger (default: discard). Requests are logged at Debug.
func WithLogger(l *slog.Logger) Option { return func(e *Emulator) { e.log = l } }

// WithRegion sets the region used in table ARNs (default us-east-1).
func WithRegion(r string) Option { return func(e *Emulator) { e.region = r } }

// WithAccount sets the account id used in table ARNs (default 000000000000).
func WithAccount(a string) Option { return func(e *Emulator) { e.account = a } }

// New returns an empty emulator.
func New(opts ...Option) *Emulator {
	e := &Emulator{
		region:  "us-east-1",
		account: "000000000000",
		tables:  map[string]*table{},
	}
	for _, o := range opts {
		o(e)
	}
	if e.clock == nil {
		e.clock = clock.New()
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e
}

// apiError is an AWS error response.
type apiError struct {
	status int
	typ    string
	msg    string
	item   attr.Item // ConditionalCheckFailedException with ReturnValuesOnConditionCheckFailure=ALL_OLD
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

const (
	dynamoPrefix   = "com.amazonaws.dynamodb.v20120810#"
	validationType = "com.amazon.coral.validate#ValidationException"
)

func validationErr(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: validationType, msg: fmt.Sprintf(format, args...)}
}

func serializationErr(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "com.amazon.coral.service#SerializationException", msg: msg}
}

func notFoundErr(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: dynamoPrefix + "ResourceNotFoundException", msg: msg}
}

func inUseErr(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: dynamoPrefix + "ResourceInUseException", msg: msg}
}

func conditionFailedErr(item attr.Item) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: dynamoPrefix + "ConditionalCheckFailedException",
		msg: "The conditional request failed", item: item}
}

// fromValueError converts attribute and expression errors into API errors.
func fromValueError(err error) *apiError {
	var ae *attr.Error
	if errors.As(err, &ae) {
		if ae.Serialization {
			return serializationErr(ae.Msg)
		}
		return validationErr("%s", ae.Msg)
	}
	var api *apiError
	if errors.As(err, &api) {
		return api
	}
	return validationErr("%s", err.Error())
}

// ServeHTTP implements the DynamoDB JSON 1.0 protocol.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		// DynamoDB answers a plain GET with a health string; tools probe it.
		e.write(w, http.StatusOK, []byte("healthy: dynamodb."+e.region+".amazonaws.com "))
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	var body []byte
	var err error
	if r.ContentLength <= maxBodyBytes {
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	}
	var resp any
	var apiErr *apiError
	switch {
	case r.ContentLength > maxBodyBytes:
		// Refused before reading: a declared size past the cap is enough.
		apiErr = validationErr("Request size exceeds %d bytes", maxBodyBytes)
	case err != nil:
		apiErr = serializationErr(fmt.Sprintf("reading request body: %v", err))
	case len(body) > maxBodyBytes:
		apiErr = validationErr("Request size exceeds %d bytes", maxBodyBytes)
	case !ok || r.Method != http.MethodPost:
		apiErr = &apiError{status: http.StatusBadRequest, typ: "com.amazon.coral.service#UnknownOperationException",
			msg: fmt.Sprintf("Operation %q is not supported", target)}
	default:
		if len(bytes.TrimSpace(body)) == 0 {
			body = []byte("{}")
		}
		resp, apiErr = e.dispatch(op, body)
	}
	if apiErr != nil {
		e.log.Debug("dynamodb request failed", "op", op, "type", apiErr.typ, "message", apiErr.msg)
		e.write(w, apiErr.status, encodeError(apiErr))
		return
	}
	out, err := json.Marshal(resp)
	if err != nil {
		e.log.Error("dynamodb response encoding failed", "op", op, "err", err)
		e.write(w, http.StatusInternalServerError, encodeError(&apiError{typ: dynamoPrefix + "InternalServerError", msg: err.Error()}))
		return
	}
	e.log.Debug("dynamodb request", "op", op)
	e.write(w, http.StatusOK, out)
}

func encodeError(e *apiError) []byte {
	b := []byte(`{"__type":`)
	t, _ := json.Marshal(e.typ)
	m, _ := json.Marshal(e.msg)
	b = append(b, t...)
	b = append(b, `,"message":`...)
	b = append(b, m...)
	if len(e.item) > 0 {
		b = append(b, `,"Item":`...)
		b = e.item.AppendJSON(b)
	}
	return append(b, '}')
}

func (e *Emulator) write(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	h.Set("X-Amzn-Requestid", fmt.Sprintf("EMULATEDDYNAMODB%036d", e.requests.Add(1)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (e *Emulator) dispatch(op string, body []byte) (any, *apiError) {
	switch op {
	case "CreateTable":
		return handle(body, e.createTable)
	case "DescribeTable":
		return handle(body, e.describeTable)
	case "DeleteTable":
		return handle(body, e.deleteTable)
	case "ListTables":
		return handle(body, e.listTables)
	case "GetItem":
		return handle(body, e.getItem)
	case "PutItem":
		return handle(body, e.putItem)
	case "UpdateItem":
		return handle(body, e.updateItem)
	case "DeleteItem":
		return handle(body, e.deleteItem)
	case "Query":
		return handle(body, e.query)
	case "Scan":
		return handle(body, e.scan)
	case "BatchGetItem":
		return handle(body, e.batchGetItem)
	case "BatchWriteItem":
		return handle(body, e.batchWriteItem)
	}
	return nil, &apiError{status: http.StatusBadRequest, typ: "com.amazon.coral.service#UnknownOperationException",
		msg: fmt.Sprintf("The operation %s is not supported by this emulator", op)}
}

// handle decodes the request body into In and runs fn.
func handle[In any, Out any](body []byte, fn func(*In) (*Out, *apiError)) (any, *apiError) {
	in := new(In)
	if err := json.Unmarshal(body, in); err != nil {
		var ae *attr.Error
		if errors.As(err, &ae) {
			return nil, fromValueError(ae)
		}
		return nil, serializationErr(err.Error())
	}
	out, apiErr := fn(in)
	if apiErr != nil {
		return nil, apiErr
	}
	return out, nil
}

// table returns the named table or ResourceNotFoundException.
func (e *Emulator) table(name string) (*table, *apiError) {
	if err := validateTableName(name); err != nil {
		return nil, err
	}
	name = tableNameFromARN(name)
	e.mu.RLock()
	t := e.tables[name]
	e.mu.RUnlock()
	if t == nil {
		return nil, notFoundErr("Requested resource not found")
	}
	return t, nil
}

func validateTableName(name string) *apiError {
	if name == "" {
		return validationErr("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	if strings.HasPrefix(name, "arn:") {
		return nil // a table ARN; the lookup extracts the name
	}
	if len(name) < 3 || len(name) > 255 {
		return validationErr("TableName must be at least 3 characters long and at most 255 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return validationErr("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", name)
		}
	}
	return nil
}
