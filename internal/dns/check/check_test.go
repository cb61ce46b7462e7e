package check_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/kforge/kforge/internal/dns/check"
	"github.com/kforge/kforge/internal/dns/check/checktest"
)

var (
	zoneNS  = []string{"ns-1.awsdns-01.org.", "ns-2.awsdns-02.com.", "ns-3.awsdns-03.net.", "ns-4.awsdns-04.co.uk."}
	wrongNS = []string{"curitiba.ns.porkbun.com", "fortaleza.ns.porkbun.com"}
	nlbName = "kf-dev-nlb-0123456789.elb.eu-west-1.amazonaws.com"
	nlbIPs  = []string{"203.0.113.10", "203.0.113.11"}
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		ns        []string
		apex      []string
		nlb       string
		wantNS    bool
		wantApex  bool
		wantProp  bool
		wantInSum string
	}{
		{name: "expected NS set and apex on the NLB", ns: []string{"NS-2.AWSDNS-02.COM", "ns-1.awsdns-01.org", "ns-4.awsdns-04.co.uk", "ns-3.awsdns-03.net"},
			apex: nlbIPs, nlb: nlbName, wantNS: true, wantApex: true, wantProp: true, wantInSum: "NS match the zone; apex resolves to the NLB"},
		{name: "wrong NS set", ns: wrongNS, apex: nlbIPs, nlb: nlbName, wantApex: true, wantInSum: "NS are curitiba.ns.porkbun.com, fortaleza.ns.porkbun.com, want ns-1"},
		{name: "subset of the NS set is not enough", ns: zoneNS[:2], nlb: nlbName, wantInSum: "apex has no A record yet"},
		{name: "no NS yet (NXDOMAIN)", wantInSum: "no NS records for dev.example.com yet"},
		{name: "NS right, apex elsewhere", ns: zoneNS, apex: []string{"198.51.100.7"}, nlb: nlbName, wantNS: true, wantInSum: "apex resolves to 198.51.100.7, NLB to 203.0.113.10, 203.0.113.11"},
		{name: "NS right, apex not checked", ns: zoneNS, wantNS: true, wantProp: true, wantInSum: "NS match the zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := checktest.Start(t)
			if tt.ns != nil {
				srv.SetNS("dev.example.com", tt.ns...)
			}
			if tt.apex != nil {
				srv.SetA("dev.example.com", tt.apex...)
			}
			srv.SetA(nlbName, nlbIPs...)
			r := &check.Resolver{Addr: srv.Addr(), Timeout: time.Second}
			rep := check.Check(context.Background(), r, check.Expected{Domain: "dev.example.com.", NameServers: zoneNS, NLBDNSName: tt.nlb})
			if rep.NSPropagated != tt.wantNS || rep.ApexPropagated != tt.wantApex || rep.Propagated != tt.wantProp {
				t.Errorf("ns=%v apex=%v propagated=%v; want %v %v %v (%+v)", rep.NSPropagated, rep.ApexPropagated, rep.Propagated, tt.wantNS, tt.wantApex, tt.wantProp, rep)
			}
			if !strings.Contains(rep.Summary(), tt.wantInSum) {
				t.Errorf("summary %q lacks %q", rep.Summary(), tt.wantInSum)
			}
			if srv.Queries() == 0 {
				t.Error("the test server was never asked")
			}
		})
	}
}

func TestWaitUntilPropagated(t *testing.T) {
	srv := checktest.Start(t)
	srv.SetNS("dev.example.com", wrongNS...)
	r := &check.Resolver{Addr: srv.Addr(), Timeout: time.Second}
	checks := 0
	rep, err := check.Wait(context.Background(), r, check.Expected{Domain: "dev.example.com", NameServers: zoneNS}, 10*time.Millisecond, 30*time.Second,
		func(rep check.Report) {
			checks++
			if checks == 3 { // the registrar change reaches the resolver
				srv.SetNS("dev.example.com", zoneNS...)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Propagated || checks != 4 {
		t.Fatalf("propagated=%v after %d checks, want true after 4", rep.Propagated, checks)
	}
}

func TestWaitTimesOut(t *testing.T) {
	srv := checktest.Start(t)
	srv.SetNS("dev.example.com", wrongNS...)
	r := &check.Resolver{Addr: srv.Addr(), Timeout: time.Second}
	rep, err := check.Wait(context.Background(), r, check.Expected{Domain: "dev.example.com", NameServers: zoneNS}, 20*time.Millisecond, 200*time.Millisecond, nil)
	if !errors.Is(err, check.ErrNotPropagated) || rep.Propagated {
		t.Fatalf("err = %v, propagated = %v", err, rep.Propagated)
	}
	if !strings.Contains(err.Error(), "curitiba.ns.porkbun.com") {
		t.Errorf("error does not say what the resolver answered: %v", err)
	}
}

func TestResolverUnreachable(t *testing.T) {
	// Port 1 on loopback: nothing answers DNS there.
	r := &check.Resolver{Addr: "127.0.0.1:1", Timeout: 200 * time.Millisecond}
	rep := check.Check(context.Background(), r, check.Expected{Domain: "dev.example.com", NameServers: zoneNS})
	if rep.Propagated || rep.NSError == "" {
		t.Fatalf("want an NS error, got %+v", rep)
	}
}

func TestParseResolver(t *testing.T) {
	for in, want := range map[string]string{"1.1.1.1": "1.1.1.1:53", "127.0.0.1:5353": "127.0.0.1:5353", "dns.example:53": "dns.example:53", "::1": "[::1]:53"} {
		got, err := check.ParseResolver(in)
		if err != nil || got != want {
			t.Errorf("ParseResolver(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1.1.1.1:", "nohost", ":53", "1.1.1.1:abc", "1.1.1.1:0", "1.1.1.1:65536", "1.1.1.1:-1"} {
		if _, err := check.ParseResolver(bad); err == nil {
			t.Errorf("ParseResolver(%q) accepted", bad)
		}
	}
}

func TestSystemResolver(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte("search example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := check.SystemResolver(p)
	if err != nil || got != "192.0.2.53:53" {
		t.Fatalf("SystemResolver = %q, %v", got, err)
	}
	if _, err := check.SystemResolver(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "--resolver") {
		t.Fatalf("missing file: err = %v", err)
	}
}

// TestServfailHint: a SERVFAIL for the domain gets one hint about DS records
// left above the unsigned zone; other errors and other names get none.
func TestServfailHint(t *testing.T) {
	const hint = "`dig DS dev.example.com +short`"
	tests := []struct {
		name     string
		set      func(*checktest.Server)
		wantHint bool
	}{
		{"SERVFAIL for the domain", func(s *checktest.Server) { s.SetRcode("dev.example.com", mdns.RcodeServerFailure) }, true},
		{"REFUSED for the domain", func(s *checktest.Server) { s.SetRcode("dev.example.com", mdns.RcodeRefused) }, false},
		{"SERVFAIL for the NLB name only", func(s *checktest.Server) {
			s.SetNS("dev.example.com", zoneNS...)
			s.SetA("dev.example.com", nlbIPs...)
			s.SetRcode(nlbName, mdns.RcodeServerFailure)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := checktest.Start(t)
			srv.SetA(nlbName, nlbIPs...)
			tt.set(srv)
			r := &check.Resolver{Addr: srv.Addr(), Timeout: time.Second}
			rep := check.Check(context.Background(), r, check.Expected{Domain: "dev.example.com", NameServers: zoneNS, NLBDNSName: nlbName})
			if rep.Propagated {
				t.Fatalf("propagated despite the error: %+v", rep)
			}
			sum := rep.Summary()
			t.Log(sum)
			if got := strings.Count(sum, hint); got != map[bool]int{true: 1, false: 0}[tt.wantHint] {
				t.Errorf("summary has the DS hint %d times, want it %v:\n%s", got, tt.wantHint, sum)
			}
			if tt.wantHint && (!strings.Contains(rep.NSError, "SERVFAIL") || !strings.Contains(rep.NSError, "docs/DNS.md")) {
				t.Errorf("NS error = %q", rep.NSError)
			}
		})
	}
}
