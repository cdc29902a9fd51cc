package control_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardbridge/shardbridge/fakes/clock"
	"github.com/shardbridge/shardbridge/fakes/control"
	"github.com/shardbridge/shardbridge/fakes/fault"
	"github.com/shardbridge/shardbridge/fakes/kafka"
)

// call sends one control request and decodes the JSON answer into out (if
// non-nil); it returns the status.
func call(t *testing.T, h http.Handler, method, path, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if out != nil && rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, rec.Body.String(), err)
		}
	}
	return rec.Code
}

func TestFaultRoutes(t *testing.T) {
	inj := fault.New()
	h := control.New(control.WithFaults(inj))
	awsSide := httptest.NewServer(inj.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "{}")
	})))
	t.Cleanup(awsSide.Close)

	var added struct{ ID string }
	if s := call(t, h, "POST", "/_shardbridge/faults/rules",
		`{"name":"slow reads","service":"kinesis","operations":["GetRecords"],"action":"throttle","count":2}`, &added); s != http.StatusCreated || added.ID == "" {
		t.Fatalf("add: %d %+v", s, added)
	}
	var rules []fault.RuleStatus
	call(t, h, "GET", "/_shardbridge/faults/rules", "", &rules)
	if len(rules) != 1 || rules[0].ID != added.ID || rules[0].Rule.Name != "slow reads" || rules[0].Rule.Count != 2 {
		t.Fatalf("rules = %+v", rules)
	}

	for range 3 {
		req, _ := http.NewRequest("POST", awsSide.URL, strings.NewReader(`{"ShardIterator":"x"}`))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.GetRecords")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var evs struct {
		Events []fault.Event
		Counts map[string]int
		Total  int
	}
	call(t, h, "GET", "/_shardbridge/faults/events", "", &evs)
	if evs.Total != 2 || evs.Counts["throttle"] != 2 || len(evs.Events) != 2 || evs.Events[0].RuleName != "slow reads" {
		t.Fatalf("events = %+v", evs)
	}

	if s := call(t, h, "DELETE", "/_shardbridge/faults/rules/"+added.ID, "", nil); s != http.StatusNoContent {
		t.Fatalf("remove: %d", s)
	}
	if s := call(t, h, "DELETE", "/_shardbridge/faults/rules/"+added.ID, "", nil); s != http.StatusNotFound {
		t.Fatalf("remove again: %d", s)
	}
	call(t, h, "POST", "/_shardbridge/faults/rules", `{"action":"latency","latency":"5ms"}`, nil)
	call(t, h, "POST", "/_shardbridge/faults/rules", `{"action":"drop-connection","probability":0.1}`, nil)
	if s := call(t, h, "DELETE", "/_shardbridge/faults/rules", "", nil); s != http.StatusNoContent || len(inj.Rules()) != 0 {
		t.Fatalf("clear: %d, %d rules left", s, len(inj.Rules()))
	}

	for _, bad := range []string{
		`{"action":"explode"}`,
		`{"action":"throttle","operation":"GetRecords"}`, // misspelt selector
		`{"action":"latency"}`,
		`not json`,
	} {
		var e struct{ Error string }
		if s := call(t, h, "POST", "/_shardbridge/faults/rules", bad, &e); s != http.StatusBadRequest || e.Error == "" {
			t.Errorf("%s: status %d error %q", bad, s, e.Error)
		}
	}
	if len(inj.Rules()) != 0 {
		t.Errorf("bad rules were installed: %+v", inj.Rules())
	}
}

type fakeKinesis struct {
	mu      sync.Mutex
	limits  map[string]bool
	streams map[string]int
}

func (k *fakeKinesis) SetLimits(stream string, enabled bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.limits[stream] = enabled
}

func (k *fakeKinesis) CreateStream(name string, shards int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.streams[name]; ok {
		return io.ErrUnexpectedEOF
	}
	k.streams[name] = shards
	return nil
}

func TestKinesisRoutes(t *testing.T) {
	k := &fakeKinesis{limits: map[string]bool{}, streams: map[string]int{}}
	h := control.New(control.WithKinesis(k))
	if s := call(t, h, "POST", "/_shardbridge/kinesis/limits", `{"stream":"orders","enabled":false}`, nil); s != http.StatusNoContent {
		t.Fatalf("limits: %d", s)
	}
	if on, ok := k.limits["orders"]; !ok || on {
		t.Fatalf("limits = %v", k.limits)
	}
	if s := call(t, h, "POST", "/_shardbridge/kinesis/limits", `{"stream":"orders"}`, nil); s != http.StatusBadRequest {
		t.Errorf("limits without enabled: %d", s)
	}
	if s := call(t, h, "POST", "/_shardbridge/kinesis/streams", `{"name":"orders","shards":4}`, nil); s != http.StatusCreated || k.streams["orders"] != 4 {
		t.Fatalf("create stream: %d %v", s, k.streams)
	}
	if s := call(t, h, "POST", "/_shardbridge/kinesis/streams", `{"name":"orders","shards":4}`, nil); s != http.StatusConflict {
		t.Errorf("duplicate stream: %d", s)
	}
}

func TestClockRoutes(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewManual(start)
	h := control.New(control.WithClock(clk), control.WithPrefix("/ctl/"))
	var st struct {
		Now    time.Time
		Offset string
	}
	if s := call(t, h, "POST", "/ctl/clock/advance", `{"duration":"5m"}`, &st); s != http.StatusOK {
		t.Fatalf("advance: %d", s)
	}
	if !clk.Now().Equal(start.Add(5*time.Minute)) || !st.Now.Equal(clk.Now()) {
		t.Fatalf("clock at %v, answer %v", clk.Now(), st.Now)
	}
	call(t, h, "GET", "/ctl/clock", "", &st)
	if !st.Now.Equal(start.Add(5 * time.Minute)) {
		t.Errorf("GET clock = %+v", st)
	}
	for _, bad := range []string{`{"duration":"-1m"}`, `{"duration":"soon"}`, `{}`} {
		if s := call(t, h, "POST", "/ctl/clock/advance", bad, nil); s != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, s)
		}
	}
}

func TestUnconfiguredRoutesAnswer501(t *testing.T) {
	h := control.New()
	for _, path := range []string{"/faults/rules", "/clock", "/faults/events"} {
		if s := call(t, h, "GET", "/_shardbridge"+path, "", nil); s != http.StatusNotImplemented {
			t.Errorf("%s: %d", path, s)
		}
	}
	if s := call(t, h, "POST", "/_shardbridge/kafka/restart", "", nil); s != http.StatusNotImplemented {
		t.Errorf("kafka restart: %d", s)
	}
	var hs map[string]string
	if s := call(t, h, "GET", "/_shardbridge/health", "", &hs); s != http.StatusOK || hs["status"] != "ok" {
		t.Errorf("health: %d %v", s, hs)
	}
}

func TestKafkaRoutes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := kafka.New(ctx, kafka.WithTopic("orders", 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	h := control.New(control.WithKafka(c))
	before := c.Brokers()

	var st struct {
		Brokers []string
		Running bool
	}
	if s := call(t, h, "POST", "/_shardbridge/kafka/stop", "", &st); s != http.StatusOK || st.Running || c.Running() {
		t.Fatalf("stop: %d %+v", s, st)
	}
	if s := call(t, h, "POST", "/_shardbridge/kafka/start", "", &st); s != http.StatusOK || !st.Running {
		t.Fatalf("start: %d %+v", s, st)
	}
	if s := call(t, h, "POST", "/_shardbridge/kafka/restart", "", &st); s != http.StatusOK || !slices.Equal(st.Brokers, before) {
		t.Fatalf("restart: %d %+v (before %v)", s, st, before)
	}
	if s := call(t, h, "POST", "/_shardbridge/kafka/topics", `{"name":"more","partitions":2}`, nil); s != http.StatusCreated || c.Kfake().TopicInfo("more") == nil {
		t.Fatalf("create topic: %d", s)
	}
	if s := call(t, h, "POST", "/_shardbridge/kafka/leader", `{"topic":"orders","partition":0}`, nil); s != http.StatusNoContent {
		t.Fatalf("leader: %d", s)
	}
	if s := call(t, h, "POST", "/_shardbridge/kafka/leader", `{"topic":"missing","partition":0}`, nil); s != http.StatusBadRequest {
		t.Errorf("leader of missing topic: %d", s)
	}
	if s := call(t, h, "POST", "/_shardbridge/kafka/latency", `{"latency":"0s"}`, nil); s != http.StatusNoContent {
		t.Fatalf("latency: %d", s)
	}
	if s := call(t, h, "POST", "/_shardbridge/kafka/faults", `{"type":"fail-produce","topic":"orders","code":6,"count":2}`, nil); s != http.StatusNoContent {
		t.Fatalf("fail-produce: %d", s)
	}
	if s := call(t, h, "POST", "/_shardbridge/kafka/faults", `{"type":"timeout-after-append","topic":"orders"}`, nil); s != http.StatusNoContent {
		t.Fatalf("timeout-after-append: %d", s)
	}
	for _, bad := range []string{`{"type":"fail-produce","topic":"orders"}`, `{"type":"melt","topic":"orders"}`, `{"type":"fail-produce","code":6}`} {
		if s := call(t, h, "POST", "/_shardbridge/kafka/faults", bad, nil); s != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, s)
		}
	}
	if s := call(t, h, "POST", "/_shardbridge/kafka/explode", "", nil); s != http.StatusNotFound {
		t.Errorf("unknown verb: %d", s)
	}
}
