package dns_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	kdns "github.com/kforge/kforge/internal/dns"
	"github.com/kforge/kforge/internal/dns/porkbun"
	"github.com/kforge/kforge/internal/dns/porkbun/porkbuntest"
	"github.com/kforge/kforge/internal/testutil/dnsfixture"
)

// Delegation through the real Porkbun client against the fake Porkbun API.

const (
	dsTestKey    = "pk1_DSLEAK_key_0123456789"
	dsTestSecret = "sk1_DSLEAK_secret_9876543210"
)

func porkbunClient(t *testing.T, srv *porkbuntest.Server) *porkbun.Client {
	t.Helper()
	c, err := porkbun.New(porkbun.Credentials{APIKey: dsTestKey, SecretAPIKey: dsTestSecret},
		porkbun.Options{BaseURL: srv.BaseURL(), Timeout: 2 * time.Second, MaxAttempts: 2, MinInterval: time.Millisecond, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
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
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dnsfixture.PorkbunNS})
		srv.SetDSRecords("kforge.dev", second, dnsfixture.DSRecord)
		c := porkbunClient(t, srv)

		p, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dnsfixture.ZoneNS)
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
		if !kdns.SameNameServers(srv.NameServers("kforge.dev"), dnsfixture.PorkbunNS) {
			t.Fatalf("Porkbun now holds %v", srv.NameServers("kforge.dev"))
		}
		for _, k := range []string{dsTestKey, dsTestSecret, "DSLEAK"} {
			if strings.Contains(msg, k) {
				t.Errorf("a key appears in the error: %s", msg)
			}
		}
	})

	t.Run("DS records added after the plan: apply refuses, no updateNs", func(t *testing.T) {
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dnsfixture.PorkbunNS})
		c := porkbunClient(t, srv)
		p, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dnsfixture.ZoneNS)
		if err != nil {
			t.Fatal(err)
		}
		srv.SetDSRecords("kforge.dev", dnsfixture.DSRecord) // while the user reads the plan
		err = kdns.ApplyDelegation(ctx, c, p)
		if !errors.Is(err, kdns.ErrDSRecords) || !strings.Contains(err.Error(), "2371") {
			t.Fatalf("ApplyDelegation err = %v, want a refusal naming key tag 2371", err)
		}
		if srv.Calls("updateNs") != 0 {
			t.Fatalf("updateNs calls = %d, want 0", srv.Calls("updateNs"))
		}
	})

	t.Run("already delegated with stale DS: plan reports the broken delegation", func(t *testing.T) {
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dnsfixture.ZoneNS})
		srv.SetDSRecords("kforge.dev", dnsfixture.DSRecord)
		c := porkbunClient(t, srv)
		_, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dnsfixture.ZoneNS)
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
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dnsfixture.PorkbunNS})
		c := porkbunClient(t, srv)
		// getNs answers; getDnssecRecords fails with a final 400.
		srv.AddFaults(porkbuntest.Fault{}, porkbuntest.Fault{Status: 400, Message: "DNSSEC lookup failed."})
		_, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dnsfixture.ZoneNS)
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
			srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dnsfixture.PorkbunNS})
			srv.EmptyDSAsArray(asArray)
			c := porkbunClient(t, srv)
			p, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dnsfixture.ZoneNS)
			if err != nil {
				t.Fatal(err)
			}
			if p.InSync() || len(p.Diff.Add) != 4 || len(p.Diff.Remove) != 4 {
				t.Fatalf("plan = %+v", p)
			}
			if err := kdns.ApplyDelegation(ctx, c, p); err != nil {
				t.Fatal(err)
			}
			if srv.Calls("updateNs") != 1 || !kdns.SameNameServers(srv.NameServers("kforge.dev"), dnsfixture.ZoneNS) {
				t.Fatalf("updateNs=%d ns=%v", srv.Calls("updateNs"), srv.NameServers("kforge.dev"))
			}
			// A second run is in sync and changes nothing.
			p, err = kdns.PlanDelegation(ctx, c, "kforge.dev", dnsfixture.ZoneNS)
			if err != nil || !p.InSync() {
				t.Fatalf("second plan: %+v, %v", p, err)
			}
			if err := kdns.ApplyDelegation(ctx, c, p); err != nil || srv.Calls("updateNs") != 1 {
				t.Fatalf("second apply: err=%v updateNs=%d", err, srv.Calls("updateNs"))
			}
		})
	}
}

// userRecords are records an owner keeps at Porkbun's DNS, mixed with what
// does not count: the apex NS set and the parking defaults.
func userRecords(domain string) []porkbuntest.Record {
	return append(porkbuntest.ParkingRecords(domain),
		porkbuntest.Record{Name: domain, Type: "NS", Content: "curitiba.ns.porkbun.com", TTL: "86400"},
		porkbuntest.Record{Name: domain, Type: "MX", Content: "mx1.mail.example.net", TTL: "600", Prio: "10"},
		porkbuntest.Record{Name: domain, Type: "TXT", Content: "v=spf1 include:mail.example.net -all", TTL: "600"},
		porkbuntest.Record{Name: "www." + domain, Type: "A", Content: "203.0.113.7", TTL: "600"},
		porkbuntest.Record{Name: "lab." + domain, Type: "NS", Content: "ns1.lab.example.org", TTL: "600"},
	)
}

// TestDelegationRefusesToDropRecords: moving the name servers away from
// Porkbun's DNS makes every record there stop resolving, so the plan lists
// them and apply refuses unless told to discard them.
func TestDelegationRefusesToDropRecords(t *testing.T) {
	ctx := context.Background()

	t.Run("records at Porkbun: listed, apply refused, no updateNs", func(t *testing.T) {
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dnsfixture.PorkbunNS})
		srv.SetRecords("kforge.dev", userRecords("kforge.dev")...)
		c := porkbunClient(t, srv)
		p, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dnsfixture.ZoneNS)
		if err != nil {
			t.Fatal(err)
		}
		want := []kdns.Record{
			{Name: "kforge.dev", Type: "MX", Content: "10 mx1.mail.example.net", TTL: 600},
			{Name: "kforge.dev", Type: "TXT", Content: "v=spf1 include:mail.example.net -all", TTL: 600},
			{Name: "lab.kforge.dev", Type: "NS", Content: "ns1.lab.example.org", TTL: 600},
			{Name: "www.kforge.dev", Type: "A", Content: "203.0.113.7", TTL: 600},
		}
		if !slices.Equal(p.DroppedRecords, want) {
			t.Fatalf("DroppedRecords = %+v\nwant %+v", p.DroppedRecords, want)
		}
		err = kdns.ApplyDelegation(ctx, c, p)
		var recErr *kdns.DroppedRecordsError
		if !errors.As(err, &recErr) || !errors.Is(err, kdns.ErrDroppedRecords) || len(recErr.Records) != 4 {
			t.Fatalf("ApplyDelegation err = %v, want a *dns.DroppedRecordsError", err)
		}
		t.Log(err)
		for _, want := range []string{"refusing to delegate kforge.dev", "Porkbun serves 4 records", "MX kforge.dev", "A www.kforge.dev", "cluster's Route 53 zone", "--discard-records", "changed nothing"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%s", want, err)
			}
		}
		if srv.Calls("updateNs") != 0 || !kdns.SameNameServers(srv.NameServers("kforge.dev"), dnsfixture.PorkbunNS) {
			t.Fatalf("updateNs=%d ns=%v, want no change", srv.Calls("updateNs"), srv.NameServers("kforge.dev"))
		}

		// Told to discard them: the change goes through.
		p.DiscardRecords = true
		if err := kdns.ApplyDelegation(ctx, c, p); err != nil {
			t.Fatal(err)
		}
		if srv.Calls("updateNs") != 1 || !kdns.SameNameServers(srv.NameServers("kforge.dev"), dnsfixture.ZoneNS) {
			t.Fatalf("updateNs=%d ns=%v", srv.Calls("updateNs"), srv.NameServers("kforge.dev"))
		}
		// Delegated: the records left at Porkbun no longer matter.
		p, err = kdns.PlanDelegation(ctx, c, "kforge.dev", dnsfixture.ZoneNS)
		if err != nil || !p.InSync() || len(p.DroppedRecords) != 0 || p.RecordsError() != nil {
			t.Fatalf("in sync: plan %+v, err %v", p, err)
		}
		if srv.Calls("retrieve") != 1 {
			t.Fatalf("retrieve calls = %d, want 1 (none once in sync)", srv.Calls("retrieve"))
		}
	})

	t.Run("parking defaults only: nothing listed", func(t *testing.T) {
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dnsfixture.PorkbunNS})
		c := porkbunClient(t, srv)
		p, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dnsfixture.ZoneNS)
		if err != nil || len(p.DroppedRecords) != 0 || p.DroppedRecords == nil || srv.Calls("retrieve") != 1 {
			t.Fatalf("plan %+v, err %v, retrieve %d", p, err, srv.Calls("retrieve"))
		}
		if err := kdns.ApplyDelegation(ctx, c, p); err != nil || srv.Calls("updateNs") != 1 {
			t.Fatalf("apply: %v, updateNs %d", err, srv.Calls("updateNs"))
		}
	})

	t.Run("parking hosts elsewhere are the owner's", func(t *testing.T) {
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dnsfixture.PorkbunNS})
		srv.SetRecords("kforge.dev",
			porkbuntest.Record{Name: "kforge.dev", Type: "ALIAS", Content: "shop.example.net", TTL: "600"},
			porkbuntest.Record{Name: "*.kforge.dev", Type: "CNAME", Content: "pixie.porkbun.com", TTL: "600"})
		p, err := kdns.PlanDelegation(ctx, porkbunClient(t, srv), "kforge.dev", dnsfixture.ZoneNS)
		if err != nil || len(p.DroppedRecords) != 1 || p.DroppedRecords[0].Content != "shop.example.net" {
			t.Fatalf("plan %+v, err %v", p.DroppedRecords, err)
		}
	})

	t.Run("domain served elsewhere: Porkbun's records are not in use, not read", func(t *testing.T) {
		old := []string{"ns-1.awsdns-01.org", "ns-2.awsdns-02.com"} // a previous cluster's zone
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": old})
		srv.SetRecords("kforge.dev", userRecords("kforge.dev")...)
		c := porkbunClient(t, srv)
		p, err := kdns.PlanDelegation(ctx, c, "kforge.dev", dnsfixture.ZoneNS)
		if err != nil || len(p.DroppedRecords) != 0 || srv.Calls("retrieve") != 0 {
			t.Fatalf("plan %+v, err %v, retrieve %d", p, err, srv.Calls("retrieve"))
		}
		if err := kdns.ApplyDelegation(ctx, c, p); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("records cannot be read: refused, no updateNs", func(t *testing.T) {
		srv := porkbuntest.Start(t, dsTestKey, dsTestSecret, map[string][]string{"kforge.dev": dnsfixture.PorkbunNS})
		// getNs and getDnssecRecords answer; retrieve fails with a final 400.
		srv.AddFaults(porkbuntest.Fault{}, porkbuntest.Fault{}, porkbuntest.Fault{Status: 400, Message: "Domain is not opted in to API access."})
		_, err := kdns.PlanDelegation(ctx, porkbunClient(t, srv), "kforge.dev", dnsfixture.ZoneNS)
		if err == nil || !strings.Contains(err.Error(), "reading the records Porkbun serves for kforge.dev") || errors.Is(err, kdns.ErrDroppedRecords) {
			t.Fatalf("err = %v, want the read failure", err)
		}
		if srv.Calls("updateNs") != 0 {
			t.Fatalf("updateNs calls = %d", srv.Calls("updateNs"))
		}
	})
}
