package lab

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"
)

// Zone is one Route 53 hosted zone as the VPC resolver serves it.
type Zone struct {
	Name    string // fully qualified, lower case
	Private bool
	Records []dns.RR
}

// ZoneSource lists the zones the resolver answers from.
type ZoneSource func(ctx context.Context) ([]Zone, error)

// Route53Zones reads every hosted zone and record set of the emulator's
// Route 53: the lab's VPC resolver answers from exactly these.
func Route53Zones(client *route53.Client) ZoneSource {
	return func(ctx context.Context) ([]Zone, error) {
		var zones []Zone
		p := route53.NewListHostedZonesPaginator(client, &route53.ListHostedZonesInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing hosted zones: %w", err)
			}
			for _, hz := range page.HostedZones {
				z := Zone{Name: canonical(aws.ToString(hz.Name))}
				if hz.Config != nil {
					z.Private = hz.Config.PrivateZone
				}
				rp := route53.NewListResourceRecordSetsPaginator(client, &route53.ListResourceRecordSetsInput{HostedZoneId: hz.Id})
				for rp.HasMorePages() {
					rpage, err := rp.NextPage(ctx)
					if err != nil {
						return nil, fmt.Errorf("listing records of zone %s: %w", z.Name, err)
					}
					for _, rrs := range rpage.ResourceRecordSets {
						z.Records = append(z.Records, recordsOf(rrs)...)
					}
				}
				zones = append(zones, z)
			}
		}
		return zones, nil
	}
}

// recordsOf turns a Route 53 record set into DNS records; alias record sets
// (whose targets, such as load balancers, have no address in the lab) and
// types the resolver cannot parse are left out.
func recordsOf(rrs r53types.ResourceRecordSet) []dns.RR {
	name := canonical(aws.ToString(rrs.Name))
	ttl := aws.ToInt64(rrs.TTL)
	var out []dns.RR
	for _, r := range rrs.ResourceRecords {
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", name, ttl, rrs.Type, aws.ToString(r.Value)))
		if err == nil && rr != nil {
			out = append(out, rr)
		}
	}
	return out
}

// canonical lower-cases a name, makes it fully qualified and turns Route
// 53's escaped wildcard (\052) back into '*'.
func canonical(name string) string {
	name = strings.ToLower(strings.ReplaceAll(name, `\052`, "*"))
	return dns.Fqdn(name)
}

// Resolver is the VPC's DNS server: it answers from the hosted zones and
// refuses every other name, so nothing in the lab resolves a name outside it.
type Resolver struct {
	source  ZoneSource
	maxAge  time.Duration
	mu      sync.Mutex
	zones   []Zone
	fetched time.Time
	servers []*dns.Server
}

// NewResolver serves the zones of source; they are re-read when older than
// maxAge, so a record the agent upserts is answered within maxAge.
func NewResolver(source ZoneSource, maxAge time.Duration) *Resolver {
	return &Resolver{source: source, maxAge: maxAge}
}

// ServeIn starts UDP and TCP servers on addr (host:53) inside namespace ns.
func (r *Resolver) ServeIn(ns, addr string) error {
	pc, err := ListenPacketIn(ns, "udp", addr)
	if err != nil {
		return err
	}
	ln, err := ListenIn(ns, "tcp", addr)
	if err != nil {
		pc.Close()
		return err
	}
	r.ServeOn(pc, ln)
	return nil
}

// ServeOn answers on an open UDP socket and TCP listener.
func (r *Resolver) ServeOn(pc net.PacketConn, ln net.Listener) {
	udp := &dns.Server{PacketConn: pc, Handler: r}
	tcp := &dns.Server{Listener: ln, Handler: r}
	r.servers = append(r.servers, udp, tcp)
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
}

// Close stops the servers.
func (r *Resolver) Close() error {
	for _, s := range r.servers {
		_ = s.Shutdown()
	}
	return nil
}

func (r *Resolver) current(ctx context.Context) ([]Zone, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.zones != nil && time.Since(r.fetched) < r.maxAge {
		return r.zones, nil
	}
	zones, err := r.source(ctx)
	if err != nil {
		if r.zones != nil {
			return r.zones, nil // serve the last good copy through an emulator hiccup
		}
		return nil, err
	}
	r.zones, r.fetched = zones, time.Now()
	return zones, nil
}

// ServeDNS answers one query.
func (r *Resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	defer func() { _ = w.WriteMsg(m) }()
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	zones, err := r.current(ctx)
	if err != nil {
		m.Rcode = dns.RcodeServerFailure
		return
	}
	r.answer(m, zones, req.Question[0])
}

// answer fills m for q: the longest matching zone (private before public)
// is authoritative; a name in no zone is refused.
func (r *Resolver) answer(m *dns.Msg, zones []Zone, q dns.Question) {
	name := canonical(q.Name)
	zone := bestZone(zones, name)
	if zone == nil {
		m.Rcode = dns.RcodeRefused
		return
	}
	m.Authoritative = true
	for hops := 0; hops < 8; hops++ {
		rrs := lookup(zone, name)
		if len(rrs) == 0 {
			if len(m.Answer) == 0 {
				m.Rcode = dns.RcodeNameError
				m.Ns = soaOf(zone)
			}
			return
		}
		var cname *dns.CNAME
		found := false
		for _, rr := range rrs {
			rr = dns.Copy(rr)
			rr.Header().Name = q.Name
			if len(m.Answer) > 0 {
				rr.Header().Name = name
			}
			switch {
			case rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY:
				m.Answer = append(m.Answer, rr)
				found = true
			case rr.Header().Rrtype == dns.TypeCNAME:
				cname = rr.(*dns.CNAME)
			}
		}
		if found || cname == nil {
			if !found && len(m.Answer) == 0 {
				m.Ns = soaOf(zone)
			}
			return
		}
		m.Answer = append(m.Answer, cname)
		name = canonical(cname.Target)
		if zone = bestZone(zones, name); zone == nil {
			return // a CNAME out of the lab's zones is answered, not followed
		}
	}
}

func bestZone(zones []Zone, name string) *Zone {
	var best *Zone
	for i := range zones {
		z := &zones[i]
		if !dns.IsSubDomain(z.Name, name) {
			continue
		}
		if best == nil || len(z.Name) > len(best.Name) || (len(z.Name) == len(best.Name) && z.Private && !best.Private) {
			best = z
		}
	}
	return best
}

// lookup returns the records at name, or at the wildcard covering it.
func lookup(z *Zone, name string) []dns.RR {
	var exact []dns.RR
	for _, rr := range z.Records {
		if strings.EqualFold(rr.Header().Name, name) {
			exact = append(exact, rr)
		}
	}
	if len(exact) > 0 || name == z.Name {
		return exact
	}
	labels := dns.SplitDomainName(name)
	for i := 1; i < len(labels); i++ {
		parent := dns.Fqdn(strings.Join(labels[i:], "."))
		if !dns.IsSubDomain(z.Name, parent) {
			break
		}
		wild := "*." + parent
		var out []dns.RR
		for _, rr := range z.Records {
			if strings.EqualFold(rr.Header().Name, wild) {
				out = append(out, rr)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

func soaOf(z *Zone) []dns.RR {
	for _, rr := range z.Records {
		if rr.Header().Rrtype == dns.TypeSOA && strings.EqualFold(rr.Header().Name, z.Name) {
			return []dns.RR{rr}
		}
	}
	return nil
}

// assert the resolver satisfies the server interface.
var _ dns.Handler = (*Resolver)(nil)

// LookupA answers name's A record as the nodes' resolver would (the
// private zone first), for the host's forwards to a name inside the VPC.
func (r *Resolver) LookupA(ctx context.Context, name string) (string, error) {
	zones, err := r.current(ctx)
	if err != nil {
		return "", err
	}
	m := new(dns.Msg)
	r.answer(m, zones, dns.Question{Name: dns.Fqdn(name), Qtype: dns.TypeA, Qclass: dns.ClassINET})
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String(), nil
		}
	}
	return "", fmt.Errorf("%s has no A record in the lab's zones", name)
}
