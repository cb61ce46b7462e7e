// Package porkbuntest runs an in-process HTTP server implementing the
// name-server part of Porkbun's JSON API v3 as documented (POST
// domain/getNs/{domain} and domain/updateNs/{domain}, keys in the JSON body,
// answers {"status":"SUCCESS"|"ERROR","message":...,"ns":[...]}) and the
// read side of its DNSSEC part (POST dns/getDnssecRecords/{domain}, answering
// {"status":"SUCCESS","records":{"<keyTag>":{"keyTag":...,"alg":...,
// "digestType":...,"digest":...}}}), and the records of its DNS service
// (POST dns/retrieve/{domain}, answering {"status":"SUCCESS","records":[{"id":
// ...,"name":...,"type":...,"content":...,"ttl":"600","prio":...,"notes":...}]}),
// with injectable faults and, when asked, Porkbun's rate limiting.
//
// It is a fake: it proves the client against the documented contract, not
// against Porkbun itself. The DS records are whatever the test sets; the fake
// neither validates them nor models a registry (changing the name servers
// leaves them as they are, and nothing here signs or resolves anything).
// A domain starts with Porkbun's parking defaults as its DNS records (an
// ALIAS at the apex and a CNAME for *, both to pixie.porkbun.com), as a
// newly registered one does; like Porkbun, the fake keeps them, and any
// records set, when the name servers change.
package porkbuntest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault changes the answer to the next request.
type Fault struct {
	Status  int           // HTTP status to answer with (0: normal handling)
	Message string        // ERROR message sent with Status
	Delay   time.Duration // wait before answering (the request's context still ends it)
	RawBody string        // answer body instead of JSON (for example an HTML error page); needs Status
	// ContentType of RawBody; default text/html.
	ContentType string
	// WAFChallenge answers as AWS WAF in front of Porkbun does when it
	// challenges a client: HTTP 202, header x-amzn-waf-action: challenge,
	// an HTML page. Status and RawBody are ignored.
	WAFChallenge bool
}

// Record is a DNS record as retrieve reports it; Name is the full name.
type Record struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Content string `json:"content"`
	TTL     string `json:"ttl"`
	Prio    string `json:"prio"`
	Notes   string `json:"notes"`
}

// ParkingRecords are the records Porkbun creates for a new domain.
func ParkingRecords(domain string) []Record {
	return []Record{
		{ID: "1", Name: domain, Type: "ALIAS", Content: "pixie.porkbun.com", TTL: "600", Prio: "0"},
		{ID: "2", Name: "*." + domain, Type: "CNAME", Content: "pixie.porkbun.com", TTL: "600", Prio: "0"},
	}
}

// RateLimit is how the server answers a request that comes too soon.
type RateLimit int

const (
	// Limit503 answers HTTP 503 with an HTML page.
	Limit503 RateLimit = iota + 1
	// LimitWAF answers as an AWS WAF challenge (see Fault.WAFChallenge).
	LimitWAF
)

// DSRecord is a DS record as getDnssecRecords reports it.
type DSRecord struct {
	KeyTag     string `json:"keyTag"`
	Alg        string `json:"alg"`
	DigestType string `json:"digestType"`
	Digest     string `json:"digest"`
}

// Server is a fake Porkbun API.
type Server struct {
	*httptest.Server
	APIKey       string
	SecretAPIKey string

	mu           sync.Mutex
	ns           map[string][]string
	ds           map[string][]DSRecord
	records      map[string][]Record
	emptyDSArray bool
	calls        map[string]int
	faults       []Fault
	bodies       []string    // raw request bodies, for assertions on what was sent
	times        []time.Time // arrival of every request
	minGap       time.Duration
	limit        RateLimit
	limited      int
}

// Start serves domains (domain => name servers) for the key pair and stops on
// test cleanup.
func Start(t testing.TB, apiKey, secretAPIKey string, domains map[string][]string) *Server {
	t.Helper()
	s := New(apiKey, secretAPIKey, domains)
	t.Cleanup(s.Close)
	return s
}

// New starts a server outside a test; the caller closes it.
func New(apiKey, secretAPIKey string, domains map[string][]string) *Server {
	s := &Server{APIKey: apiKey, SecretAPIKey: secretAPIKey, ns: map[string][]string{}, ds: map[string][]DSRecord{}, records: map[string][]Record{}, calls: map[string]int{}}
	for d, ns := range domains {
		s.ns[d] = slices.Clone(ns)
		s.records[d] = ParkingRecords(d)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// BaseURL is the value for PORKBUN_API_URL.
func (s *Server) BaseURL() string { return s.URL + "/api/json/v3" }

// AddFaults queues faults, consumed one per request in order.
func (s *Server) AddFaults(f ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f...)
}

// SetDSRecords replaces the DS records getDnssecRecords reports for domain
// (a domain the server holds); none removes them.
func (s *Server) SetDSRecords(domain string, records ...DSRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ds[domain] = slices.Clone(records)
}

// SetRecords replaces the DNS records retrieve reports for domain (a domain
// the server holds), parking defaults included; none leaves none. IDs are
// filled in when empty.
func (s *Server) SetRecords(domain string, records ...Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := slices.Clone(records)
	for i := range recs {
		if recs[i].ID == "" {
			recs[i].ID = strconv.Itoa(1000 + i)
		}
	}
	s.records[domain] = recs
}

// Records returns the DNS records the server holds for domain.
func (s *Server) Records(domain string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records[domain])
}

// LimitRate makes the server refuse, the way Porkbun does, every request
// that arrives less than minGap after the previous one (refused ones count:
// a client retrying too fast stays refused). Zero turns it off.
func (s *Server) LimitRate(minGap time.Duration, how RateLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.minGap, s.limit = minGap, how
}

// Limited returns how many requests the rate limit refused.
func (s *Server) Limited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// RequestTimes returns when each request arrived, in order.
func (s *Server) RequestTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.times)
}

// DSRecords returns the DS records the server holds for domain.
func (s *Server) DSRecords(domain string) []DSRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ds[domain])
}

// EmptyDSAsArray makes getDnssecRecords answer "records":[] rather than
// "records":{} for a domain without DS records: the documentation shows an
// object, but an empty one may well come as an empty array.
func (s *Server) EmptyDSAsArray(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emptyDSArray = on
}

// Calls returns how many requests reached op ("getNs", "updateNs",
// "getDnssecRecords"), faults included.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// NameServers returns the name servers the server holds for domain.
func (s *Server) NameServers(domain string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ns[domain])
}

// RequestBodies returns every request body received.
func (s *Server) RequestBodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bodies)
}

type answer struct {
	Status  string   `json:"status"`
	Message string   `json:"message,omitempty"`
	NS      []string `json:"ns,omitempty"`
	Records any      `json:"records,omitempty"` // getDnssecRecords: an object keyed by key tag, or []; retrieve: a list
}

// groups are the operations served, by path group.
var groups = map[string][]string{"domain": {"getNs", "updateNs"}, "dns": {"getDnssecRecords", "retrieve"}}

const wafPage = `<!DOCTYPE html><html><head><title>Human Verification</title></head><body><script>/* AWS WAF challenge */</script></body></html>`

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/json/v3/")
	group, rest, _ := strings.Cut(rest, "/")
	op, domain, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || !slices.Contains(groups[group], op) {
		write(w, http.StatusNotFound, answer{Status: "ERROR", Message: "Invalid endpoint."})
		return
	}
	var body struct {
		APIKey       string   `json:"apikey"`
		SecretAPIKey string   `json:"secretapikey"`
		NS           []string `json:"ns"`
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))

	s.mu.Lock()
	s.calls[op]++
	s.bodies = append(s.bodies, string(raw))
	now := time.Now()
	tooSoon := s.minGap > 0 && len(s.times) > 0 && now.Sub(s.times[len(s.times)-1]) < s.minGap
	s.times = append(s.times, now)
	var fault *Fault
	switch {
	case tooSoon && s.limit == LimitWAF:
		s.limited++
		fault = &Fault{WAFChallenge: true}
	case tooSoon:
		s.limited++
		fault = &Fault{Status: http.StatusServiceUnavailable, RawBody: "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"}
	case len(s.faults) > 0:
		f := s.faults[0]
		s.faults = s.faults[1:]
		fault = &f
	}
	s.mu.Unlock()

	if fault != nil {
		if fault.Delay > 0 {
			select {
			case <-time.After(fault.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if fault.WAFChallenge {
			w.Header().Set("Content-Type", "text/html; charset=UTF-8")
			w.Header().Set("x-amzn-waf-action", "challenge")
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(wafPage))
			return
		}
		if fault.RawBody != "" {
			ct := fault.ContentType
			if ct == "" {
				ct = "text/html"
			}
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(fault.Status)
			_, _ = w.Write([]byte(fault.RawBody))
			return
		}
		if fault.Status != 0 {
			write(w, fault.Status, answer{Status: "ERROR", Message: fault.Message})
			return
		}
	}

	if r.Method != http.MethodPost {
		write(w, http.StatusMethodNotAllowed, answer{Status: "ERROR", Message: "Only POST is accepted."})
		return
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		write(w, http.StatusBadRequest, answer{Status: "ERROR", Message: "Invalid JSON."})
		return
	}
	if body.APIKey == "" || body.SecretAPIKey == "" {
		write(w, http.StatusBadRequest, answer{Status: "ERROR", Message: "All API requests require an API key and secret API key."})
		return
	}
	if body.APIKey != s.APIKey || body.SecretAPIKey != s.SecretAPIKey {
		write(w, http.StatusBadRequest, answer{Status: "ERROR", Message: "Invalid API key. (002)"})
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	current, known := s.ns[domain]
	if !known {
		write(w, http.StatusBadRequest, answer{Status: "ERROR", Message: "Invalid domain."})
		return
	}
	switch op {
	case "getNs":
		write(w, http.StatusOK, answer{Status: "SUCCESS", NS: slices.Clone(current)})
	case "updateNs":
		if len(body.NS) == 0 {
			write(w, http.StatusBadRequest, answer{Status: "ERROR", Message: "You must specify at least one name server."})
			return
		}
		s.ns[domain] = slices.Clone(body.NS)
		write(w, http.StatusOK, answer{Status: "SUCCESS"})
	case "getDnssecRecords":
		byTag := map[string]DSRecord{}
		for _, rec := range s.ds[domain] {
			byTag[rec.KeyTag] = rec
		}
		var records any = byTag
		if len(byTag) == 0 && s.emptyDSArray {
			records = []DSRecord{}
		}
		write(w, http.StatusOK, answer{Status: "SUCCESS", Records: records})
	case "retrieve":
		recs := slices.Clone(s.records[domain])
		if recs == nil {
			recs = []Record{}
		}
		write(w, http.StatusOK, answer{Status: "SUCCESS", Records: recs})
	}
}

func write(w http.ResponseWriter, status int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a)
}
