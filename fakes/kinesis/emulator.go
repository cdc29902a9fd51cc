package kinesis

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardbridge/shardbridge/fakes/clock"
)

// Emulator is an in-memory Kinesis Data Streams service. Use New; the zero
// value is not usable. All methods are safe for concurrent use.
type Emulator struct {
	clock   *clock.Clock
	log     *slog.Logger
	region  string
	account string
	limits  bool // default for new streams and account-level operations

	mu             sync.RWMutex // guards streams, limitOverride, nextStreamID
	streams        map[string]*stream
	limitOverride  map[string]bool
	nextStreamID   uint64
	seq            atomic.Uint64 // global sequence counter (see seq.go)
	reqID          atomic.Uint64
	accountLimiter accountLimiter
	handlers       map[string]func(body []byte) ([]byte, error)
}

// Option configures an Emulator.
type Option func(*Emulator)

// WithClock makes the emulator read time from c (default: clock.New(), real
// time). Share one clock between emulators to move them together.
func WithClock(c *clock.Clock) Option { return func(e *Emulator) { e.clock = c } }

// WithLimits turns the production limits on or off for every stream
// (default on). SetLimits overrides it per stream.
func WithLimits(enabled bool) Option { return func(e *Emulator) { e.limits = enabled } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(e *Emulator) { e.log = l } }

// WithRegion sets the region used in stream ARNs (default us-east-1).
func WithRegion(r string) Option { return func(e *Emulator) { e.region = r } }

// WithAccount sets the account id used in ARNs and messages (default 000000000000).
func WithAccount(a string) Option { return func(e *Emulator) { e.account = a } }

// New returns an empty emulator.
func New(opts ...Option) *Emulator {
	e := &Emulator{
		region:        defaultRegion,
		account:       defaultAccount,
		limits:        true,
		streams:       make(map[string]*stream),
		limitOverride: make(map[string]bool),
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
	// Start the counter high so sequence numbers look like AWS's (and never
	// collide with a shard's StartingSequenceNumber of an empty emulator).
	e.seq.Store(1_000_000)
	e.handlers = map[string]func([]byte) ([]byte, error){
		"CreateStream":                  e.opCreateStream,
		"DeleteStream":                  e.opDeleteStream,
		"DescribeStream":                e.opDescribeStream,
		"DescribeStreamSummary":         e.opDescribeStreamSummary,
		"ListStreams":                   e.opListStreams,
		"ListShards":                    e.opListShards,
		"PutRecord":                     e.opPutRecord,
		"PutRecords":                    e.opPutRecords,
		"GetShardIterator":              e.opGetShardIterator,
		"GetRecords":                    e.opGetRecords,
		"SplitShard":                    e.opSplitShard,
		"MergeShards":                   e.opMergeShards,
		"UpdateShardCount":              e.opUpdateShardCount,
		"UpdateStreamMode":              e.opUpdateStreamMode,
		"IncreaseStreamRetentionPeriod": e.opIncreaseRetention,
		"DecreaseStreamRetentionPeriod": e.opDecreaseRetention,
	}
	return e
}

// Clock returns the clock the emulator runs on.
func (e *Emulator) Clock() *clock.Clock { return e.clock }

// ServeHTTP answers one Kinesis JSON 1.1 request (POST /, X-Amz-Target
// "Kinesis_20131202.<Operation>"). Request signatures are not checked.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	if r.Method != http.MethodPost || !ok {
		e.writeError(w, &apiError{status: http.StatusBadRequest, code: errMissingAction,
			msg: fmt.Sprintf("expected POST with X-Amz-Target %s<Operation>, got %s %q", targetPrefix, r.Method, target)})
		return
	}
	if ct := r.Header.Get("Content-Type"); strings.Contains(ct, "cbor") {
		e.writeError(w, newErr(errSerialization, "CBOR is not supported by this emulator; use the JSON 1.1 protocol (Java: disable CBOR)"))
		return
	}
	h := e.handlers[op]
	if h == nil {
		e.writeError(w, newErr(errUnknownOperation, "operation %s is not supported by the Shardbridge Kinesis emulator", op))
		return
	}
	if r.ContentLength > maxRequestBody {
		e.writeError(w, newErr(errSerialization, "request body of %d bytes is too large (the emulator accepts at most %d)", r.ContentLength, maxRequestBody))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		msg := fmt.Sprintf("reading request body: %v", err)
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			msg = fmt.Sprintf("request body is too large (the emulator accepts at most %d bytes)", maxRequestBody)
		}
		e.writeError(w, newErr(errSerialization, "%s", msg))
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	out, err := h(body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			e.log.Error("kinesis emulator internal failure", "op", op, "err", err)
			ae = &apiError{status: http.StatusInternalServerError, code: errInternalFailure, msg: err.Error()}
		}
		e.log.Debug("kinesis request failed", "op", op, "code", ae.code, "msg", ae.msg)
		e.writeError(w, ae)
		return
	}
	e.writeHeaders(w)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

func (e *Emulator) writeHeaders(w http.ResponseWriter) {
	n := e.reqID.Add(1)
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON11)
	// Deterministic request ids (no randomness), shaped like AWS's UUIDs.
	h.Set("x-amzn-RequestId", fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(n>>48), n&0xffffffffffff))
}

func (e *Emulator) writeError(w http.ResponseWriter, ae *apiError) {
	e.writeHeaders(w)
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{ae.code, ae.msg})
	w.WriteHeader(ae.status)
	_, _ = w.Write(body)
}

// decode parses a request body; malformed JSON is a SerializationException.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return newErr(errSerialization, "malformed request: %v", err)
	}
	return nil
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return b, nil
}

var emptyOutput = []byte("{}")

var streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

func (e *Emulator) arnFor(name string) string {
	return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", e.region, e.account, name)
}

func (e *Emulator) nowMs() int64 { return e.clock.Now().UnixMilli() }

// streamARNRE is the StreamARN pattern of the Kinesis API reference.
var streamARNRE = regexp.MustCompile(`^arn:(aws[a-z-]*):kinesis:([^:]*):([0-9]{12}):stream/([a-zA-Z0-9_.-]{1,128})$`)

// lookup resolves a stream from StreamName and/or StreamARN. An ARN of
// another partition, region or account names a stream this emulator does
// not have (ResourceNotFound); a name beside an ARN must be the ARN's.
func (e *Emulator) lookup(ref streamRef) (*stream, error) {
	name := ""
	if ref.StreamARN != nil {
		arn := *ref.StreamARN
		m := streamARNRE.FindStringSubmatch(arn)
		if m == nil {
			return nil, invalidArg("StreamARN %q is not a valid Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)", arn)
		}
		name = m[4]
		if ref.StreamName != nil && *ref.StreamName != name {
			return nil, invalidArg("StreamName %q does not match StreamARN %q", *ref.StreamName, arn)
		}
		if m[1] != "aws" || m[2] != e.region || m[3] != e.account {
			return nil, newErr(errResourceNotFound, "Stream %s not found (this emulator serves partition aws, region %s, account %s)", arn, e.region, e.account)
		}
	} else if ref.StreamName != nil {
		name = *ref.StreamName
	} else {
		return nil, invalidArg("Either StreamName or StreamARN must be provided")
	}
	e.mu.RLock()
	s := e.streams[name]
	e.mu.RUnlock()
	if s == nil {
		return nil, newErr(errResourceNotFound, "Stream %s under account %s not found.", name, e.account)
	}
	return s, nil
}

// checkAccountLimit applies a per-account control-plane limit. s may be nil
// for operations that name no stream.
func (e *Emulator) checkAccountLimit(op string, s *stream) error {
	enabled := e.limits
	if s != nil {
		s.mu.Lock()
		enabled = s.limits
		s.mu.Unlock()
	}
	if enabled && !e.accountLimiter.allow(op, e.clock.Now().UnixNano()) {
		return newErr(errLimitExceeded, "Rate exceeded for %s under account %s.", op, e.account)
	}
	return nil
}

// streamRequest is a decoded request that names one stream; every request
// type embeds streamRef, which supplies the method.
type streamRequest interface{ target() streamRef }

func (r streamRef) target() streamRef { return r }

// controlStream is the common opening of a stream-scoped control-plane
// operation: decode the body into in, resolve the stream it names and charge
// op against the account limit. The order matters: a malformed body or an
// unknown stream is reported before throttling, as AWS does.
func (e *Emulator) controlStream(op string, body []byte, in streamRequest) (*stream, error) {
	if err := decode(body, in); err != nil {
		return nil, err
	}
	s, err := e.lookup(in.target())
	if err != nil {
		return nil, err
	}
	if err := e.checkAccountLimit(op, s); err != nil {
		return nil, err
	}
	return s, nil
}

// SetLimits turns the production limits of one stream on or off. It applies
// to the stream now and to a stream of that name created later.
func (e *Emulator) SetLimits(stream string, enabled bool) {
	e.mu.Lock()
	e.limitOverride[stream] = enabled
	s := e.streams[stream]
	e.mu.Unlock()
	if s != nil {
		s.mu.Lock()
		s.limits = enabled
		s.mu.Unlock()
	}
}

// CreateStream creates a provisioned stream with the given number of evenly
// sized shards, exactly as the CreateStream API does (it is ACTIVE at once).
func (e *Emulator) CreateStream(name string, shards int) error {
	if err := e.createStream(name, shards, modeProvisioned, defaultMaxRecordBytes); err != nil {
		return fmt.Errorf("create stream %s: %w", name, err)
	}
	return nil
}

// TrimBefore drops every record of the stream that arrived before t, and
// every closed shard that closed before t, as retention would. Use it to
// stage "parent shard trimmed before it was read" without moving the clock.
func (e *Emulator) TrimBefore(streamName string, t time.Time) error {
	s, err := e.lookup(streamRef{StreamName: &streamName})
	if err != nil {
		return fmt.Errorf("trim %s: %w", streamName, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ms := t.UnixMilli(); ms > s.trimFloorMs {
		s.trimFloorMs = ms
	}
	nowMs := e.nowMs()
	for _, sh := range s.shards {
		if !s.expired(sh, nowMs) {
			sh.trim(s.trimPoint(nowMs))
		}
	}
	return nil
}

func (e *Emulator) createStream(name string, shards int, mode string, maxRecordBytes int) error {
	if !streamNameRE.MatchString(name) {
		return invalidArg("Stream name %q must match [a-zA-Z0-9_.-]{1,128}", name)
	}
	if shards < 1 {
		return invalidArg("ShardCount must be at least 1, got %d", shards)
	}
	if shards > maxShardsPerStream {
		return newErr(errLimitExceeded, "ShardCount %d exceeds the limit of %d shards per stream", shards, maxShardsPerStream)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.streams[name]; ok {
		return newErr(errResourceInUse, "Stream %s under account %s already exists.", name, e.account)
	}
	e.nextStreamID++
	now := e.nowMs()
	limits := e.limits
	if v, ok := e.limitOverride[name]; ok {
		limits = v
	}
	s := &stream{
		name:           name,
		arn:            e.arnFor(name),
		id:             e.nextStreamID,
		createdMs:      now,
		mode:           mode,
		retentionHours: defaultRetentionHours,
		maxRecordBytes: maxRecordBytes,
		limits:         limits,
	}
	starts := evenStarts(shards)
	counter := e.seq.Load()
	for i, st := range starts {
		end := maxHashKey
		if i+1 < len(starts) {
			end = starts[i+1].sub1()
		}
		s.addShard(st, end, "", "", now, counter)
	}
	s.rebuildOpen()
	e.streams[name] = s
	e.log.Info("kinesis stream created", "stream", name, "shards", shards, "mode", mode)
	return nil
}
