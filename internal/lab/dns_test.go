package lab

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// TestResolverAnswersFromRoute53 creates zones and records in the emulator's
// Route 53 and asks the resolver over real UDP on loopback: names in the
// zones are answered (A, CNAME followed, wildcard, TXT), a missing name in a
// zone is NXDOMAIN, a name in no zone is refused, and an upsert is seen once
// the cache is older than its age.
func TestResolverAnswersFromRoute53(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r53 := route53.NewFromConfig(cfg)
	zone, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("local.kforge.test"), CallerReference: aws.String("lab-dns-test")})
	if err != nil {
		t.Fatal(err)
	}
	upsert := func(name, typ, value string) {
		t.Helper()
		_, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: zone.HostedZone.Id,
			ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert,
				ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRType(typ), TTL: aws.Int64(60),
					ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(value)}}}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	upsert("api.local.kforge.test", "A", "10.40.1.10")
	upsert("cp.local.kforge.test", "CNAME", "api.local.kforge.test")
	upsert("*.apps.local.kforge.test", "A", "10.40.2.20")
	upsert("txt.local.kforge.test", "TXT", `"hello"`)

	r := NewResolver(Route53Zones(r53), 500*time.Millisecond)
	pc, ln := listenUDPAndTCP(t)
	r.ServeOn(pc, ln)
	defer r.Close()
	ask := func(name string, qtype uint16) *dns.Msg {
		t.Helper()
		c := &dns.Client{Net: "udp", Timeout: 3 * time.Second}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qtype)
		resp, _, err := c.Exchange(m, pc.LocalAddr().String())
		if err != nil {
			t.Fatalf("asking %s: %v", name, err)
		}
		return resp
	}
	wantA := func(name, addr string) {
		t.Helper()
		resp := ask(name, dns.TypeA)
		for _, rr := range resp.Answer {
			if a, ok := rr.(*dns.A); ok && a.A.String() == addr {
				return
			}
		}
		t.Errorf("%s A: got %v (rcode %s), want %s", name, resp.Answer, dns.RcodeToString[resp.Rcode], addr)
	}
	wantA("api.local.kforge.test", "10.40.1.10")
	wantA("API.Local.Kforge.Test", "10.40.1.10")
	wantA("cp.local.kforge.test", "10.40.1.10")
	wantA("x.apps.local.kforge.test", "10.40.2.20")
	if resp := ask("txt.local.kforge.test", dns.TypeTXT); len(resp.Answer) != 1 || resp.Answer[0].(*dns.TXT).Txt[0] != "hello" {
		t.Errorf("TXT: %v", resp.Answer)
	}
	if resp := ask("missing.local.kforge.test", dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Errorf("a missing name in the zone: rcode %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
	if resp := ask("api.local.kforge.test", dns.TypeAAAA); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 {
		t.Errorf("AAAA of a name with only A: rcode %s answers %v, want NOERROR and none", dns.RcodeToString[resp.Rcode], resp.Answer)
	}
	for _, outside := range []string{"example.com", "s3.amazonaws.com", "kforge.test"} {
		if resp := ask(outside, dns.TypeA); resp.Rcode != dns.RcodeRefused || len(resp.Answer) != 0 {
			t.Errorf("%s is in no lab zone: rcode %s answers %v, want REFUSED", outside, dns.RcodeToString[resp.Rcode], resp.Answer)
		}
	}
	// A replacement control plane upserts the API record; the resolver
	// follows within its cache age.
	upsert("api.local.kforge.test", "A", "10.40.1.99")
	time.Sleep(600 * time.Millisecond)
	wantA("api.local.kforge.test", "10.40.1.99")
}

// listenUDPAndTCP binds one loopback port for both UDP and TCP, as a DNS
// server listens. The kernel picks a free UDP port; the same TCP port may
// be taken (a CI run once found it so), so
// another UDP port is tried.
func listenUDPAndTCP(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	var last error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		_ = pc.Close()
		last = err
	}
	t.Fatalf("no loopback port free for both UDP and TCP: %v", last)
	return nil, nil
}
