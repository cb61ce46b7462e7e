// Package porkbun is a client for the name-server part of Porkbun's JSON API v3
// (domain/getNs and domain/updateNs), for reading a domain's DNSSEC DS
// records at the registry (dns/getDnssecRecords) and for reading the records
// Porkbun's DNS serves for it (dns/retrieve). Every call is a POST whose
// JSON body carries the API key and secret API key; the keys never leave that
// body: they are not printed, logged, written or put into errors.
//
// Porkbun allows about one request per second per API key and answers
// faster ones with HTTP 503 (an HTML page) or, through its AWS WAF, with
// HTTP 202 and an x-amzn-waf-action header; so a client spaces its requests
// at least MinInterval apart and retries those answers after 1.2 s or more.
package porkbun

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	kdns "github.com/kforge/kforge/internal/dns"
	"github.com/kforge/kforge/internal/wait"
)

// Environment variables the client reads.
const (
	EnvAPIKey       = "PORKBUN_API_KEY"
	EnvSecretAPIKey = "PORKBUN_SECRET_API_KEY"
	EnvAPIURL       = "PORKBUN_API_URL"
)

// DefaultBaseURL is Porkbun's API v3 endpoint.
const DefaultBaseURL = "https://api.porkbun.com/api/json/v3"

// ErrAuth marks an authentication or authorization failure; such errors are
// never retried.
var ErrAuth = errors.New("porkbun rejected the API credentials")

// ErrRateLimited marks an answer of Porkbun's rate limiting (HTTP 429 or
// 503, or an AWS WAF action such as a challenge); such errors are retried.
var ErrRateLimited = errors.New("porkbun rate limited the request")

// wafActionHeader is set by AWS WAF, in front of Porkbun's API, when it
// answers instead of the API: "challenge" (with HTTP 202) or "captcha".
const wafActionHeader = "X-Amzn-Waf-Action"

// Porkbun's parking defaults on a new domain: an ALIAS at the apex and a
// CNAME for * to this host. They carry nothing of the owner's.
const parkingHost = "pixie.porkbun.com"

// Credentials are the API key pair. Their String and GoString forms are
// redacted so that printing a Credentials (or a struct holding one) with fmt
// cannot leak them.
type Credentials struct {
	APIKey       string
	SecretAPIKey string
}

func (Credentials) String() string {
	return "porkbun.Credentials{APIKey:REDACTED, SecretAPIKey:REDACTED}"
}
func (Credentials) GoString() string {
	return "porkbun.Credentials{APIKey:REDACTED, SecretAPIKey:REDACTED}"
}

// MarshalJSON keeps the keys out of any JSON the credentials end up in.
func (Credentials) MarshalJSON() ([]byte, error) { return []byte(`"REDACTED"`), nil }

// CredentialsFromEnv reads the key pair from PORKBUN_API_KEY and
// PORKBUN_SECRET_API_KEY via getenv (os.Getenv in production).
func CredentialsFromEnv(getenv func(string) string) (Credentials, error) {
	c := Credentials{APIKey: strings.TrimSpace(getenv(EnvAPIKey)), SecretAPIKey: strings.TrimSpace(getenv(EnvSecretAPIKey))}
	var missing []string
	if c.APIKey == "" {
		missing = append(missing, EnvAPIKey)
	}
	if c.SecretAPIKey == "" {
		missing = append(missing, EnvSecretAPIKey)
	}
	if len(missing) > 0 {
		return Credentials{}, fmt.Errorf("%s not set: create an API key pair at https://porkbun.com/account/api, turn on API access for the domain, and export both variables", strings.Join(missing, " and "))
	}
	return c, nil
}

// Default pacing and backoff: Porkbun allows about one request per second
// per API key and rejects retries sooner than about a second.
const (
	DefaultMinInterval = time.Second
	DefaultBaseDelay   = 1200 * time.Millisecond
)

// Options tune the client; zero values take the defaults noted.
type Options struct {
	BaseURL     string        // default DefaultBaseURL
	HTTPClient  *http.Client  // default a client without an overall timeout (Timeout below applies per attempt)
	Timeout     time.Duration // per attempt; default 20s
	MaxAttempts int           // total attempts for retriable failures; default 4
	// MinInterval is the least time between the starts of two requests of
	// one client, retries included; default DefaultMinInterval.
	MinInterval time.Duration
	// BaseDelay is the first backoff, doubled each retry plus up to half
	// again of jitter, never less; default DefaultBaseDelay.
	BaseDelay time.Duration
	MaxDelay  time.Duration // backoff cap; default 10s
	// Now and Sleep are the clock the pacing and backoff use; default
	// time.Now and a sleep the context ends. Tests inject a fake clock.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client talks to the Porkbun API. It implements dns.Registrar.
type Client struct {
	creds Credentials
	base  string
	http  *http.Client
	opts  Options

	paceMu sync.Mutex
	next   time.Time // earliest start of the next request
}

var (
	_ kdns.Registrar    = (*Client)(nil)
	_ kdns.DSReader     = (*Client)(nil)
	_ kdns.RecordLister = (*Client)(nil)
)

// New returns a client for the given credentials.
func New(creds Credentials, opts Options) (*Client, error) {
	if creds.APIKey == "" || creds.SecretAPIKey == "" {
		return nil, fmt.Errorf("porkbun: both the API key and the secret API key are required (%s, %s)", EnvAPIKey, EnvSecretAPIKey)
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("porkbun: API URL %q is not an http(s) URL: fix %s", opts.BaseURL, EnvAPIURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("porkbun: API URL must not carry user information: fix %s", EnvAPIURL)
	}
	// Every request carries both keys in its body, and the pair can move the
	// domain's name servers: plain HTTP only to this machine (a local
	// stand-in of the API).
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("porkbun: API URL %q is plain HTTP to another machine, which would send the API keys in clear: use https, or fix %s", opts.BaseURL, EnvAPIURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	// Go follows a 307 or 308 with the same body to any host or scheme:
	// never, since the body holds the keys. The redirect is the answer.
	noRedirects := *opts.HTTPClient
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	opts.HTTPClient = &noRedirects
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 4
	}
	if opts.MinInterval <= 0 {
		opts.MinInterval = DefaultMinInterval
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = DefaultBaseDelay
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 10 * time.Second
	}
	if opts.MaxDelay < opts.BaseDelay {
		opts.MaxDelay = opts.BaseDelay
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = wait.Sleep
	}
	return &Client{creds: creds, base: strings.TrimRight(opts.BaseURL, "/"), http: opts.HTTPClient, opts: opts}, nil
}

// NewFromEnv builds a client from PORKBUN_API_KEY, PORKBUN_SECRET_API_KEY and
// PORKBUN_API_URL (optional) read through getenv.
func NewFromEnv(getenv func(string) string, opts Options) (*Client, error) {
	creds, err := CredentialsFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	if u := strings.TrimSpace(getenv(EnvAPIURL)); u != "" && opts.BaseURL == "" {
		opts.BaseURL = u
	}
	return New(creds, opts)
}

// String and GoString keep the credentials out of %v / %#v of a Client.
func (c *Client) String() string   { return fmt.Sprintf("porkbun.Client{BaseURL:%s}", c.base) }
func (c *Client) GoString() string { return c.String() }

// Describe implements dns.Registrar.
func (c *Client) Describe() string { return "Porkbun" }

// NameServers returns the name servers Porkbun publishes for a domain
// registered there (POST domain/getNs/{domain}).
func (c *Client) NameServers(ctx context.Context, domain string) ([]string, error) {
	var resp response
	if err := c.call(ctx, "domain", "getNs", domain, nil, &resp); err != nil {
		return nil, err
	}
	return resp.NS, nil
}

// SetNameServers replaces the domain's name servers (POST domain/updateNs/{domain}).
// The call is idempotent, so retrying it after a timeout is safe.
func (c *Client) SetNameServers(ctx context.Context, domain string, nameServers []string) error {
	ns := kdns.NormalizeSet(nameServers)
	if len(ns) == 0 {
		return fmt.Errorf("porkbun updateNs %s: refusing to set an empty name-server list", domain)
	}
	return c.call(ctx, "domain", "updateNs", domain, ns, &response{})
}

// DSRecords returns the DNSSEC DS records Porkbun holds at the registry for a
// domain registered there (POST dns/getDnssecRecords/{domain}), sorted by key
// tag. It implements dns.DSReader. Porkbun answers "records" as an object
// keyed by key tag; an empty object, an empty array, null or no "records" at
// all mean there are none. Any other shape is an error, never "none".
func (c *Client) DSRecords(ctx context.Context, domain string) ([]kdns.DSRecord, error) {
	var resp response
	if err := c.call(ctx, "dns", "getDnssecRecords", domain, nil, &resp); err != nil {
		return nil, err
	}
	recs, err := decodeDSRecords(resp.Records)
	if err != nil {
		return nil, fmt.Errorf("porkbun getDnssecRecords %s: unexpected \"records\" in the answer (%s): %s",
			kdns.NormalizeName(domain), c.scrub(err.Error()), snippet([]byte(c.scrub(string(resp.Records)))))
	}
	return recs, nil
}

// DSRecordsWhere says where in Porkbun's web interface the DS records of
// domain are removed (used in the message refusing a delegation).
func (c *Client) DSRecordsWhere(domain string) string {
	return "Domain Management → " + kdns.NormalizeName(domain) + " → DNSSEC"
}

// ServedRecords returns the records Porkbun's DNS serves for domain (POST
// dns/retrieve/{domain}) when current, the domain's name servers, are
// Porkbun's own; otherwise Porkbun's DNS does not answer for the domain and
// no request is made. It implements dns.RecordLister. Left out: the apex NS
// set (the delegation itself), SOA, and the parking defaults (ALIAS at the
// apex and CNAME for * to pixie.porkbun.com). An NS record of a subdomain
// stays: it delegates that subdomain, which the change would break.
func (c *Client) ServedRecords(ctx context.Context, domain string, current []string) ([]kdns.Record, error) {
	d := kdns.NormalizeName(domain)
	if !servedByPorkbun(current) {
		return []kdns.Record{}, nil
	}
	var resp response
	if err := c.call(ctx, "dns", "retrieve", d, nil, &resp); err != nil {
		return nil, err
	}
	var raw []dnsRecord
	if err := json.Unmarshal(bytes.TrimSpace(resp.Records), &raw); err != nil || raw == nil {
		return nil, fmt.Errorf("porkbun retrieve %s: \"records\" is not a list of records: %s", d, snippet([]byte(c.scrub(string(resp.Records)))))
	}
	out := []kdns.Record{}
	for _, r := range raw {
		rec := r.record(d)
		if ignoredRecord(d, rec) {
			continue
		}
		out = append(out, rec)
	}
	return kdns.SortRecords(out), nil
}

// servedByPorkbun reports whether a name-server list is Porkbun's DNS
// (curitiba.ns.porkbun.com and the like; older domains have
// curitiba.porkbun.com).
func servedByPorkbun(nameServers []string) bool {
	for _, ns := range kdns.NormalizeSet(nameServers) {
		if ns == "porkbun.com" || strings.HasSuffix(ns, ".porkbun.com") {
			return true
		}
	}
	return false
}

// ignoredRecord tells the records that do not stop anything of the owner's
// from resolving when the delegation moves.
func ignoredRecord(domain string, r kdns.Record) bool {
	switch {
	case r.Type == "SOA", r.Type == "NS" && r.Name == domain:
		return true
	case r.Type == "ALIAS" && r.Name == domain, r.Type == "CNAME" && r.Name == "*."+domain:
		return kdns.NormalizeName(r.Content) == parkingHost
	}
	return false
}

// dnsRecord is one entry of retrieve's "records": full names, numbers as
// strings ("ttl":"600").
type dnsRecord struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Content string   `json:"content"`
	TTL     jsonText `json:"ttl"`
	Prio    jsonText `json:"prio"`
}

func (r dnsRecord) record(domain string) kdns.Record {
	name := kdns.NormalizeName(r.Name)
	if name == "" {
		name = domain
	}
	typ := strings.ToUpper(strings.TrimSpace(r.Type))
	content := strings.TrimSpace(r.Content)
	if p := string(r.Prio); (typ == "MX" || typ == "SRV") && p != "" {
		content = p + " " + content
	}
	ttl, _ := strconv.ParseInt(string(r.TTL), 10, 64)
	return kdns.Record{Name: name, Type: typ, Content: content, TTL: ttl}
}

// dsRecord is one entry of getDnssecRecords' "records".
type dsRecord struct {
	KeyTag     jsonText `json:"keyTag"`
	Alg        jsonText `json:"alg"`
	DigestType jsonText `json:"digestType"`
	Digest     jsonText `json:"digest"`
}

func (r dsRecord) record(key string) kdns.DSRecord {
	tag := string(r.KeyTag)
	if tag == "" {
		tag = strings.TrimSpace(key)
	}
	return kdns.DSRecord{KeyTag: tag, Algorithm: string(r.Alg), DigestType: string(r.DigestType), Digest: string(r.Digest)}
}

// decodeDSRecords reads getDnssecRecords' "records": an object keyed by key
// tag as documented, or an array of the same entries (an empty list is
// likely to come as []).
func decodeDSRecords(raw json.RawMessage) ([]kdns.DSRecord, error) {
	raw = bytes.TrimSpace(raw)
	out := []kdns.DSRecord{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	switch raw[0] {
	case '{':
		var m map[string]dsRecord
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		for k, r := range m {
			out = append(out, r.record(k))
		}
	case '[':
		var a []dsRecord
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		for _, r := range a {
			out = append(out, r.record(""))
		}
	default:
		return nil, errors.New("neither an object nor an array")
	}
	slices.SortFunc(out, func(a, b kdns.DSRecord) int {
		ta, errA := strconv.Atoi(a.KeyTag)
		tb, errB := strconv.Atoi(b.KeyTag)
		if errA == nil && errB == nil && ta != tb {
			return cmp.Compare(ta, tb)
		}
		return cmp.Or(cmp.Compare(a.KeyTag, b.KeyTag), cmp.Compare(a.DigestType, b.DigestType), cmp.Compare(a.Digest, b.Digest))
	})
	return out, nil
}

// jsonText is a JSON string or number kept as text: Porkbun sends the DS
// fields as strings ("13"); a number would mean the same.
type jsonText string

func (t *jsonText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*t = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = jsonText(strings.TrimSpace(s))
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("a DS field is neither a string nor a number")
	}
	*t = jsonText(n.String())
	return nil
}

// APIError is a failure reported by Porkbun (status ERROR or an HTTP error).
type APIError struct {
	Op         string // getNs, updateNs, getDnssecRecords, retrieve
	Domain     string
	HTTPStatus int
	Message    string // Porkbun's own message, with any credential scrubbed
	auth       bool
	rateLimit  bool
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no message"
	}
	s := fmt.Sprintf("porkbun %s %s: HTTP %d: %s", e.Op, e.Domain, e.HTTPStatus, msg)
	if e.auth {
		s += " (check " + EnvAPIKey + " and " + EnvSecretAPIKey + ", and that API access is turned on for the domain at porkbun.com)"
	}
	if e.rateLimit {
		s += " (Porkbun's rate limit: it allows about one request per second per API key and kforge keeps to that, so another client using the same key may be the cause; wait a minute and run the command again)"
	}
	return s
}

// Is makes errors.Is(err, ErrAuth) true for authentication failures and
// errors.Is(err, ErrRateLimited) for rate limiting.
func (e *APIError) Is(target error) bool {
	return target == ErrAuth && e.auth || target == ErrRateLimited && e.rateLimit
}

type request struct {
	APIKey       string   `json:"apikey"`
	SecretAPIKey string   `json:"secretapikey"`
	NS           []string `json:"ns,omitempty"`
}

type response struct {
	Status  string          `json:"status"`
	Message string          `json:"message"`
	NS      []string        `json:"ns"`
	Records json.RawMessage `json:"records"` // getDnssecRecords, retrieve; decoded by DSRecords, ServedRecords
}

// call POSTs one API operation ({base}/{group}/{op}/{domain}), retrying
// network errors, timeouts, 429 and 5xx answers and AWS WAF actions with
// jittered exponential backoff. Authentication errors and other 4xx answers
// are final. Every attempt first waits for its turn (see pace).
func (c *Client) call(ctx context.Context, group, op, domain string, ns []string, out *response) error {
	domain = kdns.NormalizeName(domain)
	if err := kdns.ValidateDomain(domain); err != nil {
		return fmt.Errorf("porkbun %s: %w", op, err)
	}
	body, err := json.Marshal(request{APIKey: c.creds.APIKey, SecretAPIKey: c.creds.SecretAPIKey, NS: ns})
	if err != nil {
		return fmt.Errorf("porkbun %s %s: encoding the request: %w", op, domain, err)
	}
	endpoint := c.base + "/" + group + "/" + op + "/" + url.PathEscape(domain)

	var lastErr error
	for attempt := 1; attempt <= c.opts.MaxAttempts; attempt++ {
		if attempt > 1 {
			if err := c.opts.Sleep(ctx, c.backoff(attempt-1)); err != nil {
				return fmt.Errorf("porkbun %s %s: %w (last error: %s)", op, domain, err, c.scrub(lastErr.Error()))
			}
		}
		if err := c.pace(ctx); err != nil {
			if lastErr == nil {
				return fmt.Errorf("porkbun %s %s: waiting for the rate limit: %w", op, domain, err)
			}
			return fmt.Errorf("porkbun %s %s: %w (last error: %s)", op, domain, err, c.scrub(lastErr.Error()))
		}
		retriable, err := c.attempt(ctx, op, domain, endpoint, body, out)
		if err == nil {
			return nil
		}
		lastErr = err
		if !retriable || ctx.Err() != nil {
			return err
		}
	}
	return fmt.Errorf("porkbun %s %s: giving up after %d attempts: %w", op, domain, c.opts.MaxAttempts, lastErr)
}

// pace waits until MinInterval has passed since the start of the client's
// previous request, and books the next start; concurrent callers queue.
func (c *Client) pace(ctx context.Context) error {
	c.paceMu.Lock()
	now := c.opts.Now()
	start := now
	if c.next.After(now) {
		start = c.next
	}
	c.next = start.Add(c.opts.MinInterval)
	c.paceMu.Unlock()
	if d := start.Sub(now); d > 0 {
		return c.opts.Sleep(ctx, d)
	}
	return nil
}

// attempt makes one HTTP request. Errors it returns never contain the
// request body and are scrubbed of the credentials.
func (c *Client) attempt(ctx context.Context, op, domain, endpoint string, body []byte, out *response) (retriable bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("porkbun %s %s: building the request: %s", op, domain, c.scrub(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "kforge")

	resp, err := c.http.Do(req)
	if err != nil {
		// Network error or per-attempt timeout. url.Error holds only the
		// method and URL (the keys travel in the body), scrubbed anyway.
		if actx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			return true, fmt.Errorf("porkbun %s %s: no answer within %s", op, domain, c.opts.Timeout)
		}
		return ctx.Err() == nil, fmt.Errorf("porkbun %s %s: %s", op, domain, c.scrub(err.Error()))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("porkbun %s %s: reading the answer: %s", op, domain, c.scrub(err.Error()))
	}

	var parsed response
	jsonErr := json.Unmarshal(raw, &parsed)
	apiErr := &APIError{Op: op, Domain: domain, HTTPStatus: resp.StatusCode, Message: c.scrub(strings.TrimSpace(parsed.Message))}
	// Scrub before cutting: a key cut in half by snippet would escape scrub.
	if jsonErr != nil && apiErr.Message == "" {
		apiErr.Message = fmt.Sprintf("unexpected answer (content type %q): %s", resp.Header.Get("Content-Type"), snippet([]byte(c.scrub(string(raw)))))
	}

	switch {
	case resp.Header.Get(wafActionHeader) != "":
		// AWS WAF answered instead of the API (a challenge comes as HTTP
		// 202): Porkbun's way of slowing a client down, not an API answer.
		action := resp.Header.Get(wafActionHeader)
		apiErr.Message = fmt.Sprintf("rate limited: Porkbun's firewall (AWS WAF) answered with a %s instead of the API (%s: %s)", c.scrub(action), strings.ToLower(wafActionHeader), c.scrub(action))
		apiErr.rateLimit = true
		return true, apiErr
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		apiErr.rateLimit = true
		return true, apiErr
	case resp.StatusCode >= 500:
		return true, apiErr
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		apiErr.auth = true
		return false, apiErr
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		apiErr.Message = fmt.Sprintf("the API answered with a redirect (to %q), which kforge does not follow: the request carries the API keys. Check %s", c.scrub(resp.Header.Get("Location")), EnvAPIURL)
		return false, apiErr
	case jsonErr != nil:
		return false, apiErr
	case strings.EqualFold(parsed.Status, "SUCCESS") && resp.StatusCode < 300:
		*out = parsed
		return false, nil
	default:
		apiErr.auth = isAuthMessage(parsed.Message)
		return false, apiErr
	}
}

// isAuthMessage recognizes Porkbun's credential errors, which it may send
// with status ERROR and HTTP 400 rather than 401/403.
func isAuthMessage(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{"api key", "apikey", "authenticat", "unauthori", "api access"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// scrub removes the credentials from text that came from elsewhere (a server
// message or a transport error), in case a server echoes them.
func (c *Client) scrub(s string) string {
	for _, k := range []string{c.creds.SecretAPIKey, c.creds.APIKey} {
		if k != "" {
			s = strings.ReplaceAll(s, k, "REDACTED")
		}
	}
	return s
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// backoff is exponential with jitter above it: a random delay in
// [d, 1.5 d] where d = BaseDelay * 2^(retry-1), capped at MaxDelay. Never
// below BaseDelay: Porkbun rejects retries that come sooner than about 1 s.
func (c *Client) backoff(retry int) time.Duration {
	d := c.opts.BaseDelay << (retry - 1)
	if d > c.opts.MaxDelay || d <= 0 {
		d = c.opts.MaxDelay
	}
	return min(d+rand.N(d/2+1), c.opts.MaxDelay)
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
