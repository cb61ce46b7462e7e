// Package checktest runs a small DNS server on a loopback UDP port for tests:
// it answers NS, A and CAA queries from records the test sets and can change
// while it runs (to simulate propagation), or with an error code set for a
// name (a SERVFAIL as a validating resolver gives for a broken DNSSEC chain;
// nothing here validates anything). It stands in for a recursive resolver,
// so it follows the CNAMEs it holds and answers with the whole chain.
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
	caa     map[string][]CAA    // owner (FQDN) => CAA records
	cname   map[string]string   // owner (FQDN) => alias target (FQDN)
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
	s := &Server{addr: pc.LocalAddr().String(), ns: map[string][]string{}, a: map[string][]string{},
		caa: map[string][]CAA{}, cname: map[string]string{}, rcode: map[string]int{}}
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

// CAA is one CAA record (RFC 8659): Flag 128 marks it critical.
type CAA struct {
	Flag  uint8
	Tag   string
	Value string
}

// SetCAA sets (replaces) the CAA records of name; none removes them.
func (s *Server) SetCAA(name string, records ...CAA) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caa[mdns.CanonicalName(name)] = records
}

// SetCNAME makes name an alias of target; an empty target removes it.
func (s *Server) SetCNAME(name, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if target == "" {
		delete(s.cname, mdns.CanonicalName(name))
		return
	}
	s.cname[mdns.CanonicalName(name)] = mdns.CanonicalName(target)
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

// maxChain bounds the CNAME chain the server follows (a loop ends there).
const maxChain = 8

func (s *Server) serve(w mdns.ResponseWriter, req *mdns.Msg) {
	m := new(mdns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	s.mu.Lock()
	s.queries++
	for _, q := range req.Question {
		s.answer(m, mdns.CanonicalName(q.Name), q.Qtype)
	}
	s.mu.Unlock()
	_ = w.WriteMsg(m)
}

// answer adds the records of name and qtype to m, after the CNAMEs leading
// to them, as a recursive resolver would. s.mu is held.
func (s *Server) answer(m *mdns.Msg, name string, qtype uint16) {
	for range maxChain {
		if rc, ok := s.rcode[name]; ok {
			m.Rcode = rc
			return
		}
		hdr := func(t uint16) mdns.RR_Header {
			return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: 60}
		}
		if target, ok := s.cname[name]; ok && qtype != mdns.TypeCNAME {
			m.Answer = append(m.Answer, &mdns.CNAME{Hdr: hdr(mdns.TypeCNAME), Target: target})
			name = target
			continue
		}
		nsSet, hasNS := s.ns[name]
		if !hasNS && s.nsFrom != nil {
			nsSet = s.nsFrom(strings.TrimSuffix(name, "."))
			hasNS = len(nsSet) > 0
		}
		aSet, hasA := s.a[name]
		caaSet, hasCAA := s.caa[name]
		if !hasNS && !hasA && !hasCAA {
			m.Rcode = mdns.RcodeNameError
			return
		}
		switch qtype {
		case mdns.TypeNS:
			for _, ns := range nsSet {
				m.Answer = append(m.Answer, &mdns.NS{Hdr: hdr(mdns.TypeNS), Ns: mdns.Fqdn(ns)})
			}
		case mdns.TypeA:
			for _, ip := range aSet {
				m.Answer = append(m.Answer, &mdns.A{Hdr: hdr(mdns.TypeA), A: net.ParseIP(ip)})
			}
		case mdns.TypeCAA:
			for _, c := range caaSet {
				m.Answer = append(m.Answer, &mdns.CAA{Hdr: hdr(mdns.TypeCAA), Flag: c.Flag, Tag: c.Tag, Value: c.Value})
			}
		}
		return
	}
}
