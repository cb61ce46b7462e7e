package porkbun_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	kdns "github.com/kforge/kforge/internal/dns"
	"github.com/kforge/kforge/internal/dns/porkbun"
	"github.com/kforge/kforge/internal/dns/porkbun/porkbuntest"
	"github.com/kforge/kforge/internal/testutil/dnsfixture"
)

// Distinctive key values so a leak anywhere is easy to find.
const (
	testKey    = "pk1_LEAKCHECK_apikey_0123456789abcdef"
	testSecret = "sk1_LEAKCHECK_secret_fedcba9876543210"
)

func fastOptions(base string) porkbun.Options {
	return porkbun.Options{BaseURL: base, Timeout: 2 * time.Second, MaxAttempts: 3, MinInterval: time.Millisecond, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
}

func newClient(t *testing.T, srv *porkbuntest.Server, opts porkbun.Options) *porkbun.Client {
	t.Helper()
	c, err := porkbun.New(porkbun.Credentials{APIKey: testKey, SecretAPIKey: testSecret}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGetAndUpdate(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	c := newClient(t, srv, fastOptions(srv.BaseURL()))
	ctx := context.Background()

	got, err := c.NameServers(ctx, "Example.com.")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, dnsfixture.PorkbunNS) {
		t.Fatalf("NameServers = %v, want %v", got, dnsfixture.PorkbunNS)
	}
	if err := c.SetNameServers(ctx, "example.com", dnsfixture.ZoneNS); err != nil {
		t.Fatal(err)
	}
	if !kdns.SameNameServers(srv.NameServers("example.com"), dnsfixture.ZoneNS) {
		t.Fatalf("server holds %v after update, want %v", srv.NameServers("example.com"), dnsfixture.ZoneNS)
	}
	// What went over the wire: the documented body, trailing dots removed.
	bodies := srv.RequestBodies()
	last := bodies[len(bodies)-1]
	for _, want := range []string{`"apikey":"` + testKey + `"`, `"secretapikey":"` + testSecret + `"`, `"ns":["ns-0.awsdns-00.com",`} {
		if !strings.Contains(last, want) {
			t.Errorf("updateNs body %s lacks %s", last, want)
		}
	}
	if srv.Calls("getNs") != 1 || srv.Calls("updateNs") != 1 {
		t.Fatalf("calls getNs=%d updateNs=%d", srv.Calls("getNs"), srv.Calls("updateNs"))
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name      string
		faults    []porkbuntest.Fault
		domain    string
		creds     *porkbun.Credentials
		wantCalls int    // getNs requests made
		wantIn    string // in the error text
		wantAuth  bool
		wantOK    bool
	}{
		{name: "ERROR status with Porkbun's message", domain: "unknown.com", wantCalls: 1, wantIn: "Invalid domain."},
		{name: "invalid key is an auth error, not retried", domain: "example.com",
			creds: &porkbun.Credentials{APIKey: "pk1_wrong", SecretAPIKey: "sk1_wrong"}, wantCalls: 1, wantIn: "Invalid API key. (002)", wantAuth: true},
		{name: "403 is not retried", domain: "example.com", faults: []porkbuntest.Fault{{Status: http.StatusForbidden, Message: "Forbidden"}},
			wantCalls: 1, wantIn: "HTTP 403: Forbidden", wantAuth: true},
		{name: "401 is not retried", domain: "example.com", faults: []porkbuntest.Fault{{Status: http.StatusUnauthorized}},
			wantCalls: 1, wantIn: "HTTP 401", wantAuth: true},
		{name: "5xx then success", domain: "example.com", faults: []porkbuntest.Fault{{Status: 503, Message: "busy"}, {Status: 502, RawBody: "<html>Bad gateway</html>"}},
			wantCalls: 3, wantOK: true},
		{name: "429 then success", domain: "example.com", faults: []porkbuntest.Fault{{Status: 429, Message: "slow down"}}, wantCalls: 2, wantOK: true},
		{name: "5xx until the attempts run out", domain: "example.com",
			faults:    []porkbuntest.Fault{{Status: 500, Message: "oops 1"}, {Status: 500, Message: "oops 2"}, {Status: 500, Message: "oops 3"}, {Status: 500}},
			wantCalls: 3, wantIn: "giving up after 3 attempts: porkbun getNs example.com: HTTP 500: oops 3"},
		{name: "non-JSON 4xx", domain: "example.com", faults: []porkbuntest.Fault{{Status: 400, RawBody: "<html>nope</html>"}}, wantCalls: 1, wantIn: "unexpected answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
			srv.AddFaults(tt.faults...)
			creds := porkbun.Credentials{APIKey: testKey, SecretAPIKey: testSecret}
			if tt.creds != nil {
				creds = *tt.creds
			}
			c, err := porkbun.New(creds, fastOptions(srv.BaseURL()))
			if err != nil {
				t.Fatal(err)
			}
			ns, err := c.NameServers(context.Background(), tt.domain)
			if got := srv.Calls("getNs"); got != tt.wantCalls {
				t.Errorf("getNs requests = %d, want %d", got, tt.wantCalls)
			}
			if tt.wantOK {
				if err != nil || !slices.Equal(ns, dnsfixture.PorkbunNS) {
					t.Fatalf("NameServers = %v, %v; want success", ns, err)
				}
				return
			}
			if err == nil {
				t.Fatal("expected an error")
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("error %q does not contain %q", err, tt.wantIn)
			}
			if errors.Is(err, porkbun.ErrAuth) != tt.wantAuth {
				t.Errorf("errors.Is(err, ErrAuth) = %v, want %v (err: %v)", !tt.wantAuth, tt.wantAuth, err)
			}
		})
	}
}

func TestSlowAnswerTimesOut(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	srv.AddFaults(porkbuntest.Fault{Delay: 5 * time.Second}, porkbuntest.Fault{Delay: 5 * time.Second})
	opts := fastOptions(srv.BaseURL())
	opts.Timeout = 100 * time.Millisecond
	opts.MaxAttempts = 2
	c := newClient(t, srv, opts)
	start := time.Now()
	_, err := c.NameServers(context.Background(), "example.com")
	if err == nil || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if srv.Calls("getNs") != 2 {
		t.Fatalf("getNs requests = %d, want 2 (a timeout is retried)", srv.Calls("getNs"))
	}
	// Not a timing assertion on the client's speed: only that it did not wait for the 5 s answers.
	if time.Since(start) > 4*time.Second {
		t.Fatalf("client waited for the slow server (%s)", time.Since(start))
	}
}

func TestSlowAnswerThenSuccess(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	srv.AddFaults(porkbuntest.Fault{Delay: 5 * time.Second})
	opts := fastOptions(srv.BaseURL())
	opts.Timeout = 100 * time.Millisecond
	c := newClient(t, srv, opts)
	if err := c.SetNameServers(context.Background(), "example.com", dnsfixture.ZoneNS); err != nil {
		t.Fatal(err)
	}
	if !kdns.SameNameServers(srv.NameServers("example.com"), dnsfixture.ZoneNS) {
		t.Fatal("update not applied after the retry")
	}
}

func TestCancelledContextStopsRetrying(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	srv.AddFaults(porkbuntest.Fault{Status: 503}, porkbuntest.Fault{Status: 503}, porkbuntest.Fault{Status: 503})
	opts := fastOptions(srv.BaseURL())
	opts.BaseDelay, opts.MaxDelay, opts.MaxAttempts = time.Hour, time.Hour, 5
	c := newClient(t, srv, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.NameServers(ctx, "example.com")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if srv.Calls("getNs") != 1 {
		t.Fatalf("getNs requests = %d, want 1", srv.Calls("getNs"))
	}
}

func TestNetworkErrorIsRetriedThenReported(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, nil)
	base := srv.BaseURL()
	srv.Close() // nothing listens there any more
	c, err := porkbun.New(porkbun.Credentials{APIKey: testKey, SecretAPIKey: testSecret}, fastOptions(base))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.NameServers(context.Background(), "example.com")
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Fatalf("err = %v", err)
	}
}

func TestRefusesEmptyUpdate(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	c := newClient(t, srv, fastOptions(srv.BaseURL()))
	if err := c.SetNameServers(context.Background(), "example.com", []string{" ", ""}); err == nil {
		t.Fatal("expected an error for an empty list")
	}
	if srv.Calls("updateNs") != 0 {
		t.Fatal("an empty update reached the server")
	}
}

func TestConfigErrors(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := porkbun.NewFromEnv(env(map[string]string{porkbun.EnvAPIKey: testKey}), porkbun.Options{}); err == nil ||
		!strings.Contains(err.Error(), porkbun.EnvSecretAPIKey) {
		t.Fatalf("missing secret: err = %v", err)
	}
	if _, err := porkbun.NewFromEnv(env(map[string]string{}), porkbun.Options{}); err == nil ||
		!strings.Contains(err.Error(), porkbun.EnvAPIKey+" and "+porkbun.EnvSecretAPIKey) {
		t.Fatalf("missing both: err = %v", err)
	}
	for _, bad := range []string{"ftp://x", "not a url", "https://user:pw@api.example", "http://api.porkbun.com/api/json/v3"} {
		_, err := porkbun.NewFromEnv(env(map[string]string{porkbun.EnvAPIKey: testKey, porkbun.EnvSecretAPIKey: testSecret, porkbun.EnvAPIURL: bad}), porkbun.Options{})
		if err == nil || !strings.Contains(err.Error(), porkbun.EnvAPIURL) {
			t.Errorf("URL %q: err = %v", bad, err)
		}
	}
	c, err := porkbun.NewFromEnv(env(map[string]string{porkbun.EnvAPIKey: testKey, porkbun.EnvSecretAPIKey: testSecret}), porkbun.Options{})
	if err != nil || !strings.Contains(c.String(), porkbun.DefaultBaseURL) {
		t.Fatalf("default URL: %v %v", c, err)
	}
	// Plain HTTP only to a stand-in on this machine.
	for _, local := range []string{"http://127.0.0.1:8080/api/json/v3", "http://localhost:8080", "http://[::1]:8080"} {
		if _, err := porkbun.NewFromEnv(env(map[string]string{porkbun.EnvAPIKey: testKey, porkbun.EnvSecretAPIKey: testSecret, porkbun.EnvAPIURL: local}), porkbun.Options{}); err != nil {
			t.Errorf("URL %q: %v, want it accepted", local, err)
		}
	}
}

// A redirect is never followed: Go would send the same body, both keys
// in it, to whatever host and scheme the answer names. The redirect is a
// final error that names it, and the other host receives nothing.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var elsewhere sync.Mutex
	received := 0
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Lock()
		received++
		elsewhere.Unlock()
		_, _ = w.Write([]byte(`{"status":"SUCCESS","ns":["ns1.example.net"]}`))
	}))
	t.Cleanup(other.Close)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)
	c, err := porkbun.New(porkbun.Credentials{APIKey: testKey, SecretAPIKey: testSecret}, fastOptions(redirecting.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.NameServers(context.Background(), "example.com")
	if err == nil || !strings.Contains(err.Error(), "redirect") || !strings.Contains(err.Error(), other.URL) {
		t.Errorf("NameServers through a redirect: %v, want an error naming the redirect", err)
	}
	elsewhere.Lock()
	defer elsewhere.Unlock()
	if received != 0 {
		t.Errorf("the redirect's target received %d requests, want none", received)
	}
}

// TestKeysNeverInOutput drives every code path that produces text (success,
// each error kind, a server echoing the keys back, fmt of the values) and
// checks that neither key appears anywhere.
func TestKeysNeverInOutput(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	creds := porkbun.Credentials{APIKey: testKey, SecretAPIKey: testSecret}
	c := newClient(t, srv, fastOptions(srv.BaseURL()))
	ctx := context.Background()

	var texts []string
	add := func(v ...any) {
		for _, x := range v {
			if err, ok := x.(error); ok && err != nil {
				texts = append(texts, err.Error(), fmt.Sprintf("%+v %#v", err, err))
				continue
			}
			texts = append(texts, fmt.Sprintf("%v %+v %#v %s", x, x, x, x))
		}
	}
	add(creds, &creds, c, struct{ C porkbun.Credentials }{creds})
	_, err := c.NameServers(ctx, "unknown.com")
	add(err)
	srv.AddFaults(porkbuntest.Fault{Status: 403, Message: "bad key " + testKey + " / " + testSecret})
	_, err = c.NameServers(ctx, "example.com")
	add(err)
	srv.AddFaults(porkbuntest.Fault{Status: 500, RawBody: "echo " + testSecret}, porkbuntest.Fault{Status: 500, RawBody: "echo " + testKey}, porkbuntest.Fault{Status: 500, Message: testSecret})
	_, err = c.NameServers(ctx, "example.com")
	add(err)
	srv.AddFaults(porkbuntest.Fault{Status: 400, Message: "ns invalid " + testSecret})
	add(c.SetNameServers(ctx, "example.com", dnsfixture.ZoneNS))
	bad, _ := porkbun.New(porkbun.Credentials{APIKey: testKey, SecretAPIKey: "sk1_wrong"}, fastOptions(srv.BaseURL()))
	_, err = bad.NameServers(ctx, "example.com")
	add(err, bad)
	// getDnssecRecords: an answer echoing the keys where the records go, an
	// ERROR echoing them, wrong keys, and the refusal that names the records.
	srv.AddFaults(porkbuntest.Fault{Status: 200, ContentType: "application/json", RawBody: `{"status":"SUCCESS","records":"` + testKey + " " + testSecret + `"}`})
	_, err = c.DSRecords(ctx, "example.com")
	add(err)
	srv.AddFaults(porkbuntest.Fault{Status: 400, Message: "no DNSSEC for " + testSecret})
	_, err = c.DSRecords(ctx, "example.com")
	add(err)
	_, err = bad.DSRecords(ctx, "example.com")
	add(err)
	srv.SetDSRecords("example.com", porkbuntest.DSRecord{KeyTag: "2371", Alg: "13", DigestType: "2", Digest: "AB12"})
	_, err = kdns.PlanDelegation(ctx, c, "example.com", dnsfixture.ZoneNS)
	add(err)
	if !errors.Is(err, kdns.ErrDSRecords) {
		t.Errorf("PlanDelegation with DS records: err = %v", err)
	}
	// retrieve: records echoing the keys, a WAF challenge.
	srv.AddFaults(porkbuntest.Fault{Status: 200, ContentType: "application/json", RawBody: `{"status":"SUCCESS","records":"` + testKey + " " + testSecret + `"}`})
	_, err = c.ServedRecords(ctx, "example.com", dnsfixture.PorkbunNS)
	add(err)
	srv.AddFaults(porkbuntest.Fault{WAFChallenge: true}, porkbuntest.Fault{WAFChallenge: true}, porkbuntest.Fault{WAFChallenge: true})
	_, err = c.ServedRecords(ctx, "example.com", dnsfixture.PorkbunNS)
	add(err)
	closed := porkbuntest.Start(t, testKey, testSecret, nil)
	closed.Close()
	cc, _ := porkbun.New(creds, fastOptions(closed.BaseURL()))
	_, err = cc.NameServers(ctx, "example.com")
	add(err)

	if len(texts) < 10 {
		t.Fatalf("only %d texts collected", len(texts))
	}
	for _, s := range texts {
		for _, k := range []string{testKey, testSecret, "LEAKCHECK"} {
			if strings.Contains(s, k) {
				t.Errorf("a key leaked into %q", s)
			}
		}
	}
}

func TestDSRecords(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	c := newClient(t, srv, fastOptions(srv.BaseURL()))
	ctx := context.Background()

	got, err := c.DSRecords(ctx, "Example.com.")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no DS records: DSRecords = %#v, %v; want an empty list", got, err)
	}
	srv.SetDSRecords("example.com",
		porkbuntest.DSRecord{KeyTag: "64087", Alg: "13", DigestType: "2", Digest: "15E445BD08128BDC213E25F1C8227DF4CB35186CAC701C1C335B2C406D5530DC"},
		porkbuntest.DSRecord{KeyTag: "2371", Alg: "8", DigestType: "2", Digest: "AB12"})
	got, err = c.DSRecords(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	want := []kdns.DSRecord{
		{KeyTag: "2371", Algorithm: "8", DigestType: "2", Digest: "AB12"},
		{KeyTag: "64087", Algorithm: "13", DigestType: "2", Digest: "15E445BD08128BDC213E25F1C8227DF4CB35186CAC701C1C335B2C406D5530DC"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("DSRecords = %+v, want %+v (sorted by key tag)", got, want)
	}
	// What went over the wire: the keys in the body, nothing else.
	bodies := srv.RequestBodies()
	if last := bodies[len(bodies)-1]; last != `{"apikey":"`+testKey+`","secretapikey":"`+testSecret+`"}` {
		t.Errorf("getDnssecRecords body = %s", last)
	}
	if srv.Calls("getDnssecRecords") != 2 || srv.Calls("getNs") != 0 {
		t.Fatalf("calls getDnssecRecords=%d getNs=%d", srv.Calls("getDnssecRecords"), srv.Calls("getNs"))
	}
	// An unknown domain is Porkbun's ERROR, not "no records".
	if _, err := c.DSRecords(ctx, "unknown.com"); err == nil || !strings.Contains(err.Error(), "porkbun getDnssecRecords unknown.com: HTTP 400: Invalid domain.") {
		t.Fatalf("unknown domain: err = %v", err)
	}
}

// TestDSRecordsDecoding feeds getDnssecRecords answers of every shape to the
// client: the documented object keyed by key tag, both empty forms, and
// shapes that must be errors rather than "no DS records".
func TestDSRecordsDecoding(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []kdns.DSRecord
		wantErr string
	}{
		{name: "empty object", body: `{"status":"SUCCESS","records":{}}`, want: []kdns.DSRecord{}},
		{name: "empty array", body: `{"status":"SUCCESS","records":[]}`, want: []kdns.DSRecord{}},
		{name: "null", body: `{"status":"SUCCESS","records":null}`, want: []kdns.DSRecord{}},
		{name: "no records field", body: `{"status":"SUCCESS"}`, want: []kdns.DSRecord{}},
		{name: "object keyed by key tag", body: `{"status":"SUCCESS","records":{"64087":{"keyTag":"64087","alg":"13","digestType":"2","digest":"15E4"},"2371":{"keyTag":"2371","alg":"8","digestType":"1","digest":"AB"}}}`,
			want: []kdns.DSRecord{{KeyTag: "2371", Algorithm: "8", DigestType: "1", Digest: "AB"}, {KeyTag: "64087", Algorithm: "13", DigestType: "2", Digest: "15E4"}}},
		{name: "key tag only as the key, numbers for fields, extra fields", body: `{"status":"SUCCESS","records":{"12345":{"alg":13,"digestType":2,"digest":"CD","maxSigLife":"0"}}}`,
			want: []kdns.DSRecord{{KeyTag: "12345", Algorithm: "13", DigestType: "2", Digest: "CD"}}},
		{name: "array of records", body: `{"status":"SUCCESS","records":[{"keyTag":"7","alg":"13","digestType":"2","digest":"EF"}]}`,
			want: []kdns.DSRecord{{KeyTag: "7", Algorithm: "13", DigestType: "2", Digest: "EF"}}},
		{name: "a string is an error", body: `{"status":"SUCCESS","records":"none"}`, wantErr: `unexpected "records"`},
		{name: "a record that is not an object is an error", body: `{"status":"SUCCESS","records":{"64087":"13 2 15E4"}}`, wantErr: `unexpected "records"`},
		{name: "a boolean field is an error", body: `{"status":"SUCCESS","records":{"1":{"alg":true}}}`, wantErr: `unexpected "records"`},
		{name: "ERROR status", body: `{"status":"ERROR","message":"Domain is not opted in to API access."}`, wantErr: "Domain is not opted in to API access."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
			srv.AddFaults(porkbuntest.Fault{Status: http.StatusOK, ContentType: "application/json", RawBody: tt.body})
			c := newClient(t, srv, fastOptions(srv.BaseURL()))
			got, err := c.DSRecords(context.Background(), "example.com")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DSRecords = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got == nil || !slices.Equal(got, tt.want) {
				t.Fatalf("DSRecords = %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestDSRecordsEmptyArrayFromFake(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	srv.EmptyDSAsArray(true)
	c := newClient(t, srv, fastOptions(srv.BaseURL()))
	got, err := c.DSRecords(context.Background(), "example.com")
	if err != nil || len(got) != 0 {
		t.Fatalf("DSRecords = %v, %v", got, err)
	}
}

// fakeClock is the clock of the pacing and backoff: Sleep only moves it on.
// A transport built by transport stamps each request with its time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	starts []time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	return ctx.Err()
}

func (f *fakeClock) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.starts = append(f.starts, f.now)
	f.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// gaps are the times between consecutive request starts.
func (f *fakeClock) gaps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var g []time.Duration
	for i := 1; i < len(f.starts); i++ {
		g = append(g, f.starts[i].Sub(f.starts[i-1]))
	}
	return g
}

// defaultOptions are the production defaults with a fake clock.
func defaultOptions(base string, clock *fakeClock) porkbun.Options {
	return porkbun.Options{BaseURL: base, HTTPClient: &http.Client{Transport: clock}, Now: clock.Now, Sleep: clock.Sleep}
}

// TestDefaultPacing: with the defaults, one `dns delegate` worth of calls
// goes out at most one per second (Porkbun's limit per API key), measured
// on the injected clock, never on the wall clock.
func TestDefaultPacing(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newClient(t, srv, defaultOptions(srv.BaseURL(), clock))
	ctx := context.Background()
	if _, err := c.NameServers(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DSRecords(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ServedRecords(ctx, "example.com", dnsfixture.PorkbunNS); err != nil {
		t.Fatal(err)
	}
	if err := c.SetNameServers(ctx, "example.com", dnsfixture.ZoneNS); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NameServers(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	gaps := clock.gaps()
	if len(gaps) != 4 || len(srv.RequestTimes()) != 5 {
		t.Fatalf("gaps %v, server saw %d requests; want 5 requests", gaps, len(srv.RequestTimes()))
	}
	for i, g := range gaps {
		if g < time.Second {
			t.Errorf("request %d started %s after the previous one, want at least 1s", i+2, g)
		}
	}
	if porkbun.DefaultMinInterval < time.Second || porkbun.DefaultBaseDelay < 1200*time.Millisecond {
		t.Errorf("defaults: interval %s, first backoff %s", porkbun.DefaultMinInterval, porkbun.DefaultBaseDelay)
	}
}

// TestRateLimitAnswersAreRetriedAfterBackoff: a WAF challenge (HTTP 202) and
// a 503 HTML page are retried, the first retry no sooner than 1.2 s.
func TestRateLimitAnswersAreRetriedAfterBackoff(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	srv.AddFaults(porkbuntest.Fault{WAFChallenge: true}, porkbuntest.Fault{Status: 503, RawBody: "<html><body>503 Service Temporarily Unavailable</body></html>"})
	clock := &fakeClock{}
	c := newClient(t, srv, defaultOptions(srv.BaseURL(), clock))
	ns, err := c.NameServers(context.Background(), "example.com")
	if err != nil || !slices.Equal(ns, dnsfixture.PorkbunNS) {
		t.Fatalf("NameServers = %v, %v; want success after two retries", ns, err)
	}
	gaps := clock.gaps()
	if srv.Calls("getNs") != 3 || len(gaps) != 2 {
		t.Fatalf("getNs requests = %d, gaps %v; want 3", srv.Calls("getNs"), gaps)
	}
	if gaps[0] < 1200*time.Millisecond || gaps[1] < 2400*time.Millisecond {
		t.Fatalf("retries came after %v, want at least 1.2s then 2.4s", gaps)
	}
}

// TestWAFChallengePersists: a challenge that does not go away ends in an
// error that says rate limiting, after every attempt.
func TestWAFChallengePersists(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	srv.AddFaults(porkbuntest.Fault{WAFChallenge: true}, porkbuntest.Fault{WAFChallenge: true}, porkbuntest.Fault{WAFChallenge: true})
	c := newClient(t, srv, fastOptions(srv.BaseURL()))
	_, err := c.NameServers(context.Background(), "example.com")
	if err == nil {
		t.Fatal("expected an error")
	}
	t.Log(err)
	for _, want := range []string{"giving up after 3 attempts", "HTTP 202", "rate limited", "x-amzn-waf-action: challenge", "rate limit", "one request per second", "wait a minute"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, porkbun.ErrRateLimited) || errors.Is(err, porkbun.ErrAuth) {
		t.Errorf("errors.Is(ErrRateLimited) = %v, errors.Is(ErrAuth) = %v", errors.Is(err, porkbun.ErrRateLimited), errors.Is(err, porkbun.ErrAuth))
	}
	if srv.Calls("getNs") != 3 {
		t.Fatalf("getNs requests = %d, want 3 (a challenge is retried)", srv.Calls("getNs"))
	}
}

// TestRequestsSpacedForARateLimitedServer: against a server that refuses
// requests arriving closer than 10 ms, a client paced at 60 ms gets no
// refusal, with no retry allowed. The margin keeps it off scheduling noise.
func TestRequestsSpacedForARateLimitedServer(t *testing.T) {
	for _, how := range []porkbuntest.RateLimit{porkbuntest.Limit503, porkbuntest.LimitWAF} {
		srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
		srv.LimitRate(10*time.Millisecond, how)
		opts := fastOptions(srv.BaseURL())
		opts.MinInterval, opts.MaxAttempts = 60*time.Millisecond, 1
		c := newClient(t, srv, opts)
		ctx := context.Background()
		for i := 0; i < 4; i++ {
			if _, err := c.NameServers(ctx, "example.com"); err != nil {
				t.Fatalf("limit %d, request %d: %v", how, i+1, err)
			}
		}
		if srv.Limited() != 0 {
			t.Fatalf("limit %d: %d requests refused", how, srv.Limited())
		}
	}
}

func TestServedRecords(t *testing.T) {
	srv := porkbuntest.Start(t, testKey, testSecret, map[string][]string{"example.com": dnsfixture.PorkbunNS})
	c := newClient(t, srv, fastOptions(srv.BaseURL()))
	ctx := context.Background()

	got, err := c.ServedRecords(ctx, "example.com", dnsfixture.PorkbunNS)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("parking defaults only: %#v, %v; want an empty list", got, err)
	}
	if last := srv.RequestBodies()[0]; last != `{"apikey":"`+testKey+`","secretapikey":"`+testSecret+`"}` {
		t.Errorf("retrieve body = %s", last)
	}
	// Older Porkbun name servers (curitiba.porkbun.com) are Porkbun's DNS too.
	srv.SetRecords("example.com", porkbuntest.Record{Name: "example.com", Type: "A", Content: "203.0.113.9", TTL: "600"})
	got, err = c.ServedRecords(ctx, "example.com", []string{"curitiba.porkbun.com."})
	if err != nil || !slices.Equal(got, []kdns.Record{{Name: "example.com", Type: "A", Content: "203.0.113.9", TTL: 600}}) {
		t.Fatalf("ServedRecords = %+v, %v", got, err)
	}
	// Name servers elsewhere: Porkbun's DNS is not in use; no request.
	before := srv.Calls("retrieve")
	if got, err := c.ServedRecords(ctx, "example.com", dnsfixture.ZoneNS); err != nil || len(got) != 0 || srv.Calls("retrieve") != before {
		t.Fatalf("served elsewhere: %v, %v, retrieve calls %d -> %d", got, err, before, srv.Calls("retrieve"))
	}

	tests := []struct {
		name, body string
		want       []kdns.Record
		wantErr    string
	}{
		{name: "empty list", body: `{"status":"SUCCESS","records":[]}`, want: []kdns.Record{}},
		{name: "numbers for ttl and prio, extra fields", body: `{"status":"SUCCESS","cloudflare":"enabled","records":[{"id":"1","name":"Example.com","type":"mx","content":"mx.example.net","ttl":300,"prio":5,"notes":null}]}`,
			want: []kdns.Record{{Name: "example.com", Type: "MX", Content: "5 mx.example.net", TTL: 300}}},
		{name: "no records is an error", body: `{"status":"SUCCESS"}`, wantErr: `"records" is not a list`},
		{name: "null is an error", body: `{"status":"SUCCESS","records":null}`, wantErr: `"records" is not a list`},
		{name: "an object is an error", body: `{"status":"SUCCESS","records":{}}`, wantErr: `"records" is not a list`},
		{name: "ERROR status", body: `{"status":"ERROR","message":"Domain is not opted in to API access."}`, wantErr: "Domain is not opted in to API access."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.AddFaults(porkbuntest.Fault{Status: http.StatusOK, ContentType: "application/json", RawBody: tt.body})
			got, err := c.ServedRecords(ctx, "example.com", dnsfixture.PorkbunNS)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ServedRecords = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ServedRecords = %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}
