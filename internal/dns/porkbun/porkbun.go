// Package porkbun is a client for the name-server part of Porkbun's JSON API v3
// (domain/getNs and domain/updateNs) and for reading a domain's DNSSEC DS
// records at the registry (dns/getDnssecRecords). Every call is a POST whose
// JSON body carries the API key and secret API key; the keys never leave that
// body: they are not printed, logged, written or put into errors.
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
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
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

// Options tune the client; zero values take the defaults noted.
type Options struct {
	BaseURL     string        // default DefaultBaseURL
	HTTPClient  *http.Client  // default a client without an overall timeout (Timeout below applies per attempt)
	Timeout     time.Duration // per attempt; default 20s
	MaxAttempts int           // total attempts for retriable failures; default 4
	BaseDelay   time.Duration // first backoff; default 500ms, doubled each retry, jittered
	MaxDelay    time.Duration // backoff cap; default 8s
}

// Client talks to the Porkbun API. It implements dns.Registrar.
type Client struct {
	creds Credentials
	base  string
	http  *http.Client
	opts  Options
}

var (
	_ kdns.Registrar = (*Client)(nil)
	_ kdns.DSReader  = (*Client)(nil)
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
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 4
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 500 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 8 * time.Second
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
	Op         string // getNs, updateNs, getDnssecRecords
	Domain     string
	HTTPStatus int
	Message    string // Porkbun's own message, with any credential scrubbed
	auth       bool
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
	return s
}

// Is makes errors.Is(err, ErrAuth) true for authentication failures.
func (e *APIError) Is(target error) bool { return target == ErrAuth && e.auth }

type request struct {
	APIKey       string   `json:"apikey"`
	SecretAPIKey string   `json:"secretapikey"`
	NS           []string `json:"ns,omitempty"`
}

type response struct {
	Status  string          `json:"status"`
	Message string          `json:"message"`
	NS      []string        `json:"ns"`
	Records json.RawMessage `json:"records"` // getDnssecRecords; decoded by DSRecords
}

// call POSTs one API operation ({base}/{group}/{op}/{domain}), retrying
// network errors, timeouts, 429 and 5xx answers with jittered exponential
// backoff. Authentication errors and other 4xx answers are final.
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
			if err := wait.Sleep(ctx, c.backoff(attempt-1)); err != nil {
				return fmt.Errorf("porkbun %s %s: %w (last error: %s)", op, domain, err, c.scrub(lastErr.Error()))
			}
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
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, apiErr
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		apiErr.auth = true
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

// backoff is exponential with full jitter: a random delay in [d/2, d] where
// d = BaseDelay * 2^(retry-1), capped at MaxDelay.
func (c *Client) backoff(retry int) time.Duration {
	d := c.opts.BaseDelay << (retry - 1)
	if d > c.opts.MaxDelay || d <= 0 {
		d = c.opts.MaxDelay
	}
	half := d / 2
	return half + rand.N(half+1)
}
