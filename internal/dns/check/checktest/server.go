// Package checktest runs a small DNS server on a loopback UDP port for tests:
// it answers NS and A queries from records the test sets and can change while
// it runs (to simulate propagation), or with an error code set for a name (a
// SERVFAIL as a validating resolver gives for a broken DNSSEC chain; nothing
// here validates anything). It stands in for a recursive resolver.
package checktest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	mdns "github.com/miekg/dns"
)

// Server is a DNS server answering from an in-memory table.
type Server struct {
	addr string
	srv  *mdns.Server

	mu      sync.Mutex
	nsFrom  func(name string) []string
	ns      map[string][]string // owner (FQDN) => name servers
	a       map[string][]string // owner (FQDN) => IPv4 addresses
	rcode   map[string]int      // owner (FQDN) => error code answered for every query
	queries int
}

// Start listens on 127.0.0.1 on a free UDP port and stops on test cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen serves on a UDP address outside a test; the caller closes it.
func Listen(addr string) (*Server, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for DNS on %s: %w", addr, err)
	}
	s := &Server{addr: pc.LocalAddr().String(), ns: map[string][]string{}, a: map[string][]string{}, rcode: map[string]int{}}
	started := make(chan struct{})
	s.srv = &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(s.serve), NotifyStartedFunc: func() { close(started) }}
	go func() { _ = s.srv.ActivateAndServe() }()
	<-started
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Shutdown() }

// NSFrom makes the server answer NS queries for names it has no NS records
// for from lookup (for example a fake registrar's current table), the way a
// TLD answers from what the registrar last sent it.
func (s *Server) NSFrom(lookup func(name string) []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nsFrom = lookup
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// SetNS sets (replaces) the NS records of name; none removes them.
func (s *Server) SetNS(name string, nameServers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ns[mdns.CanonicalName(name)] = nameServers
}

// SetA sets (replaces) the A records of name; none removes them.
func (s *Server) SetA(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.a[mdns.CanonicalName(name)] = addrs
}

// SetRcode makes the server answer every query for name with rcode (for
// example dns.RcodeServerFailure, what a validating resolver answers for a
// domain whose DNSSEC chain is broken); dns.RcodeSuccess clears it.
func (s *Server) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rcode == mdns.RcodeSuccess {
		delete(s.rcode, mdns.CanonicalName(name))
		return
	}
	s.rcode[mdns.CanonicalName(name)] = rcode
}

// Queries counts the questions answered so far.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

func (s *Server) serve(w mdns.ResponseWriter, req *mdns.Msg) {
	m := new(mdns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	s.mu.Lock()
	s.queries++
	for _, q := range req.Question {
		name := mdns.CanonicalName(q.Name)
		if rc, ok := s.rcode[name]; ok {
			m.Rcode = rc
			continue
		}
		nsSet, hasNS := s.ns[name]
		if !hasNS && s.nsFrom != nil {
			nsSet = s.nsFrom(strings.TrimSuffix(name, "."))
			hasNS = len(nsSet) > 0
		}
		aSet, hasA := s.a[name]
		if !hasNS && !hasA {
			m.Rcode = mdns.RcodeNameError
			continue
		}
		hdr := mdns.RR_Header{Name: q.Name, Class: mdns.ClassINET, Ttl: 60}
		switch q.Qtype {
		case mdns.TypeNS:
			for _, ns := range nsSet {
				h := hdr
				h.Rrtype = mdns.TypeNS
				m.Answer = append(m.Answer, &mdns.NS{Hdr: h, Ns: mdns.Fqdn(ns)})
			}
		case mdns.TypeA:
			for _, ip := range aSet {
				h := hdr
				h.Rrtype = mdns.TypeA
				m.Answer = append(m.Answer, &mdns.A{Hdr: h, A: net.ParseIP(ip)})
			}
		}
	}
	s.mu.Unlock()
	_ = w.WriteMsg(m)
}
