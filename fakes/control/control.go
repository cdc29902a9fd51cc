// Package control is the HTTP control API of Shardbridge's emulator binary
// (fakes/cmd/emulator): JSON over HTTP for tools, the compose stack and
// non-Go test suites to drive faults, limits, the clock and the Kafka broker.
//
// Every route lives under a prefix (default "/_shardbridge"). Requests and
// responses are JSON; errors are {"error": "..."} with a 4xx/5xx status. A
// route whose backend was not configured answers 501.
//
//	GET    /health                    {"status":"ok"}
//	GET    /faults/rules              [{"id","rule","fired"}]
//	POST   /faults/rules              body: a fault.Rule  → 201 {"id":"r1"}
//	DELETE /faults/rules              remove every rule   → 204
//	DELETE /faults/rules/{id}         remove one rule     → 204, 404 if unknown
//	GET    /faults/events             {"events":[...],"counts":{"throttle":3},"total":3}
//	POST   /kinesis/streams           {"name":"s","shards":2}        → 201
//	POST   /kinesis/limits            {"stream":"s","enabled":false} → 204
//	GET    /clock                     {"now":"RFC3339","offset":"5m0s"}
//	POST   /clock/advance             {"duration":"5m"}  → {"now","offset"}
//	POST   /kafka/restart|stop|start  → {"brokers":[...],"running":bool}
//	POST   /kafka/topics              {"name":"t","partitions":3}    → 201
//	POST   /kafka/faults              {"type":"fail-produce"|"timeout-after-append","topic":"t","code":6,"count":1} → 204
//	POST   /kafka/leader              {"topic":"t","partition":0}    → 204
//	POST   /kafka/latency             {"latency":"100ms"}            → 204
//
// A fault rule's JSON is fault.Rule's: {"name","service","operations",
// "stream","shard","table","probability","count","from","until","action",
// "latency":"250ms"}.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/fault"
)

// DefaultPrefix is where the routes live unless WithPrefix says otherwise.
const DefaultPrefix = "/_shardbridge"

// Kinesis is what the API needs from the Kinesis emulator.
type Kinesis interface {
	SetLimits(stream string, enabled bool)
	CreateStream(name string, shards int) error
}

// Kafka is what the API needs from the embedded broker (*kafka.Cluster).
type Kafka interface {
	Brokers() []string
	Running() bool
	Restart(ctx context.Context) error
	Stop()
	Start(ctx context.Context) error
	CreateTopic(ctx context.Context, name string, partitions int32) error
	FailProduce(topic string, code int16, n int)
	TimeoutAfterAppend(topic string, n int)
	MoveLeader(topic string, partition int32) error
	SetLatency(d time.Duration)
}

// Option configures the handler.
type Option func(*Handler)

// WithFaults serves the fault routes on inj.
func WithFaults(inj *fault.Injector) Option { return func(h *Handler) { h.faults = inj } }

// WithClock serves the clock routes on c.
func WithClock(c *clock.Clock) Option { return func(h *Handler) { h.clock = c } }

// WithKinesis serves the Kinesis routes on k.
func WithKinesis(k Kinesis) Option { return func(h *Handler) { h.kinesis = k } }

// WithKafka serves the Kafka routes on k.
func WithKafka(k Kafka) Option { return func(h *Handler) { h.kafka = k } }

// WithLogger logs every state-changing call (default: discard).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithPrefix mounts the routes under p instead of DefaultPrefix ("" mounts
// them at the root).
func WithPrefix(p string) Option { return func(h *Handler) { h.prefix = strings.TrimSuffix(p, "/") } }

// Handler is the control API.
type Handler struct {
	faults  *fault.Injector
	clock   *clock.Clock
	kinesis Kinesis
	kafka   Kafka
	log     *slog.Logger
	prefix  string
	mux     *http.ServeMux
}

// New returns the control API handler.
func New(opts ...Option) *Handler {
	h := &Handler{prefix: DefaultPrefix}
	for _, o := range opts {
		o(h)
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	m := http.NewServeMux()
	p := h.prefix
	m.HandleFunc("GET "+p+"/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET "+p+"/faults/rules", h.needFaults(h.listRules))
	m.HandleFunc("POST "+p+"/faults/rules", h.needFaults(h.addRule))
	m.HandleFunc("DELETE "+p+"/faults/rules", h.needFaults(h.clearRules))
	m.HandleFunc("DELETE "+p+"/faults/rules/{id}", h.needFaults(h.removeRule))
	m.HandleFunc("GET "+p+"/faults/events", h.needFaults(h.listEvents))
	m.HandleFunc("POST "+p+"/kinesis/streams", h.needKinesis(h.createStream))
	m.HandleFunc("POST "+p+"/kinesis/limits", h.needKinesis(h.setLimits))
	m.HandleFunc("GET "+p+"/clock", h.needClock(h.getClock))
	m.HandleFunc("POST "+p+"/clock/advance", h.needClock(h.advanceClock))
	m.HandleFunc("POST "+p+"/kafka/{verb}", h.needKafka(h.kafkaVerb))
	h.mux = m
	return h
}

// Prefix is where the routes are mounted.
func (h *Handler) Prefix() string { return h.prefix }

// ServeHTTP serves the control API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) needFaults(fn http.HandlerFunc) http.HandlerFunc {
	return need(h.faults != nil, "fault injection", fn)
}
func (h *Handler) needKinesis(fn http.HandlerFunc) http.HandlerFunc {
	return need(h.kinesis != nil, "kinesis emulator", fn)
}
func (h *Handler) needClock(fn http.HandlerFunc) http.HandlerFunc {
	return need(h.clock != nil, "clock", fn)
}
func (h *Handler) needKafka(fn http.HandlerFunc) http.HandlerFunc {
	return need(h.kafka != nil, "kafka broker", fn)
}

func need(ok bool, what string, fn http.HandlerFunc) http.HandlerFunc {
	if ok {
		return fn
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotImplemented, errors.New(what+" is not configured"))
	}
}

func (h *Handler) listRules(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.faults.Rules())
}

func (h *Handler) addRule(w http.ResponseWriter, r *http.Request) {
	var rule fault.Rule
	if !readJSON(w, r, &rule) {
		return
	}
	if err := rule.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	id := h.faults.Add(rule)
	h.log.Info("control: fault rule added", "id", id, "action", string(rule.Action))
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func (h *Handler) clearRules(w http.ResponseWriter, _ *http.Request) {
	h.faults.Clear()
	h.log.Info("control: fault rules cleared")
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) removeRule(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !h.faults.Remove(id) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no fault rule %q", id))
		return
	}
	h.log.Info("control: fault rule removed", "id", id)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) listEvents(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Events []fault.Event        `json:"events"`
		Counts map[fault.Action]int `json:"counts"`
		Total  int                  `json:"total"`
	}{h.faults.Events(), h.faults.Counts(), h.faults.Count("")})
}

func (h *Handler) createStream(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name   string `json:"name"`
		Shards int    `json:"shards"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.Name == "" || in.Shards < 1 {
		writeError(w, http.StatusBadRequest, errors.New("want {\"name\": string, \"shards\": >= 1}"))
		return
	}
	if err := h.kinesis.CreateStream(in.Name, in.Shards); err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	h.log.Info("control: stream created", "stream", in.Name, "shards", in.Shards)
	writeJSON(w, http.StatusCreated, in)
}

func (h *Handler) setLimits(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Stream  string `json:"stream"`
		Enabled *bool  `json:"enabled"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.Stream == "" || in.Enabled == nil {
		writeError(w, http.StatusBadRequest, errors.New("want {\"stream\": string, \"enabled\": bool}"))
		return
	}
	h.kinesis.SetLimits(in.Stream, *in.Enabled)
	h.log.Info("control: kinesis limits", "stream", in.Stream, "enabled", *in.Enabled)
	w.WriteHeader(http.StatusNoContent)
}

type clockState struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
}

func (h *Handler) clockState() clockState {
	return clockState{Now: h.clock.Now(), Offset: h.clock.Offset().String()}
}

func (h *Handler) getClock(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.clockState())
}

func (h *Handler) advanceClock(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Duration string `json:"duration"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	d, err := time.ParseDuration(in.Duration)
	if err != nil || d <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("want {\"duration\": a positive Go duration such as \"5m\"}, got %q", in.Duration))
		return
	}
	h.clock.Advance(d)
	h.log.Info("control: clock advanced", "by", d.String(), "now", h.clock.Now())
	writeJSON(w, http.StatusOK, h.clockState())
}

func (h *Handler) kafkaState(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, struct {
		Brokers []string `json:"brokers"`
		Running bool     `json:"running"`
	}{h.kafka.Brokers(), h.kafka.Running()})
}

func (h *Handler) kafkaVerb(w http.ResponseWriter, r *http.Request) {
	verb := r.PathValue("verb")
	switch verb {
	case "restart":
		if err := h.kafka.Restart(r.Context()); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		h.log.Info("control: kafka restarted")
		h.kafkaState(w)
	case "stop":
		h.kafka.Stop()
		h.log.Info("control: kafka stopped")
		h.kafkaState(w)
	case "start":
		if err := h.kafka.Start(r.Context()); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		h.log.Info("control: kafka started")
		h.kafkaState(w)
	case "topics":
		h.kafkaTopic(w, r)
	case "faults":
		h.kafkaFault(w, r)
	case "leader":
		var in struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		if err := h.kafka.MoveLeader(in.Topic, in.Partition); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		h.log.Info("control: kafka leader moved", "topic", in.Topic, "partition", in.Partition)
		w.WriteHeader(http.StatusNoContent)
	case "latency":
		var in struct {
			Latency string `json:"latency"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		d, err := time.ParseDuration(in.Latency)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("want {\"latency\": a Go duration such as \"100ms\" or \"0s\"}, got %q", in.Latency))
			return
		}
		h.kafka.SetLatency(d)
		h.log.Info("control: kafka latency", "latency", d.String())
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown kafka action %q", verb))
	}
}

func (h *Handler) kafkaTopic(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name       string `json:"name"`
		Partitions int32  `json:"partitions"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.Name == "" || in.Partitions < 1 {
		writeError(w, http.StatusBadRequest, errors.New("want {\"name\": string, \"partitions\": >= 1}"))
		return
	}
	if err := h.kafka.CreateTopic(r.Context(), in.Name, in.Partitions); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	h.log.Info("control: kafka topic created", "topic", in.Name, "partitions", in.Partitions)
	writeJSON(w, http.StatusCreated, in)
}

func (h *Handler) kafkaFault(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Type  string `json:"type"`
		Topic string `json:"topic"`
		Code  int16  `json:"code"`
		Count int    `json:"count"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.Topic == "" {
		writeError(w, http.StatusBadRequest, errors.New("kafka fault: topic is required"))
		return
	}
	if in.Count <= 0 {
		in.Count = 1
	}
	switch in.Type {
	case "fail-produce":
		if in.Code <= 0 {
			writeError(w, http.StatusBadRequest, errors.New("fail-produce: a positive Kafka error code is required (e.g. 6 NOT_LEADER_FOR_PARTITION)"))
			return
		}
		h.kafka.FailProduce(in.Topic, in.Code, in.Count)
	case "timeout-after-append":
		h.kafka.TimeoutAfterAppend(in.Topic, in.Count)
	default:
		writeError(w, http.StatusBadRequest, fmt.Errorf("kafka fault: unknown type %q (want fail-produce or timeout-after-append)", in.Type))
		return
	}
	h.log.Info("control: kafka fault", "type", in.Type, "topic", in.Topic, "code", in.Code, "count", in.Count)
	w.WriteHeader(http.StatusNoContent)
}

// readJSON decodes the body strictly (unknown fields are mistakes worth
// reporting) and answers 400 itself when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("bad JSON body: %w", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
