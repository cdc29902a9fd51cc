// Package fault is Shardbridge's one fault layer for the AWS side (Kinesis and
// DynamoDB).
//
// An Injector holds Rules. Each rule matches requests by service, operation,
// Kinesis stream and shard, DynamoDB table, a time window on the injector's
// clock, a probability (drawn from a seeded RNG, so a run is reproducible) and
// a maximum count, and answers a matching request with one Action: an
// AWS-shaped throttle, ExpiredIteratorException, InternalFailure,
// ServiceUnavailable, added latency, a dropped TCP connection, or a lost
// response (the request takes effect, the client gets InternalFailure).
//
// The same rules serve two deployments through one code path:
//   - Middleware wraps an in-process emulator (fakes/kinesis, fakes/dynamodb).
//   - NewProxy is a reverse proxy in front of any endpoint (kinesis-mock,
//     LocalStack, real AWS). It never re-signs requests: the client's Host
//     header and signature are forwarded untouched.
//
// Both parse X-Amz-Target and the JSON request body to learn what a request
// touches. GetRecords names only an iterator, so the injector learns
// iterator → (stream, shard) from every GetShardIterator response and every
// GetRecords response's NextShardIterator; that map is bounded (oldest
// iterators are forgotten first). Only those two responses are buffered;
// every other response streams straight through.
//
// Rules are evaluated in the order they were added. Every matching latency
// rule adds its delay; the first matching rule with any other action answers
// the request. Every injected fault is recorded as an Event and counted per
// action; counts are never capped, the event list keeps at most
// WithMaxEvents of the newest events. All methods are safe for concurrent use.
package fault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shardbridge/shardbridge/fakes/clock"
)

// Action is what a firing rule does to the request.
type Action string

// The actions a rule can take.
const (
	// Throttle answers ProvisionedThroughputExceededException (HTTP 400).
	Throttle Action = "throttle"
	// ExpiredIterator answers ExpiredIteratorException (HTTP 400).
	ExpiredIterator Action = "expired-iterator"
	// InternalFailure answers HTTP 500: InternalFailure for Kinesis,
	// InternalServerError for DynamoDB (the codes those services use).
	InternalFailure Action = "internal-failure"
	// ServiceUnavailable answers HTTP 503 ServiceUnavailable.
	ServiceUnavailable Action = "service-unavailable"
	// Latency sleeps Rule.Latency, then lets the request through (or on to
	// another rule's action).
	Latency Action = "latency"
	// DropConnection closes the client's TCP connection without answering.
	DropConnection Action = "drop-connection"
	// LoseResponse lets the request reach the service and take effect, then
	// answers HTTP 500 as InternalFailure does: the ambiguous failure after
	// which a client cannot tell whether its write happened (a conditional
	// write retried blindly then fails its own condition).
	LoseResponse Action = "lose-response"
)

// Actions lists every valid action.
func Actions() []Action {
	return []Action{Throttle, ExpiredIterator, InternalFailure, ServiceUnavailable, Latency, DropConnection, LoseResponse}
}

// Service names as they appear in rules and events.
const (
	ServiceKinesis  = "kinesis"
	ServiceDynamoDB = "dynamodb"
)

// Rule selects requests and says what to do to them. Every non-zero selector
// must match (AND).
type Rule struct {
	Name        string        `json:"name,omitempty"`        // optional label, shows in events
	Service     string        `json:"service,omitempty"`     // "kinesis" | "dynamodb" | "" (any)
	Operations  []string      `json:"operations,omitempty"`  // e.g. "GetRecords", "PutItem"; empty = any
	Stream      string        `json:"stream,omitempty"`      // Kinesis stream name; "" = any
	Shard       string        `json:"shard,omitempty"`       // shard id; GetRecords matched through learned iterators
	Table       string        `json:"table,omitempty"`       // DynamoDB table; "" = any
	Probability float64       `json:"probability,omitempty"` // 0 or 1 = always; otherwise the chance per matching request
	Count       int           `json:"count,omitempty"`       // max injections; 0 = unlimited
	From        time.Time     `json:"from,omitzero"`         // window start on the injector's clock; zero = open
	Until       time.Time     `json:"until,omitzero"`        // window end (exclusive); zero = open
	Action      Action        `json:"action"`
	Latency     time.Duration `json:"latency,omitempty"` // for "latency"; JSON as a Go duration string ("250ms")
}

// Validate reports what is wrong with a rule, if anything.
func (r Rule) Validate() error {
	if !slices.Contains(Actions(), r.Action) {
		return fmt.Errorf("fault rule: unknown action %q", r.Action)
	}
	switch strings.ToLower(r.Service) {
	case "", ServiceKinesis, ServiceDynamoDB:
	default:
		return fmt.Errorf("fault rule: unknown service %q (want kinesis, dynamodb or empty)", r.Service)
	}
	if r.Probability < 0 || r.Probability > 1 {
		return fmt.Errorf("fault rule: probability %v outside [0, 1]", r.Probability)
	}
	if r.Count < 0 {
		return fmt.Errorf("fault rule: negative count %d", r.Count)
	}
	if r.Action == Latency && r.Latency <= 0 {
		return errors.New("fault rule: latency action needs a positive latency")
	}
	if !r.From.IsZero() && !r.Until.IsZero() && !r.Until.After(r.From) {
		return errors.New("fault rule: until must be after from")
	}
	return nil
}

// ruleJSON is Rule with Latency as a readable duration; the control API and
// config files speak it.
type ruleJSON struct {
	Name        string    `json:"name,omitempty"`
	Service     string    `json:"service,omitempty"`
	Operations  []string  `json:"operations,omitempty"`
	Stream      string    `json:"stream,omitempty"`
	Shard       string    `json:"shard,omitempty"`
	Table       string    `json:"table,omitempty"`
	Probability float64   `json:"probability,omitempty"`
	Count       int       `json:"count,omitempty"`
	From        time.Time `json:"from,omitzero"`
	Until       time.Time `json:"until,omitzero"`
	Action      Action    `json:"action"`
	Latency     any       `json:"latency,omitempty"`
}

// MarshalJSON writes Latency as a duration string such as "250ms".
func (r Rule) MarshalJSON() ([]byte, error) {
	j := ruleJSON{r.Name, r.Service, r.Operations, r.Stream, r.Shard, r.Table,
		r.Probability, r.Count, r.From, r.Until, r.Action, nil}
	if r.Latency != 0 {
		j.Latency = r.Latency.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON accepts Latency as a duration string ("250ms") or a number of
// milliseconds. Unknown fields are an error: a misspelt selector would
// otherwise widen the rule to every request.
func (r *Rule) UnmarshalJSON(b []byte) error {
	var j ruleJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("fault rule: %w", err)
	}
	*r = Rule{Name: j.Name, Service: j.Service, Operations: j.Operations, Stream: j.Stream,
		Shard: j.Shard, Table: j.Table, Probability: j.Probability, Count: j.Count,
		From: j.From, Until: j.Until, Action: j.Action}
	switch v := j.Latency.(type) {
	case nil:
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("fault rule latency: %w", err)
		}
		r.Latency = d
	case float64:
		r.Latency = time.Duration(v * float64(time.Millisecond))
	default:
		return fmt.Errorf("fault rule latency: want a duration string or milliseconds, got %T", v)
	}
	return nil
}

// RuleStatus is a rule as installed: its id and how often it fired.
type RuleStatus struct {
	ID    string `json:"id"`
	Rule  Rule   `json:"rule"`
	Fired int    `json:"fired"`
}

// Event is one injected fault.
type Event struct {
	Time      time.Time     `json:"time"` // on the injector's clock
	RuleID    string        `json:"ruleId"`
	RuleName  string        `json:"ruleName,omitempty"`
	Service   string        `json:"service"`
	Operation string        `json:"operation"`
	Stream    string        `json:"stream,omitempty"`
	Shard     string        `json:"shard,omitempty"`
	Table     string        `json:"table,omitempty"`
	Action    Action        `json:"action"`
	Latency   time.Duration `json:"latency,omitempty"` // for latency events
}

// Option configures an Injector.
type Option func(*Injector)

// WithClock sets the clock that rule windows and event times use (default:
// real time).
func WithClock(c *clock.Clock) Option { return func(i *Injector) { i.clock = c } }

// WithSeed seeds the RNG behind probabilistic rules (default 1), so the same
// seed and the same request sequence inject the same faults.
func WithSeed(seed int64) Option { return func(i *Injector) { i.seed = seed } }

// WithLogger logs every injected fault at Info level (default: discard).
func WithLogger(l *slog.Logger) Option { return func(i *Injector) { i.log = l } }

// WithMaxEvents bounds the retained event list to at most n of the newest
// events (default 100,000; n <= 0 keeps every event). When the list is full
// the oldest quarter is dropped at once. Count is never bounded.
func WithMaxEvents(n int) Option { return func(i *Injector) { i.maxEvents = n } }

// WithIteratorCapacity bounds the learned iterator → shard map (default
// 65,536 iterators; the oldest are forgotten first).
func WithIteratorCapacity(n int) Option { return func(i *Injector) { i.iterCap = n } }

// WithMaxBody bounds the request body the injector buffers to parse (default
// 64 MiB, above anything either emulator accepts). A larger body streams on
// unbuffered; rules selecting on stream, shard or table do not match it.
func WithMaxBody(n int64) Option { return func(i *Injector) { i.maxBody = n } }

// Injector decides, per request, which fault (if any) to inject.
type Injector struct {
	clock     *clock.Clock
	seed      int64
	log       *slog.Logger
	maxEvents int
	iterCap   int
	maxBody   int64

	mu     sync.Mutex
	rng    *rand.Rand
	nextID int
	rules  []*installed
	events []Event
	counts map[Action]int
	reqID  uint64

	iters *iteratorMap
}

type installed struct {
	id    string
	rule  Rule
	fired int
}

// New returns an Injector with no rules.
func New(opts ...Option) *Injector {
	i := &Injector{seed: 1, maxEvents: 100_000, iterCap: 65_536, maxBody: 64 << 20, counts: map[Action]int{}}
	for _, o := range opts {
		o(i)
	}
	if i.clock == nil {
		i.clock = clock.New()
	}
	if i.log == nil {
		i.log = slog.New(slog.DiscardHandler)
	}
	if i.iterCap <= 0 {
		i.iterCap = 65_536
	}
	if i.maxBody <= 0 {
		i.maxBody = 64 << 20
	}
	i.rng = rand.New(rand.NewPCG(uint64(i.seed), uint64(i.seed)^0x5348415244)) //nolint:gosec // reproducible chaos, not crypto
	i.iters = newIteratorMap(i.iterCap)
	return i
}

// Add installs r and returns its id. A rule that fails Validate is not
// installed and Add returns "" (callers that take rules from users should
// call Validate first to report why).
func (i *Injector) Add(r Rule) string {
	if err := r.Validate(); err != nil {
		i.log.Error("fault rule rejected", "err", err)
		return ""
	}
	r.Service = strings.ToLower(r.Service)
	r.Operations = slices.Clone(r.Operations)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.nextID++
	id := "r" + strconv.Itoa(i.nextID)
	i.rules = append(i.rules, &installed{id: id, rule: r})
	i.log.Info("fault rule added", "id", id, "name", r.Name, "action", string(r.Action))
	return id
}

// Remove uninstalls the rule with the given id and reports whether it existed.
func (i *Injector) Remove(id string) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	n := len(i.rules)
	i.rules = slices.DeleteFunc(i.rules, func(r *installed) bool { return r.id == id })
	return len(i.rules) != n
}

// Clear uninstalls every rule. Events and counts are kept.
func (i *Injector) Clear() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.rules = nil
}

// Rules lists the installed rules in evaluation order.
func (i *Injector) Rules() []RuleStatus {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make([]RuleStatus, 0, len(i.rules))
	for _, r := range i.rules {
		rr := r.rule
		rr.Operations = slices.Clone(rr.Operations)
		out = append(out, RuleStatus{ID: r.id, Rule: rr, Fired: r.fired})
	}
	return out
}

// Events returns the retained injected faults, oldest first.
func (i *Injector) Events() []Event {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.events)
}

// Count returns how many faults with the given action were injected since
// the injector was created ("" counts every action).
func (i *Injector) Count(action Action) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	if action == "" {
		n := 0
		for _, c := range i.counts {
			n += c
		}
		return n
	}
	return i.counts[action]
}

// Counts returns the number of injected faults per action.
func (i *Injector) Counts() map[Action]int {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make(map[Action]int, len(i.counts))
	for a, c := range i.counts {
		out[a] = c
	}
	return out
}

// LearnedIterators reports how many iterator → shard mappings are held.
func (i *Injector) LearnedIterators() int { return i.iters.len() }

// decision is what to do with one request.
type decision struct {
	latency time.Duration
	action  Action // "" = forward
	event   Event  // the terminal event, for error messages
}

// decide evaluates the rules against req, records the events of every rule
// that fires, and returns what to do.
func (i *Injector) decide(req *request) decision {
	var d decision
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.rules) == 0 {
		return d
	}
	now := i.clock.Now()
	for _, r := range i.rules {
		if !i.matches(r, req, now) {
			continue
		}
		// Roll only for rules that otherwise match, so adding an unrelated
		// rule does not shift a seeded sequence.
		if p := r.rule.Probability; p > 0 && p < 1 && i.rng.Float64() >= p {
			continue
		}
		r.fired++
		ev := req.event(r, now, i.iters)
		i.record(ev)
		if r.rule.Action == Latency {
			d.latency += r.rule.Latency
			continue
		}
		d.action, d.event = r.rule.Action, ev
		break
	}
	return d
}

func (i *Injector) matches(r *installed, req *request, now time.Time) bool {
	rule := &r.rule
	if rule.Count > 0 && r.fired >= rule.Count {
		return false
	}
	if rule.Service != "" && rule.Service != req.service {
		return false
	}
	if len(rule.Operations) > 0 && !slices.Contains(rule.Operations, req.op) {
		return false
	}
	if !rule.From.IsZero() && now.Before(rule.From) {
		return false
	}
	if !rule.Until.IsZero() && !now.Before(rule.Until) {
		return false
	}
	if rule.Stream == "" && rule.Shard == "" && rule.Table == "" {
		return true
	}
	req.parse(i.iters)
	if rule.Stream != "" && rule.Stream != req.stream {
		return false
	}
	if rule.Shard != "" && !slices.Contains(req.shards, rule.Shard) {
		return false
	}
	if rule.Table != "" && !slices.Contains(req.tables, rule.Table) {
		return false
	}
	return true
}

// record appends ev under i.mu.
func (i *Injector) record(ev Event) {
	i.counts[ev.Action]++
	i.events = append(i.events, ev)
	if i.maxEvents > 0 && len(i.events) > i.maxEvents {
		// Drop the oldest quarter at once so trimming stays amortised O(1).
		drop := len(i.events) - i.maxEvents + i.maxEvents/4
		i.events = slices.Delete(i.events, 0, min(drop, len(i.events)))
	}
	i.log.Info("fault injected", "rule", ev.RuleID, "name", ev.RuleName, "action", string(ev.Action),
		"service", ev.Service, "op", ev.Operation, "stream", ev.Stream, "shard", ev.Shard, "table", ev.Table)
}

func (i *Injector) nextRequestID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.reqID++
	return fmt.Sprintf("shardbridge-fault-%08d", i.reqID)
}
