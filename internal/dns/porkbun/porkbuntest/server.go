// Package porkbuntest runs an in-process HTTP server implementing the
// name-server part of Porkbun's JSON API v3 as documented (POST
// domain/getNs/{domain} and domain/updateNs/{domain}, keys in the JSON body,
// answers {"status":"SUCCESS"|"ERROR","message":...,"ns":[...]}) and the
// read side of its DNSSEC part (POST dns/getDnssecRecords/{domain}, answering
// {"status":"SUCCESS","records":{"<keyTag>":{"keyTag":...,"alg":...,
// "digestType":...,"digest":...}}}), with injectable faults.
//
// It is a fake: it proves the client against the documented contract, not
// against Porkbun itself. The DS records are whatever the test sets; the fake
// neither validates them nor models a registry (changing the name servers
// leaves them as they are, and nothing here signs or resolves anything).
package porkbuntest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
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
}

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
	emptyDSArray bool
	calls        map[string]int
	faults       []Fault
	bodies       []string // raw request bodies, for assertions on what was sent
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
	s := &Server{APIKey: apiKey, SecretAPIKey: secretAPIKey, ns: map[string][]string{}, ds: map[string][]DSRecord{}, calls: map[string]int{}}
	for d, ns := range domains {
		s.ns[d] = slices.Clone(ns)
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
	Records any      `json:"records,omitempty"` // getDnssecRecords: an object keyed by key tag, or []
}

// groups are the operations served, by path group.
var groups = map[string][]string{"domain": {"getNs", "updateNs"}, "dns": {"getDnssecRecords"}}

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
	var fault *Fault
	if len(s.faults) > 0 {
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
	}
}

func write(w http.ResponseWriter, status int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a)
}
