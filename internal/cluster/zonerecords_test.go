package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/sweep"
)

func TestForeignRecordsOfThePublicZone(t *testing.T) {
	st := &tfjson.State{Values: &tfjson.StateValues{RootModule: &tfjson.StateModule{ChildModules: []*tfjson.StateModule{{
		Address: "module.dns",
		Resources: []*tfjson.StateResource{
			{Address: publicZoneAddress, Mode: tfjson.ManagedResourceMode, Type: "aws_route53_zone", AttributeValues: map[string]any{
				"zone_id": "Z1", "name": "dev.example.com", "name_servers": []any{"ns-1.awsdns-01.org", "ns-2.awsdns-02.net"}}},
			{Address: "module.dns.aws_route53_record.apex", Mode: tfjson.ManagedResourceMode, Type: "aws_route53_record", AttributeValues: map[string]any{"zone_id": "Z1", "name": "dev.example.com", "type": "A"}},
			{Address: "module.dns.aws_route53_record.wildcard", Mode: tfjson.ManagedResourceMode, Type: "aws_route53_record", AttributeValues: map[string]any{"zone_id": "Z1", "name": "*.dev.example.com", "type": "A"}},
			{Address: "module.dns.aws_route53_record.api", Mode: tfjson.ManagedResourceMode, Type: "aws_route53_record", AttributeValues: map[string]any{"zone_id": "Z2", "name": "api.dev.example.com", "type": "A"}},
		},
	}}}}}
	z := zoneInState(st)
	if z == nil || z.ID != "Z1" || z.Name != "dev.example.com" || len(z.NameServers) != 2 {
		t.Fatalf("zone in state: %+v", z)
	}
	set := func(name string, typ r53types.RRType) r53types.ResourceRecordSet {
		return r53types.ResourceRecordSet{Name: aws.String(name), Type: typ}
	}
	got := z.foreignRecords([]r53types.ResourceRecordSet{
		set("dev.example.com.", r53types.RRTypeNs), set("dev.example.com.", r53types.RRTypeSoa),
		set("dev.example.com.", r53types.RRTypeA), set(`\052.dev.example.com.`, r53types.RRTypeA),
		set("_acme.dev.example.com.", r53types.RRTypeTxt), set("team.dev.example.com.", r53types.RRTypeNs),
		set("dev.example.com.", r53types.RRTypeMx),
	})
	want := []string{"MX dev.example.com", "NS team.dev.example.com (a subdomain delegated from this zone: it stops resolving)", "TXT _acme.dev.example.com"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("foreign records:\n got %q\nwant %q", got, want)
	}

	note := delegationNote("dev", z)
	for _, w := range []string{"ns-1.awsdns-01.org, ns-2.awsdns-02.net", "kforge dns delegate dev"} {
		if !strings.Contains(note, w) {
			t.Errorf("delegation note %q: want %q", note, w)
		}
	}
	if zoneInState(&tfjson.State{}) != nil || delegationNote("dev", nil) != "" {
		t.Error("no zone in the state (dns.zoneID brought its own): nothing to say")
	}
}

// A public zone an earlier down kept, deleted by a later down's sweep
// (certsBucketForceDestroy turned on), is reported with its name servers,
// as a destroyed zone is: the registrar still delegates to them. A private
// zone has no delegation to remove.
func TestSweptPublicZoneNamesItsNameServers(t *testing.T) {
	em := localawstest.StartForTest(t)
	ctx := context.Background()
	e, err := Open(ctx, "local", NeedEmulator, Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), Endpoint: em.URL(), UI: &recordingUI{}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r53 := route53.NewFromConfig(cfg)
	zone := func(name string, vpc *r53types.VPC) string {
		t.Helper()
		// AWS makes a zone created with a VPC private; moto needs to be told.
		z, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(name), CallerReference: aws.String(name), VPC: vpc,
			HostedZoneConfig: &r53types.HostedZoneConfig{PrivateZone: vpc != nil}})
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimPrefix(aws.ToString(z.HostedZone.Id), "/hostedzone/")
		if _, err := r53.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{ResourceId: aws.String(id), ResourceType: r53types.TagResourceTypeHostedzone,
			AddTags: []r53types.Tag{{Key: aws.String(sweep.ClusterTag), Value: aws.String(e.Config.Name)}}}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	public := zone(e.Config.Domain, nil)
	zone("api."+e.Config.Domain, &r53types.VPC{VPCId: aws.String("vpc-12345678"), VPCRegion: r53types.VPCRegionUsEast1})

	swept, _, zones, err := e.sweepLeftovers(ctx, false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(swept) != 2 {
		t.Errorf("swept %v, want both zones", swept)
	}
	if len(zones) != 1 || zones[0].ID != public || len(zones[0].NameServers) == 0 {
		t.Fatalf("zones whose delegation dangles: %+v, want the public zone %s with its name servers", zones, public)
	}
	if note := delegationNote("local", zones[0]); !strings.Contains(note, zones[0].NameServers[0]) {
		t.Errorf("delegation note %q does not name the former name servers", note)
	}
}
