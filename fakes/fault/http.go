package fault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"
)

// Middleware returns next wrapped by the injector: matching requests get
// their fault instead of (or, for latency, before) reaching next.
func (i *Injector) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { i.serve(w, r, next) })
}

// NewProxy returns a reverse proxy to target (for example
// "http://127.0.0.1:4566") with inj's faults in front of it. Requests are
// forwarded byte for byte with the client's Host header, so SigV4 signatures
// stay valid: the proxy never re-signs. Upstream gzip is left to the client;
// when the client asks for no encoding the proxy asks upstream for identity.
func NewProxy(target string, inj *Injector) (http.Handler, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("fault proxy target %q: %w", target, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("fault proxy target %q: want http(s)://host[:port]", target)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// The proxy multiplexes every shard consumer onto one upstream, so keep
	// enough idle connections for them all.
	transport.MaxIdleConnsPerHost = 256
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the signature covers Host
			if pr.Out.Header.Get("Accept-Encoding") == "" {
				// Stop Go's transport from transparently gunzipping, which
				// would make the bytes (and DynamoDB's CRC32) differ.
				pr.Out.Header.Set("Accept-Encoding", "identity")
			}
		},
		Transport:     transport,
		FlushInterval: -1, // event streams (SubscribeToShard) must not be held back
		ErrorLog:      slog.NewLogLogger(inj.log.Handler(), slog.LevelWarn),
	}
	return inj.Middleware(rp), nil
}

// serve is the one code path of Middleware and NewProxy.
func (i *Injector) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if r.Header.Get("X-Amz-Target") == "" {
		next.ServeHTTP(w, r) // not an AWS JSON call (health checks, event streams)
		return
	}
	// AWS JSON requests are small (PutRecords tops out near 7 MB in base64),
	// so buffering them whole is cheap and lets both the rules and next read
	// the body. A body past WithMaxBody is not buffered: it streams on to
	// next (which refuses it), and rules that select on its content do not
	// match it.
	body, whole, err := readBody(r, i.maxBody)
	if err != nil {
		_ = r.Body.Close()
		return // the client went away mid-request
	}
	if whole {
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	} else {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		body = nil
	}

	req := newRequest(r, body)
	if req.service == "" {
		next.ServeHTTP(w, r)
		return
	}
	d := i.decide(req)
	if d.latency > 0 {
		t := time.NewTimer(d.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the caller gave up; nothing reaches next
		}
	}
	switch d.action {
	case "":
	case DropConnection:
		dropConnection(w)
		return
	case LoseResponse:
		next.ServeHTTP(&bufferedResponse{header: make(http.Header)}, r)
		i.writeFault(w, req, d)
		return
	default:
		i.writeFault(w, req, d)
		return
	}
	if !req.learnsIterators() {
		next.ServeHTTP(w, r)
		return
	}
	// Learn the iterator before the client sees it, so its very next
	// GetRecords already matches shard rules.
	rec := &bufferedResponse{header: make(http.Header)}
	next.ServeHTTP(rec, r)
	i.learn(req, rec.statusCode(), rec.header, rec.body.Bytes())
	rec.copyTo(w)
}

// maxPrealloc caps how much a declared Content-Length may make us allocate
// up front (a lying header must not cost gigabytes).
const maxPrealloc = 16 << 20

// readBody reads the request body in one allocation when its length is
// declared, which the SDKs always do; io.ReadAll's doubling would copy a
// 5 MB PutRecords body several times. whole is false when the body is
// larger than maxBuffered: body is then only its first bytes (possibly
// none) and the rest is still in r.Body.
func readBody(r *http.Request, maxBuffered int64) (body []byte, whole bool, err error) {
	n := r.ContentLength
	switch {
	case n > maxBuffered:
		return nil, false, nil
	case n > 0 && n <= min(maxPrealloc, maxBuffered):
		body = make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, false, err
		}
		// Anything past the declared length is a protocol error upstream;
		// net/http already limits the body to ContentLength.
		return body, true, nil
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, maxBuffered+1))
	if err != nil {
		return nil, false, err
	}
	return body, int64(len(body)) <= maxBuffered, nil
}

// dropConnection closes the client's connection without a response. A reset
// (linger 0) rather than a FIN, so the client sees what a network cut gives.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, a wrapping writer): aborting the handler
		// makes net/http drop the stream or connection instead.
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		raw = nc.NetConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// faultShape is the HTTP status and AWS error code of an action.
func faultShape(service string, a Action) (status int, code string) {
	switch a {
	case Throttle:
		return http.StatusBadRequest, "ProvisionedThroughputExceededException"
	case ExpiredIterator:
		return http.StatusBadRequest, "ExpiredIteratorException"
	case ServiceUnavailable:
		return http.StatusServiceUnavailable, "ServiceUnavailable"
	default: // InternalFailure, LoseResponse
		if service == ServiceDynamoDB {
			return http.StatusInternalServerError, "InternalServerError"
		}
		return http.StatusInternalServerError, "InternalFailure"
	}
}

func faultMessage(d decision) string {
	ev := d.event
	tag := fmt.Sprintf(" (injected by fault rule %s)", ev.RuleID)
	if ev.RuleName != "" {
		tag = fmt.Sprintf(" (injected by fault rule %s %q)", ev.RuleID, ev.RuleName)
	}
	switch d.action {
	case Throttle:
		if ev.Service == ServiceDynamoDB {
			return "The level of configured provisioned throughput for the table was exceeded." + tag
		}
		return fmt.Sprintf("Rate exceeded for shard %s in stream %s.", ev.Shard, ev.Stream) + tag
	case ExpiredIterator:
		return "Iterator expired." + tag
	case ServiceUnavailable:
		return "Service unavailable." + tag
	default:
		return "Internal service error." + tag
	}
}

// writeFault answers with the AWS error body for d.action, shaped the way
// each service's SDK deserialiser expects.
func (i *Injector) writeFault(w http.ResponseWriter, q *request, d decision) {
	status, code := faultShape(q.service, d.action)
	contentType := "application/x-amz-json-1.1"
	typ := code
	if q.service == ServiceDynamoDB {
		contentType = "application/x-amz-json-1.0"
		typ = "com.amazonaws.dynamodb.v20120810#" + code
	}
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{typ, faultMessage(d)})
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-Requestid", i.nextRequestID())
	if q.service == ServiceDynamoDB {
		// The DynamoDB SDK rejects responses whose CRC32 does not match.
		h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// bufferedResponse holds a response until its iterator has been learned.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if b.body.Cap() == 0 {
		// One allocation for a response whose length is declared.
		if n, err := strconv.Atoi(b.header.Get("Content-Length")); err == nil && n > len(p) && n <= maxPrealloc {
			b.body.Grow(n)
		}
	}
	return b.body.Write(p)
}

// Flush is a no-op: the whole response is sent by copyTo.
func (b *bufferedResponse) Flush() {}

func (b *bufferedResponse) statusCode() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(b.body.Len()))
	w.WriteHeader(b.statusCode())
	_, _ = w.Write(b.body.Bytes())
}
