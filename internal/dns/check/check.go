// Package check tells whether a cluster domain's delegation has propagated:
// a resolver answers the domain's NS query with the hosted zone's name
// servers, and the apex resolves to the NLB's addresses; and whether the CAA
// records above and at the domain let Let's Encrypt issue its certificates.
package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	kdns "github.com/kforge/kforge/internal/dns"
	"github.com/kforge/kforge/internal/wait"
)

// Resolver asks one DNS server (usually a recursive resolver) directly.
type Resolver struct {
	Addr    string        // host:port
	Timeout time.Duration // per query; default 3s
}

// DefaultResolvConf is where the system's resolver is read from.
const DefaultResolvConf = "/etc/resolv.conf"

// SystemResolver returns the first name server listed in resolvConf as host:port.
func SystemResolver(resolvConf string) (string, error) {
	cfg, err := mdns.ClientConfigFromFile(resolvConf)
	if err != nil {
		return "", fmt.Errorf("reading the system resolver from %s: %w (pass --resolver host:port)", resolvConf, err)
	}
	if len(cfg.Servers) == 0 {
		return "", fmt.Errorf("%s lists no nameserver: pass --resolver host:port", resolvConf)
	}
	return net.JoinHostPort(cfg.Servers[0], cfg.Port), nil
}

// ParseResolver validates a host:port (an IP, a host name, or an IP without
// port, which gets port 53).
func ParseResolver(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("--resolver is empty: give host:port, for example 1.1.1.1:53")
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return net.JoinHostPort(ip.String(), "53"), nil
	}
	host, port, err := net.SplitHostPort(s)
	if n, perr := strconv.ParseUint(port, 10, 16); err != nil || host == "" || perr != nil || n == 0 {
		return "", fmt.Errorf("--resolver %q is not host:port (for example 1.1.1.1:53)", s)
	}
	return s, nil
}

func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*mdns.Msg, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	c := &mdns.Client{Net: "udp", Timeout: timeout}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	in, _, err := c.ExchangeContext(qctx, m, r.Addr)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(qctx, m, r.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("asking %s for %s %s: %w", r.Addr, mdns.TypeToString[qtype], name, err)
	}
	if in.Rcode != mdns.RcodeSuccess && in.Rcode != mdns.RcodeNameError {
		return nil, &rcodeError{resolver: r.Addr, name: name, qtype: qtype, rcode: in.Rcode}
	}
	return in, nil
}

// rcodeError is an answer with an error code other than NXDOMAIN.
type rcodeError struct {
	resolver, name string
	qtype          uint16
	rcode          int
}

func (e *rcodeError) Error() string {
	return fmt.Sprintf("%s answered %s for %s %s", e.resolver, mdns.RcodeToString[e.rcode], mdns.TypeToString[e.qtype], e.name)
}

// servfailHint points at a common lasting cause of SERVFAIL for a domain
// whose zone kforge created: DS records left at the parent above the
// unsigned Route 53 zone. It is empty for any other error.
func servfailHint(err error, domain string) string {
	var re *rcodeError
	if !errors.As(err, &re) || re.rcode != mdns.RcodeServerFailure {
		return ""
	}
	return fmt.Sprintf(" (if `dig DS %s +short` lists records, DNSSEC is the cause: the parent publishes DS records but the Route 53 zone is not signed, so validating resolvers reject its answers; remove them at the registrar or from the parent zone; see DNSSEC in docs/DNS.md)", domain)
}

// NS returns the name servers the resolver reports for name: the answer
// section of a recursive reply, or the referral of an authoritative parent.
// NXDOMAIN and an empty answer give an empty list.
func (r *Resolver) NS(ctx context.Context, name string) ([]string, error) {
	in, err := r.query(ctx, name, mdns.TypeNS)
	if err != nil {
		return nil, err
	}
	owner := kdns.NormalizeName(name)
	collect := func(rrs []mdns.RR) []string {
		var out []string
		for _, rr := range rrs {
			if ns, ok := rr.(*mdns.NS); ok && kdns.NormalizeName(ns.Hdr.Name) == owner {
				out = append(out, kdns.NormalizeName(ns.Ns))
			}
		}
		return out
	}
	if ns := collect(in.Answer); len(ns) > 0 {
		return kdns.NormalizeSet(ns), nil
	}
	return kdns.NormalizeSet(collect(in.Ns)), nil
}

// Addrs returns the IPv4 addresses name resolves to, following CNAMEs the
// resolver included in its answer.
func (r *Resolver) Addrs(ctx context.Context, name string) ([]string, error) {
	in, err := r.query(ctx, name, mdns.TypeA)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range in.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Expected is what a propagated delegation looks like.
type Expected struct {
	Domain      string   // cluster domain, for example dev.example.com
	NameServers []string // the hosted zone's name servers
	NLBDNSName  string   // the NLB's DNS name; empty skips the apex check
}

// Report is the result of one check.
type Report struct {
	Domain          string   `json:"domain"`
	Resolver        string   `json:"resolver"`
	NameServers     []string `json:"name_servers"`          // what the resolver says
	WantNameServers []string `json:"expected_name_servers"` // the zone's
	NSPropagated    bool     `json:"ns_propagated"`
	NSError         string   `json:"ns_error,omitempty"`
	ApexChecked     bool     `json:"apex_checked"`
	ApexAddrs       []string `json:"apex_addresses"`
	NLBDNSName      string   `json:"nlb_dns_name,omitempty"`
	NLBAddrs        []string `json:"nlb_addresses"`
	ApexPropagated  bool     `json:"apex_propagated"`
	ApexError       string   `json:"apex_error,omitempty"`
	// CAA: the first CAA set found climbing from the domain to its
	// registered domain, and whether it lets Let's Encrypt issue (HTTP-01,
	// non-wildcard names) for the domain and the names under it.
	CAAChecked     bool     `json:"caa_checked"`
	CAADomain      string   `json:"caa_domain,omitempty"`       // where the set was found; empty: none
	CAAAliasTarget string   `json:"caa_alias_target,omitempty"` // where its records sit when caa_domain is a CNAME
	CAARecords     []string `json:"caa_records"`
	CAAAllowed     bool     `json:"caa_allows_letsencrypt"`
	CAAReason      string   `json:"caa_reason,omitempty"` // why not, and the fix; or the condition it sets
	CAAError       string   `json:"caa_error,omitempty"`
	// Propagated: the NS set matches, the apex (when checked) resolves to
	// the NLB, and CAA lets Let's Encrypt issue.
	Propagated bool `json:"propagated"`
}

// Check queries the resolver once.
func Check(ctx context.Context, r *Resolver, want Expected) Report {
	rep := Report{
		Domain:          kdns.NormalizeName(want.Domain),
		Resolver:        r.Addr,
		WantNameServers: kdns.NormalizeSet(want.NameServers),
		NameServers:     []string{},
		ApexAddrs:       []string{},
		NLBAddrs:        []string{},
		NLBDNSName:      kdns.NormalizeName(want.NLBDNSName),
	}
	hinted := false // the SERVFAIL hint, once per report
	if ns, err := r.NS(ctx, rep.Domain); err != nil {
		hint := servfailHint(err, rep.Domain)
		rep.NSError, hinted = err.Error()+hint, hint != ""
	} else {
		rep.NameServers = ns
		rep.NSPropagated = len(ns) > 0 && kdns.SameNameServers(ns, rep.WantNameServers)
	}

	if rep.NLBDNSName != "" {
		rep.ApexChecked = true
		apex, err := r.Addrs(ctx, rep.Domain)
		if err != nil {
			rep.ApexError = err.Error()
			if !hinted {
				hint := servfailHint(err, rep.Domain)
				rep.ApexError, hinted = rep.ApexError+hint, hint != ""
			}
		} else {
			rep.ApexAddrs = apex
		}
		nlb, err := r.Addrs(ctx, rep.NLBDNSName)
		if err != nil && rep.ApexError == "" {
			rep.ApexError = err.Error()
		} else if err == nil {
			rep.NLBAddrs = nlb
		}
		// An alias record answers with the NLB's own addresses; every apex
		// address must be one of them.
		rep.ApexPropagated = rep.ApexError == "" && len(rep.ApexAddrs) > 0 && len(rep.NLBAddrs) > 0 && subset(rep.ApexAddrs, rep.NLBAddrs)
	}
	// A CAA set that forbids Let's Encrypt leaves every certificate pending
	// with nothing in the cluster saying why, so it fails the check too.
	rep.caaCheck(ctx, r, hinted)
	rep.Propagated = rep.NSPropagated && (!rep.ApexChecked || rep.ApexPropagated) && rep.CAAAllowed
	return rep
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// ErrNotPropagated is returned by Wait when the timeout passes first.
var ErrNotPropagated = errors.New("delegation has not propagated")

// Wait checks every interval until the delegation has propagated or timeout
// passes; onCheck (may be nil) sees every report. It returns the last report.
func Wait(ctx context.Context, r *Resolver, want Expected, interval, timeout time.Duration, onCheck func(Report)) (Report, error) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	// The deadline is checked between checks rather than imposed on them, so
	// the last report is a complete answer, not a query cut off midway.
	deadline := time.Now().Add(timeout)
	for {
		rep := Check(ctx, r, want)
		if onCheck != nil {
			onCheck(rep)
		}
		if rep.Propagated {
			return rep, nil
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return rep, fmt.Errorf("%w after %s: %s", ErrNotPropagated, timeout, rep.Summary())
		}
		if err := wait.Sleep(ctx, min(interval, remaining)); err != nil {
			return rep, err
		}
	}
}

// Summary is a one-line explanation of a report.
func (rep Report) Summary() string {
	var parts []string
	switch {
	case rep.NSError != "":
		parts = append(parts, "NS lookup failed: "+rep.NSError)
	case rep.NSPropagated:
		parts = append(parts, "NS match the zone")
	case len(rep.NameServers) == 0:
		parts = append(parts, "no NS records for "+rep.Domain+" yet")
	default:
		parts = append(parts, fmt.Sprintf("NS are %s, want %s", strings.Join(rep.NameServers, ", "), strings.Join(rep.WantNameServers, ", ")))
	}
	if rep.ApexChecked {
		switch {
		case rep.ApexError != "":
			parts = append(parts, "apex lookup failed: "+rep.ApexError)
		case rep.ApexPropagated:
			parts = append(parts, "apex resolves to the NLB")
		case len(rep.ApexAddrs) == 0:
			parts = append(parts, "apex has no A record yet")
		default:
			parts = append(parts, fmt.Sprintf("apex resolves to %s, NLB to %s", strings.Join(rep.ApexAddrs, ", "), strings.Join(rep.NLBAddrs, ", ")))
		}
	}
	if rep.CAAChecked {
		switch {
		case rep.CAAError != "":
			parts = append(parts, rep.CAAError)
		case !rep.CAAAllowed || rep.CAAReason != "":
			parts = append(parts, rep.CAAReason)
		case rep.CAADomain != "":
			parts = append(parts, "CAA at "+rep.CAADomain+" lets Let's Encrypt issue")
		default:
			parts = append(parts, "no CAA records restrict issuance")
		}
	}
	return strings.Join(parts, "; ")
}
