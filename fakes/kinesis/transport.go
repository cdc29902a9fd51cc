package kinesis

import (
	"io"
	"net/http"
)

// SDKTransport wraps base (http.DefaultTransport when nil) for aws-sdk-go-v2
// clients that talk to a fast local endpoint such as this emulator.
//
// Why: smithy-go closes a request body as soon as the response headers
// arrive, and its closed body answers WriteTo with io.EOF. net/http, after
// sending a large body, calls WriteTo once more to check for extra bytes; if
// the response won that race the check fails, the transport closes the
// connection and the SDK reports "use of closed network connection" while
// reading a 200 response. Against AWS the network latency hides the race;
// against an in-process server about 1 in 100 large PutRecords calls hits it.
// Hiding WriteTo makes the extra check a plain Read, which returns io.EOF as
// the normal end of the body.
func SDKTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return plainBodyTransport{base}
}

type plainBodyTransport struct{ base http.RoundTripper }

func (t plainBodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		if _, ok := r.Body.(io.WriterTo); ok {
			r2 := *r // RoundTrippers must not modify the caller's request
			r2.Body = struct{ io.ReadCloser }{r.Body}
			r = &r2
		}
	}
	return t.base.RoundTrip(r)
}
