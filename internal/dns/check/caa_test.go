package check_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/kforge/kforge/internal/dns/check"
	"github.com/kforge/kforge/internal/dns/check/checktest"
)

// delegated starts a resolver that already sees dev.example.com delegated to
// the zone and its apex on the NLB, so only CAA decides the result.
func delegated(t *testing.T) (*checktest.Server, *check.Resolver) {
	t.Helper()
	return delegatedDomain(t, "dev.example.com")
}

func delegatedDomain(t *testing.T, domain string) (*checktest.Server, *check.Resolver) {
	t.Helper()
	srv := checktest.Start(t)
	srv.SetNS(domain, zoneNS...)
	srv.SetA(domain, nlbIPs...)
	srv.SetA(nlbName, nlbIPs...)
	return srv, &check.Resolver{Addr: srv.Addr(), Timeout: time.Second}
}

func issue(v string) checktest.CAA { return checktest.CAA{Tag: "issue", Value: v} }

// TestCAAAtParentForbidsLetsEncrypt: delegation and apex are right, but the
// registered domain's CAA set names another CA only, so Let's Encrypt would
// refuse every certificate of the cluster: the check must not pass, and must
// say which record, where, and what to do.
func TestCAAAtParentForbidsLetsEncrypt(t *testing.T) {
	srv, r := delegated(t)
	srv.SetCAA("example.com", issue("digicert.com"))
	rep := check.Check(context.Background(), r, check.Expected{Domain: "dev.example.com", NameServers: zoneNS, NLBDNSName: nlbName})
	if rep.Propagated {
		t.Fatalf("reported ready although CAA at example.com forbids Let's Encrypt: %+v", rep)
	}
	sum := rep.Summary()
	for _, want := range []string{"CAA at example.com", `0 issue "digicert.com"`, "forbids Let's Encrypt", `add example.com CAA 0 issue "letsencrypt.org"`, "remove the set"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

func TestCAA(t *testing.T) {
	tests := []struct {
		name        string
		domain      string // default dev.example.com
		set         func(*checktest.Server)
		wantAllowed bool
		wantAt      string // caa_domain
		wantIn      string // in the summary
	}{
		{name: "no CAA anywhere", set: func(*checktest.Server) {}, wantAllowed: true, wantIn: "no CAA records restrict issuance"},
		{name: "parent names Let's Encrypt among others", set: func(s *checktest.Server) {
			s.SetCAA("example.com", issue("digicert.com"), issue("letsencrypt.org"))
		}, wantAllowed: true, wantAt: "example.com", wantIn: "CAA at example.com lets Let's Encrypt issue"},
		{name: "set at the cluster domain forbids", set: func(s *checktest.Server) {
			s.SetCAA("dev.example.com", issue("sectigo.com"))
		}, wantAt: "dev.example.com", wantIn: `add dev.example.com CAA 0 issue "letsencrypt.org"`},
		{name: "nearest set wins: domain allows, parent forbids", set: func(s *checktest.Server) {
			s.SetCAA("dev.example.com", issue("letsencrypt.org"))
			s.SetCAA("example.com", issue("digicert.com"))
		}, wantAllowed: true, wantAt: "dev.example.com"},
		{name: "nearest set wins: domain forbids, parent allows", set: func(s *checktest.Server) {
			s.SetCAA("dev.example.com", issue(";"))
			s.SetCAA("example.com", issue("letsencrypt.org"))
		}, wantAt: "dev.example.com", wantIn: `0 issue ";"`},
		{name: "issuewild only restricts wildcard names", set: func(s *checktest.Server) {
			s.SetCAA("example.com", checktest.CAA{Tag: "issuewild", Value: "digicert.com"})
		}, wantAllowed: true, wantAt: "example.com"},
		{name: "issuewild does not grant non-wildcard names", set: func(s *checktest.Server) {
			s.SetCAA("example.com", issue("digicert.com"), checktest.CAA{Tag: "issuewild", Value: "letsencrypt.org"})
		}, wantAt: "example.com", wantIn: "forbids Let's Encrypt"},
		{name: "iodef and a non-critical unknown tag restrict nothing", set: func(s *checktest.Server) {
			s.SetCAA("example.com", checktest.CAA{Tag: "iodef", Value: "mailto:sec@example.com"}, checktest.CAA{Tag: "futuretag", Value: "x"})
		}, wantAllowed: true, wantAt: "example.com"},
		{name: "critical unknown tag forbids despite an issue for Let's Encrypt", set: func(s *checktest.Server) {
			s.SetCAA("example.com", issue("letsencrypt.org"), checktest.CAA{Flag: 128, Tag: "futuretag", Value: "x"})
		}, wantAt: "example.com", wantIn: `critical property Let's Encrypt does not know (128 futuretag "x")`},
		{name: "critical issue is known: allowed", set: func(s *checktest.Server) {
			s.SetCAA("example.com", checktest.CAA{Flag: 128, Tag: "issue", Value: "letsencrypt.org"})
		}, wantAllowed: true, wantAt: "example.com"},
		{name: "validationmethods without http-01", set: func(s *checktest.Server) {
			s.SetCAA("example.com", issue("letsencrypt.org; validationmethods=dns-01"))
		}, wantAt: "example.com", wantIn: "add http-01 to that record's validationmethods"},
		{name: "validationmethods with http-01", set: func(s *checktest.Server) {
			s.SetCAA("example.com", issue("letsencrypt.org; validationmethods=dns-01,http-01"))
		}, wantAllowed: true, wantAt: "example.com"},
		{name: "accounturi allows with a condition", set: func(s *checktest.Server) {
			s.SetCAA("example.com", issue("letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1"))
		}, wantAllowed: true, wantAt: "example.com", wantIn: "only to ACME account https://acme-v02.api.letsencrypt.org/acme/acct/1"},
		{name: "issuer name not in lower case", set: func(s *checktest.Server) {
			s.SetCAA("example.com", issue("LetsEncrypt.org"))
		}, wantAt: "example.com", wantIn: "matches its name exactly"},
		{name: "malformed value naming Let's Encrypt", set: func(s *checktest.Server) {
			s.SetCAA("example.com", issue("letsencrypt.org; nonsense"))
		}, wantAt: "example.com", wantIn: "not a valid issue value"},
		// RFC 8659 §3: CAA(X) chases aliases; the climb goes on from X's
		// parent, never from the target's. The alias is a name between the
		// cluster domain and the registered domain.
		{name: "CNAME above the domain to a forbidding set", domain: "dev.team.example.com", set: func(s *checktest.Server) {
			s.SetCNAME("team.example.com", "caa.example.net")
			s.SetCAA("caa.example.net", issue("digicert.com"))
			s.SetCAA("example.com", issue("letsencrypt.org"))
		}, wantAt: "team.example.com", wantIn: `add caa.example.net CAA 0 issue "letsencrypt.org"`},
		{name: "CNAME target without CAA: climb from the alias, not the target", domain: "dev.team.example.com", set: func(s *checktest.Server) {
			s.SetCNAME("team.example.com", "caa.example.net")
			s.SetA("caa.example.net", "192.0.2.1")
			s.SetCAA("example.net", issue("digicert.com"))
			s.SetCAA("example.com", issue("letsencrypt.org"))
		}, wantAllowed: true, wantAt: "example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			domain := tt.domain
			if domain == "" {
				domain = "dev.example.com"
			}
			srv, r := delegatedDomain(t, domain)
			tt.set(srv)
			rep := check.Check(context.Background(), r, check.Expected{Domain: domain, NameServers: zoneNS, NLBDNSName: nlbName})
			sum := rep.Summary()
			t.Log(sum)
			if !rep.CAAChecked || rep.CAAAllowed != tt.wantAllowed || rep.Propagated != tt.wantAllowed || rep.CAAError != "" {
				t.Errorf("caa allowed=%v propagated=%v error=%q; want allowed=propagated=%v, no error", rep.CAAAllowed, rep.Propagated, rep.CAAError, tt.wantAllowed)
			}
			if rep.CAADomain != tt.wantAt {
				t.Errorf("caa_domain = %q, want %q", rep.CAADomain, tt.wantAt)
			}
			if !strings.Contains(sum, tt.wantIn) {
				t.Errorf("summary lacks %q", tt.wantIn)
			}
			if !tt.wantAllowed && (!strings.Contains(rep.CAAReason, "Fix: ") || !strings.Contains(rep.CAAReason, "docs/DNS.md")) {
				t.Errorf("reason %q gives no fix or no pointer to the docs", rep.CAAReason)
			}
		})
	}
}

// TestCAAResolverFailure: a failed CAA query is an unknown, never "allowed".
func TestCAAResolverFailure(t *testing.T) {
	for _, rc := range []int{mdns.RcodeServerFailure, mdns.RcodeRefused} {
		t.Run(mdns.RcodeToString[rc], func(t *testing.T) {
			srv, r := delegated(t)
			srv.SetRcode("example.com", rc)
			rep := check.Check(context.Background(), r, check.Expected{Domain: "dev.example.com", NameServers: zoneNS, NLBDNSName: nlbName})
			if rep.Propagated || rep.CAAAllowed || !rep.NSPropagated || !rep.ApexPropagated {
				t.Fatalf("propagated=%v caa allowed=%v ns=%v apex=%v; want only CAA to fail", rep.Propagated, rep.CAAAllowed, rep.NSPropagated, rep.ApexPropagated)
			}
			if !strings.Contains(rep.CAAError, "cannot tell whether CAA lets Let's Encrypt issue") || !strings.Contains(rep.CAAError, mdns.RcodeToString[rc]+" for CAA example.com") {
				t.Errorf("caa_error = %q", rep.CAAError)
			}
			if strings.Contains(rep.Summary(), "dig DS") {
				t.Errorf("DS hint for a failure above the domain: %s", rep.Summary())
			}
		})
	}
}

// TestCAAStopsAtPublicSuffix: the climb ends at the registered domain; a
// suffix (here one that fails every query) is never asked.
func TestCAAStopsAtPublicSuffix(t *testing.T) {
	srv := checktest.Start(t)
	srv.SetNS("dev.example.co.uk", zoneNS...)
	srv.SetRcode("co.uk", mdns.RcodeServerFailure)
	srv.SetRcode("uk", mdns.RcodeServerFailure)
	r := &check.Resolver{Addr: srv.Addr(), Timeout: time.Second}
	rep := check.Check(context.Background(), r, check.Expected{Domain: "dev.example.co.uk", NameServers: zoneNS})
	if !rep.Propagated || !rep.CAAAllowed || rep.CAAError != "" {
		t.Fatalf("propagated=%v caa allowed=%v error=%q", rep.Propagated, rep.CAAAllowed, rep.CAAError)
	}
}

// TestWaitUntilCAAFixed: --wait keeps polling while CAA forbids, and passes
// once the set names Let's Encrypt.
func TestWaitUntilCAAFixed(t *testing.T) {
	srv, r := delegated(t)
	srv.SetCAA("example.com", issue("digicert.com"))
	checks := 0
	rep, err := check.Wait(context.Background(), r, check.Expected{Domain: "dev.example.com", NameServers: zoneNS, NLBDNSName: nlbName}, 10*time.Millisecond, 30*time.Second,
		func(check.Report) {
			if checks++; checks == 2 {
				srv.SetCAA("example.com", issue("digicert.com"), issue("letsencrypt.org"))
			}
		})
	if err != nil || !rep.Propagated || checks != 3 {
		t.Fatalf("err=%v propagated=%v after %d checks, want ready after 3", err, rep.Propagated, checks)
	}
}

// TestCAAJSON: the CAA fields as -o json prints them.
func TestCAAJSON(t *testing.T) {
	srv, r := delegated(t)
	srv.SetCAA("example.com", issue("digicert.com"))
	b, err := json.Marshal(check.Check(context.Background(), r, check.Expected{Domain: "dev.example.com", NameServers: zoneNS}))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["caa_checked"] != true || got["caa_allows_letsencrypt"] != false || got["caa_domain"] != "example.com" || got["propagated"] != false {
		t.Errorf("json = %s", b)
	}
	if recs, _ := got["caa_records"].([]any); len(recs) != 1 || recs[0] != `0 issue "digicert.com"` {
		t.Errorf("caa_records = %v", got["caa_records"])
	}
	if reason, _ := got["caa_reason"].(string); !strings.Contains(reason, "forbids Let's Encrypt") {
		t.Errorf("caa_reason = %q", reason)
	}
}
