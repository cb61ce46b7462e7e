package route53parent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"

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

// TestDelegateSubdomainOnEmulator writes and reads the delegation of
// dev.example.com in the example.com zone of the Route 53 emulator, then runs
// the shared plan/apply logic twice to show the second run changes nothing.
func TestDelegateSubdomainOnEmulator(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	r53 := route53.NewFromConfig(cfg)
	parentID, _ := createZone(t, r53, "example.com")
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
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	r53 := route53.NewFromConfig(cfg)
	parentID, _ := createZone(t, r53, "example.com")

	if _, err := route53parent.New(r53, " "); err == nil || !strings.Contains(err.Error(), "parentZoneId") {
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
