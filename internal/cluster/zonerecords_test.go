package cluster

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	tfjson "github.com/hashicorp/terraform-json"
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
