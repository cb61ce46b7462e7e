package route53parent_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	kdns "github.com/kforge/kforge/internal/dns"
	"github.com/kforge/kforge/internal/dns/route53parent"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

func createZone(t *testing.T, c *route53.Client, name string) (id string, ns []string) {
	t.Helper()
	out, err := c.CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{
		Name: aws.String(name), CallerReference: aws.String(name + time.Now().String()),
	})
	if err != nil {
		t.Fatalf("creating zone %s: %v", name, err)
	}
	return aws.ToString(out.HostedZone.Id), out.DelegationSet.NameServers
}

// exampleComOnEmulator starts a Route 53 emulator holding the public zone
// example.com, the parent zone of the tests here, and returns its client
// and the zone's id.
func exampleComOnEmulator(t *testing.T) (r53 *route53.Client, parentID string) {
	t.Helper()
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	r53 = route53.NewFromConfig(cfg)
	parentID, _ = createZone(t, r53, "example.com")
	return r53, parentID
}

// TestDelegateSubdomainOnEmulator writes and reads the delegation of
// dev.example.com in the example.com zone of the Route 53 emulator, then runs
// the shared plan/apply logic twice to show the second run changes nothing.
func TestDelegateSubdomainOnEmulator(t *testing.T) {
	r53, parentID := exampleComOnEmulator(t)
	ctx := context.Background()
	_, childNS := createZone(t, r53, "dev.example.com")
	if len(childNS) == 0 {
		t.Fatal("the emulator returned no name servers for the child zone")
	}

	zone, err := route53parent.New(r53, parentID)
	if err != nil {
		t.Fatal(err)
	}
	zone.WaitTimeout = 30 * time.Second

	got, err := zone.NameServers(ctx, "dev.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("fresh parent zone already delegates dev.example.com to %v", got)
	}

	plan, err := kdns.PlanDelegation(ctx, zone, "dev.example.com", childNS)
	if err != nil {
		t.Fatal(err)
	}
	if plan.InSync() || len(plan.Diff.Add) != len(childNS) {
		t.Fatalf("plan = %+v", plan)
	}
	if err := kdns.ApplyDelegation(ctx, zone, plan); err != nil {
		t.Fatal(err)
	}
	got, err = zone.NameServers(ctx, "dev.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !kdns.SameNameServers(got, childNS) {
		t.Fatalf("after apply the parent delegates to %v, want %v", got, childNS)
	}

	// The record as Route 53 holds it: NS, TTL 300, trailing dots.
	out, err := r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(parentID)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rrs := range out.ResourceRecordSets {
		if aws.ToString(rrs.Name) == "dev.example.com." && rrs.Type == "NS" {
			found = true
			if aws.ToInt64(rrs.TTL) != route53parent.DefaultTTL {
				t.Errorf("TTL = %d", aws.ToInt64(rrs.TTL))
			}
		}
	}
	if !found {
		t.Fatalf("no NS record for dev.example.com in the parent zone: %+v", out.ResourceRecordSets)
	}

	// Second run: in sync, nothing to do. Upper case and no dots still match.
	upper := make([]string, len(childNS))
	for i, n := range childNS {
		upper[i] = strings.ToUpper(strings.TrimSuffix(n, "."))
	}
	plan, err = kdns.PlanDelegation(ctx, zone, "dev.example.com", upper)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.InSync() {
		t.Fatalf("second plan not in sync: %+v", plan.Diff)
	}

	// The zone's own apex NS set is not mistaken for a delegation of a sibling.
	got, err = zone.NameServers(ctx, "staging.example.com")
	if err != nil || len(got) != 0 {
		t.Fatalf("staging.example.com: %v, %v; want no delegation", got, err)
	}
}

func TestRejectsWrongInput(t *testing.T) {
	r53, parentID := exampleComOnEmulator(t)
	ctx := context.Background()

	if _, err := route53parent.New(r53, " "); err == nil || !strings.Contains(err.Error(), "parentZoneID") {
		t.Fatalf("empty zone id: err = %v", err)
	}
	zone, err := route53parent.New(r53, "/hostedzone/"+strings.TrimPrefix(parentID, "/hostedzone/"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"example.com", "dev.example.org", "devexample.com"} {
		if _, err := zone.NameServers(ctx, d); err == nil || !strings.Contains(err.Error(), "not a subdomain") {
			t.Errorf("%s: err = %v, want 'not a subdomain'", d, err)
		}
	}
	if err := zone.SetNameServers(ctx, "dev.example.com", nil); err == nil {
		t.Error("empty NS list accepted")
	}

	missing, _ := route53parent.New(r53, "ZNOSUCHZONE")
	if _, err := missing.NameServers(ctx, "dev.example.com"); err == nil || !strings.Contains(err.Error(), "ZNOSUCHZONE") {
		t.Errorf("unknown zone: err = %v", err)
	}
}

// createPrivateZone creates a private hosted zone for a VPC of the
// emulator; it skips when the emulator cannot.
func createPrivateZone(t *testing.T, cfg aws.Config, c *route53.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	vpc, err := ec2.NewFromConfig(cfg).CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.42.0.0/16")})
	if err != nil {
		t.Fatalf("creating a VPC: %v", err)
	}
	out, err := c.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String(name), CallerReference: aws.String(name + "-private-" + time.Now().String()),
		HostedZoneConfig: &r53types.HostedZoneConfig{PrivateZone: true},
		VPC:              &r53types.VPC{VPCId: vpc.Vpc.VpcId, VPCRegion: r53types.VPCRegionEuWest1},
	})
	if err != nil {
		t.Fatalf("creating private zone %s: %v", name, err)
	}
	got, err := c.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: out.HostedZone.Id})
	if err != nil || got.HostedZone.Config == nil || !got.HostedZone.Config.PrivateZone {
		t.Fatalf("the emulator did not keep zone %s private: %+v, %v", name, got, err)
	}
	return aws.ToString(out.HostedZone.Id)
}

// change applies UPSERTs of simple record sets (name, type, values) to a zone.
func change(t *testing.T, c *route53.Client, zoneID string, sets ...r53types.ResourceRecordSet) {
	t.Helper()
	changes := make([]r53types.Change, 0, len(sets))
	for i := range sets {
		if sets[i].TTL == nil && sets[i].AliasTarget == nil {
			sets[i].TTL = aws.Int64(300)
		}
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &sets[i]})
	}
	if _, err := c.ChangeResourceRecordSets(context.Background(), &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID), ChangeBatch: &r53types.ChangeBatch{Changes: changes},
	}); err != nil {
		t.Fatalf("changing records in %s: %v", zoneID, err)
	}
}

func rrset(name string, typ r53types.RRType, values ...string) r53types.ResourceRecordSet {
	rrs := r53types.ResourceRecordSet{Name: aws.String(name), Type: typ}
	for _, v := range values {
		rrs.ResourceRecords = append(rrs.ResourceRecords, r53types.ResourceRecord{Value: aws.String(v)})
	}
	return rrs
}

// nsOf returns the NS values of name in a zone of the emulator.
func nsOf(t *testing.T, c *route53.Client, zoneID, name string) []string {
	t.Helper()
	out, err := c.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, rrs := range out.ResourceRecordSets {
		if kdns.NormalizeName(aws.ToString(rrs.Name)) == name && rrs.Type == r53types.RRTypeNs {
			for _, rr := range rrs.ResourceRecords {
				ns = append(ns, aws.ToString(rr.Value))
			}
		}
	}
	return ns
}

// newZoneNS are the cluster zone's name servers the refusal tests delegate to.
var newZoneNS = []string{"ns-1.awsdns-01.org", "ns-2.awsdns-02.com"}

// parentZone is the client of the parent zone parentID, not waiting for
// INSYNC (the emulator reports every change in sync at once).
func parentZone(t *testing.T, r53 *route53.Client, parentID string) *route53parent.Zone {
	t.Helper()
	zone, err := route53parent.New(r53, parentID)
	if err != nil {
		t.Fatal(err)
	}
	zone.WaitTimeout = 0
	return zone
}

// planRefused plans the delegation of dev.example.com to newZoneNS and
// returns the refusal. A plan that passes is applied, and the test fails
// saying what and the NS record it left.
func planRefused(t *testing.T, ctx context.Context, zone *route53parent.Zone, r53 *route53.Client, parentID, what string) error {
	t.Helper()
	p, err := kdns.PlanDelegation(ctx, zone, "dev.example.com", newZoneNS)
	if err == nil {
		applyErr := kdns.ApplyDelegation(ctx, zone, p)
		t.Fatalf("%s (apply: %v; NS now %v)", what, applyErr, nsOf(t, r53, parentID, "dev.example.com"))
	}
	return err
}

// TestPrivateParentZoneRefused: Route 53 does not follow an NS record for a
// subdomain in a private zone, so a private parent is refused before any
// change, with the setting to fix named.
func TestPrivateParentZoneRefused(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	r53 := route53.NewFromConfig(cfg)
	parentID := createPrivateZone(t, cfg, r53, "example.com")
	zone := parentZone(t, r53, parentID)

	err := planRefused(t, ctx, zone, r53, parentID, "a private parent zone was accepted")
	t.Log(err)
	for _, want := range []string{"private hosted zone", "dns.parentZoneID", "public hosted zone of example.com", "dns.registrar: none"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if err := zone.SetNameServers(ctx, "dev.example.com", newZoneNS); err == nil || !strings.Contains(err.Error(), "private hosted zone") {
		t.Fatalf("SetNameServers on a private zone: err = %v", err)
	}
	if ns := nsOf(t, r53, parentID, "dev.example.com"); len(ns) != 0 {
		t.Fatalf("the private zone now holds NS %v for dev.example.com", ns)
	}
}

// TestDSRecordInParentZone: a DS record for the subdomain in the parent zone
// (left from an earlier, signed delegation) makes the plan refuse; DS records
// of other names do not.
func TestDSRecordInParentZone(t *testing.T) {
	r53, parentID := exampleComOnEmulator(t)
	ctx := context.Background()
	oldNS := []string{"ns-9.awsdns-09.net.", "ns-10.awsdns-10.org."}
	// Route 53 wants an NS record at the name of a DS record.
	for _, name := range []string{"de.example.com.", "a.dev.example.com.", "dev2.example.com."} {
		change(t, r53, parentID, rrset(name, r53types.RRTypeNs, oldNS...))
		change(t, r53, parentID, rrset(name, r53types.RRTypeDs, "1111 13 2 AB12"))
	}
	zone := parentZone(t, r53, parentID)

	ds, err := zone.DSRecords(ctx, "dev.example.com")
	if err != nil || ds == nil || len(ds) != 0 {
		t.Fatalf("DS records of neighbours taken for dev.example.com's: %+v, %v", ds, err)
	}

	change(t, r53, parentID, rrset("dev.example.com.", r53types.RRTypeNs, oldNS...))
	change(t, r53, parentID, rrset("dev.example.com.", r53types.RRTypeDs, "2371 13 2 E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766"))
	ds, err = zone.DSRecords(ctx, "Dev.Example.com.")
	want := kdns.DSRecord{KeyTag: "2371", Algorithm: "13", DigestType: "2", Digest: "E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766"}
	if err != nil || len(ds) != 1 || ds[0] != want {
		t.Fatalf("DSRecords = %+v, %v; want %+v", ds, err, want)
	}

	err = planRefused(t, ctx, zone, r53, parentID, "a DS record in the parent zone was ignored")
	var dsErr *kdns.DSRecordsError
	if !errors.As(err, &dsErr) || dsErr.Delegated {
		t.Fatalf("err = %v, want a *dns.DSRecordsError", err)
	}
	t.Log(err)
	for _, want := range []string{"key tag 2371", "SERVFAIL", "remove the DS records at Route 53 parent zone " + strings.TrimPrefix(parentID, "/hostedzone/") + " (record dev.example.com, type DS)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if ns := nsOf(t, r53, parentID, "dev.example.com"); !kdns.SameNameServers(ns, oldNS) {
		t.Fatalf("NS of dev.example.com changed to %v", ns)
	}
}

// TestRecordsAtAndBelowSubdomainInParentZone: record sets the parent zone
// serves at or below the subdomain stop being served once the NS record
// exists; the plan lists them (siblings aside, over more than one page of
// the listing) and apply refuses unless told to discard them.
func TestRecordsAtAndBelowSubdomainInParentZone(t *testing.T) {
	r53, parentID := exampleComOnEmulator(t)
	ctx := context.Background()
	sets := []r53types.ResourceRecordSet{
		rrset("dev.example.com.", r53types.RRTypeA, "203.0.113.5"),
		rrset("dev.example.com.", r53types.RRTypeTxt, `"owner=ops"`),
		rrset("*.dev.example.com.", r53types.RRTypeCname, "dev.example.com."),
		rrset("_acme-challenge.dev.example.com.", r53types.RRTypeTxt, `"token"`),
		// Siblings whose names sort among the subdomain's, and others.
		rrset("dev-x.example.com.", r53types.RRTypeA, "203.0.113.6"),
		rrset("devx.example.com.", r53types.RRTypeA, "203.0.113.7"),
		rrset("de.example.com.", r53types.RRTypeA, "203.0.113.8"),
		rrset("zz.example.com.", r53types.RRTypeA, "203.0.113.9"),
	}
	// Enough names below dev to need a second page (Route 53 lists 300).
	for i := 0; i < 320; i++ {
		sets = append(sets, rrset(fmt.Sprintf("h%03d.dev.example.com.", i), r53types.RRTypeA, "198.51.100.1"))
	}
	change(t, r53, parentID, sets...)

	zone := parentZone(t, r53, parentID)

	p, err := kdns.PlanDelegation(ctx, zone, "dev.example.com", newZoneNS)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.DroppedRecords) != 324 {
		t.Fatalf("%d dropped records, want 324: %+v", len(p.DroppedRecords), p.DroppedRecords)
	}
	first := p.DroppedRecords[:4]
	want := []kdns.Record{
		{Name: "*.dev.example.com", Type: "CNAME", Content: "dev.example.com.", TTL: 300},
		{Name: "_acme-challenge.dev.example.com", Type: "TXT", Content: `"token"`, TTL: 300},
		{Name: "dev.example.com", Type: "A", Content: "203.0.113.5", TTL: 300},
		{Name: "dev.example.com", Type: "TXT", Content: `"owner=ops"`, TTL: 300},
	}
	if !slices.Equal(first, want) {
		t.Fatalf("dropped records start with %+v\nwant %+v", first, want)
	}
	for _, r := range p.DroppedRecords {
		if !strings.HasSuffix(r.Name, "dev.example.com") || r.Name == "dev-x.example.com" || r.Name == "devx.example.com" {
			t.Errorf("%+v is not at or below dev.example.com", r)
		}
	}
	err = kdns.ApplyDelegation(ctx, zone, p)
	if !errors.Is(err, kdns.ErrDroppedRecords) || !strings.Contains(err.Error(), "324 records") {
		t.Fatalf("apply: err = %v, want a refusal", err)
	}
	if ns := nsOf(t, r53, parentID, "dev.example.com"); len(ns) != 0 {
		t.Fatalf("NS written despite the refusal: %v", ns)
	}

	p.DiscardRecords = true
	if err := kdns.ApplyDelegation(ctx, zone, p); err != nil {
		t.Fatal(err)
	}
	if ns := nsOf(t, r53, parentID, "dev.example.com"); !kdns.SameNameServers(ns, newZoneNS) {
		t.Fatalf("NS = %v", ns)
	}
	// Once the cut exists, those records are no longer served; nothing more
	// stops when the NS record changes again.
	got, err := zone.ServedRecords(ctx, "dev.example.com", newZoneNS)
	if err != nil || len(got) != 0 {
		t.Fatalf("with a delegation in place: %d records, %v", len(got), err)
	}
	p, err = kdns.PlanDelegation(ctx, zone, "dev.example.com", []string{"ns-3.awsdns-03.net"})
	if err != nil || len(p.DroppedRecords) != 0 || p.RecordsError() != nil {
		t.Fatalf("re-delegation: %+v, %v", p.DroppedRecords, err)
	}
}
