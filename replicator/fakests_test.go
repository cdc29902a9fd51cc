package replicator_test

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSTS answers AssumeRole and AssumeRoleWithWebIdentity (the query
// protocol: a form POST, an XML answer) with fixed credentials per role;
// a role it does not know is refused with AccessDenied.
type fakeSTS struct {
	*httptest.Server
	roles map[string]string // role ARN → access key id it hands out

	mu    sync.Mutex
	calls []stsCall
}

// stsCall is one request the fake STS answered.
type stsCall struct {
	Action, Role, ExternalID, Session, Token string
	Signed                                   signature // zero for the unsigned web-identity call
}

func newFakeSTS(t *testing.T, roles map[string]string) *fakeSTS {
	f := &fakeSTS{roles: roles}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSTS) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := stsCall{
		Action: r.PostForm.Get("Action"), Role: r.PostForm.Get("RoleArn"), ExternalID: r.PostForm.Get("ExternalId"),
		Session: r.PostForm.Get("RoleSessionName"), Token: r.PostForm.Get("WebIdentityToken"),
		Signed: parseSignature(r.Header.Get("Authorization")),
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	key, ok := f.roles[c.Role]
	if !ok || (c.Action != "AssumeRole" && c.Action != "AssumeRoleWithWebIdentity") {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = fmt.Fprintf(w, "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform sts:%s on %s</Message></Error><RequestId>1</RequestId></ErrorResponse>", c.Action, c.Role)
		return
	}
	type creds struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	type result struct {
		Credentials     creds
		AssumedRoleUser struct{ Arn, AssumedRoleId string }
	}
	res := result{Credentials: creds{key, "secret-" + key, "token-" + key, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}
	res.AssumedRoleUser.Arn, res.AssumedRoleUser.AssumedRoleId = c.Role+"/"+c.Session, "AROA"+key
	body, err := xml.Marshal(struct {
		XMLName xml.Name
		Result  result `xml:"Result"`
	}{XMLName: xml.Name{Local: c.Action + "Response"}, Result: res})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// The SDK reads <ActionResult>: rename the element.
	out := strings.Replace(strings.Replace(string(body), "<Result>", "<"+c.Action+"Result>", 1), "</Result>", "</"+c.Action+"Result>", 1)
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, out)
}

func (f *fakeSTS) Calls() []stsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]stsCall(nil), f.calls...)
}

// signature is what a SigV4 Authorization header tells: the access key and
// the credential scope's region and service.
type signature struct{ Key, Region, Service string }

var credentialRE = regexp.MustCompile(`Credential=([^/]+)/[0-9]{8}/([^/]+)/([^/]+)/aws4_request`)

func parseSignature(h string) signature {
	m := credentialRE.FindStringSubmatch(h)
	if m == nil {
		return signature{}
	}
	return signature{m[1], m[2], m[3]}
}

// signedRequest is one request seen by a signatureProxy.
type signedRequest struct {
	signature
	Target string // X-Amz-Target
	Body   string
}

// signatureProxy forwards to an emulator and records how each request was
// signed (emulators do not check signatures).
type signatureProxy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []signedRequest
}

func newSignatureProxy(t *testing.T, target string) *signatureProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &signatureProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.seen = append(p.seen, signedRequest{parseSignature(r.Header.Get("Authorization")), r.Header.Get("X-Amz-Target"), string(body)})
		p.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *signatureProxy) Seen() []signedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]signedRequest(nil), p.seen...)
}

// isolateAWSEnv clears the AWS settings of the machine running the test (no
// profile, no instance metadata) and points STS at sts.
func isolateAWSEnv(t *testing.T, sts string) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"HOME": dir, "AWS_CONFIG_FILE": dir + "/config", "AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_SESSION_NAME": "",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_KINESIS": "", "AWS_ENDPOINT_URL_DYNAMODB": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_ENDPOINT_URL_STS": sts,
	} {
		t.Setenv(k, v)
	}
}
