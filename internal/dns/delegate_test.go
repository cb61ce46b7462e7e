package dns_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	kdns "github.com/kforge/kforge/internal/dns"
	"github.com/kforge/kforge/internal/dns/porkbun"
	"github.com/kforge/kforge/internal/dns/porkbun/porkbuntest"
)

// Delegation through the real Porkbun client against the fake Porkbun API.

const (
	dsTestKey    = "pk1_DSLEAK_key_0123456789"
	dsTestSecret = "sk1_DSLEAK_secret_9876543210"
)

var (
	dsPorkbunNS = []string{"curitiba.ns.porkbun.com", "fortaleza.ns.porkbun.com", "maceio.ns.porkbun.com", "salvador.ns.porkbun.com"}
	dsZoneNS    = []string{"ns-1536.awsdns-00.co.uk.", "ns-0.awsdns-00.com.", "ns-1024.awsdns-00.org.", "ns-512.awsdns-00.net."}
	// A DS record as Cloudflare or deSEC would hand out for an algorithm 13 key.
	dsRecord = porkbuntest.DSRecord{KeyTag: "2371", Alg: "13", DigestType: "2", Digest: "E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766"}
)

func porkbunClient(t *testing.T, srv *porkbuntest.Server) *porkbun.Client {
	t.Helper()
	c, err := porkbun.New(porkbun.Credentials{APIKey: dsTestKey, SecretAPIKey: dsTestSecret},
		porkbun.Options{BaseURL: srv.BaseURL(), Timeout: 2 * time.Second, MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDelegationRefusesWhileDSRecordsExist: with DS records at the registry,
// swapping the name servers to the unsigned Route 53 zone would make every
// validating resolver answer SERVFAIL, so the plan refuses and updateNs is
// never called.
func TestDelegationRefusesWhileDSRecordsExist(t *testing.T) {
	ctx := context.Background()
	second := porkbuntest.DSRecord{KeyTag: "40123", Alg: "13", DigestType: "2", Digest: "AB12"}

	t.Run("name servers differ: plan refuses, no updateNs", func(t *testing.T) {
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dsPorkbunNS})
		srv.SetDSRecords("kforge.dev", second, dsRecord)
		c := porkbunClient(t, srv)

		p, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dsZoneNS)
		if err == nil {
			// The old behaviour: a plan that goes on to swap the name servers.
			applyErr := kdns.ApplyDelegation(ctx, c, p)
			t.Fatalf("PlanDelegation accepted a domain with DS records (apply: %v; updateNs calls %d)", applyErr, srv.Calls("updateNs"))
		}
		var dsErr *kdns.DSRecordsError
		if !errors.As(err, &dsErr) || !errors.Is(err, kdns.ErrDSRecords) {
			t.Fatalf("err = %v (%T), want a *dns.DSRecordsError", err, err)
		}
		if dsErr.Domain != "kforge.dev" || len(dsErr.Records) != 2 || dsErr.Records[0].KeyTag != "2371" || dsErr.Records[1].KeyTag != "40123" || dsErr.Delegated {
			t.Errorf("DSRecordsError = %+v", dsErr)
		}
		msg := err.Error()
		t.Log(msg)
		for _, want := range []string{"kforge.dev", "2371", "40123", "not signed", "SERVFAIL", "Let's Encrypt", "Domain Management", "DNSSEC", "TTL", "again", "changed nothing"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q:\n%s", want, msg)
			}
		}
		if srv.Calls("getDnssecRecords") != 1 || srv.Calls("updateNs") != 0 {
			t.Fatalf("getDnssecRecords=%d updateNs=%d, want 1 and 0", srv.Calls("getDnssecRecords"), srv.Calls("updateNs"))
		}
		if !kdns.SameNameServers(srv.NameServers("kforge.dev"), dsPorkbunNS) {
			t.Fatalf("Porkbun now holds %v", srv.NameServers("kforge.dev"))
		}
		for _, k := range []string{dsTestKey, dsTestSecret, "DSLEAK"} {
			if strings.Contains(msg, k) {
				t.Errorf("a key appears in the error: %s", msg)
			}
		}
	})

	t.Run("DS records added after the plan: apply refuses, no updateNs", func(t *testing.T) {
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dsPorkbunNS})
		c := porkbunClient(t, srv)
		p, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dsZoneNS)
		if err != nil {
			t.Fatal(err)
		}
		srv.SetDSRecords("kforge.dev", dsRecord) // while the user reads the plan
		err = kdns.ApplyDelegation(ctx, c, p)
		if !errors.Is(err, kdns.ErrDSRecords) || !strings.Contains(err.Error(), "2371") {
			t.Fatalf("ApplyDelegation err = %v, want a refusal naming key tag 2371", err)
		}
		if srv.Calls("updateNs") != 0 {
			t.Fatalf("updateNs calls = %d, want 0", srv.Calls("updateNs"))
		}
	})

	t.Run("already delegated with stale DS: plan reports the broken delegation", func(t *testing.T) {
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dsZoneNS})
		srv.SetDSRecords("kforge.dev", dsRecord)
		c := porkbunClient(t, srv)
		_, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dsZoneNS)
		var dsErr *kdns.DSRecordsError
		if !errors.As(err, &dsErr) || !dsErr.Delegated {
			t.Fatalf("err = %v, want a *dns.DSRecordsError with Delegated set", err)
		}
		t.Log(err)
		for _, want := range []string{"already delegates", "2371", "SERVFAIL", "now", "Domain Management", "TTL"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%s", want, err)
			}
		}
		if srv.Calls("updateNs") != 0 {
			t.Fatalf("updateNs calls = %d, want 0", srv.Calls("updateNs"))
		}
	})

	t.Run("DS records cannot be read: refuses, no updateNs", func(t *testing.T) {
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dsPorkbunNS})
		c := porkbunClient(t, srv)
		// getNs answers; getDnssecRecords fails with a final 400.
		srv.AddFaults(porkbuntest.Fault{}, porkbuntest.Fault{Status: 400, Message: "DNSSEC lookup failed."})
		_, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dsZoneNS)
		if err == nil || !strings.Contains(err.Error(), "DNSSEC lookup failed.") || !strings.Contains(err.Error(), "DS records") {
			t.Fatalf("err = %v, want the read failure", err)
		}
		if srv.Calls("updateNs") != 0 {
			t.Fatalf("updateNs calls = %d, want 0", srv.Calls("updateNs"))
		}
	})
}

// TestDelegationWithoutDSRecords: no DS records (either empty form) is the
// behaviour from before the DNSSEC check: plan, one updateNs, read back.
func TestDelegationWithoutDSRecords(t *testing.T) {
	for _, asArray := range []bool{false, true} {
		name := map[bool]string{false: `records {}`, true: `records []`}[asArray]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dsPorkbunNS})
			srv.EmptyDSAsArray(asArray)
			c := porkbunClient(t, srv)
			p, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dsZoneNS)
			if err != nil {
				t.Fatal(err)
			}
			if p.InSync() || len(p.Diff.Add) != 4 || len(p.Diff.Remove) != 4 {
				t.Fatalf("plan = %+v", p)
			}
			if err := kdns.ApplyDelegation(ctx, c, p); err != nil {
				t.Fatal(err)
			}
			if srv.Calls("updateNs") != 1 || !kdns.SameNameServers(srv.NameServers("kforge.dev"), dsZoneNS) {
				t.Fatalf("updateNs=%d ns=%v", srv.Calls("updateNs"), srv.NameServers("kforge.dev"))
			}
			// A second run is in sync and changes nothing.
			p, err = kdns.PlanDelegation(ctx, c, "kforge.dev", dsZoneNS)
			if err != nil || !p.InSync() {
				t.Fatalf("second plan: %+v, %v", p, err)
			}
			if err := kdns.ApplyDelegation(ctx, c, p); err != nil || srv.Calls("updateNs") != 1 {
				t.Fatalf("second apply: err=%v updateNs=%d", err, srv.Calls("updateNs"))
			}
		})
	}
}
