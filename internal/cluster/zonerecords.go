package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/sweep"
)

// The cluster's public zone, as the dns module creates it (none when the
// environment brings its own, dns.zoneID).
const publicZoneAddress = "module.dns.aws_route53_zone.this[0]"

// The public zone's own NS set, whose TTL the dns module sets: it goes
// and stays with the zone (Route 53 deletes it only with the zone).
const publicZoneNSAddress = "module.dns.aws_route53_record.apex_ns[0]"

// publicZone is what the state says of the zone down deletes.
type publicZone struct {
	ID, Name    string
	NameServers []string
	// Managed are the records Terraform holds in it, as "<name> <type>".
	Managed map[string]bool
}

// zoneInState finds the public zone in st, nil when the state holds none.
func zoneInState(st *tfjson.State) *publicZone {
	var z *publicZone
	var records []map[string]any
	walkManaged(st, func(r *tfjson.StateResource) {
		switch {
		case r.Address == publicZoneAddress:
			z = &publicZone{ID: str(r.AttributeValues["zone_id"]), Name: sweep.RecordName(str(r.AttributeValues["name"]))}
			if ns, ok := r.AttributeValues["name_servers"].([]any); ok {
				for _, n := range ns {
					z.NameServers = append(z.NameServers, str(n))
				}
			}
		case r.Type == "aws_route53_record":
			records = append(records, r.AttributeValues)
		}
	})
	if z == nil || z.ID == "" {
		return nil
	}
	z.Managed = map[string]bool{}
	for _, r := range records {
		if str(r["zone_id"]) == z.ID {
			z.Managed[sweep.RecordName(str(r["name"]))+" "+str(r["type"])] = true
		}
	}
	return z
}

// foreignRecords are the records of z that are neither the zone's own (its
// apex NS and SOA) nor Terraform's: a subdomain delegated to another
// cluster, a verification TXT, a record someone added. Route 53 deletes no
// zone that holds any (HostedZoneNotEmpty), so the root module lets the
// destroy delete them with the zone, and down names them first. Each is
// "<type> <name>", with why it matters for a delegation.
func (z *publicZone) foreignRecords(sets []r53types.ResourceRecordSet) []string {
	var out []string
	for _, s := range sets {
		name, typ := sweep.RecordName(aws.ToString(s.Name)), string(s.Type)
		if (name == z.Name && (typ == "NS" || typ == "SOA")) || z.Managed[name+" "+typ] {
			continue
		}
		line := typ + " " + name
		if typ == "NS" {
			line += " (a subdomain delegated from this zone: it stops resolving)"
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}

// zoneRecords lists every record of the zone.
func (e *Env) zoneRecords(ctx context.Context, zoneID string) ([]r53types.ResourceRecordSet, error) {
	cfg, err := awsx.Config(ctx, e.Config.Region, e.Endpoint)
	if err != nil {
		return nil, err
	}
	sets, err := sweep.ZoneRecords(ctx, awsx.Route53Client(cfg), aws.String(zoneID))
	if err != nil {
		return nil, fmt.Errorf("listing the records of zone %s: %w", zoneID, err)
	}
	return sets, nil
}

// previewZone tells, before down's confirmation, what deleting the public
// zone takes with it: records kforge did not make, and the delegation
// that will point at name servers no longer serving the domain.
func (e *Env) previewZone(ctx context.Context, z *publicZone) error {
	sets, err := e.zoneRecords(ctx, z.ID)
	if err != nil {
		return err
	}
	if foreign := z.foreignRecords(sets); len(foreign) > 0 {
		e.opts.UI.Infof("The zone %s holds %d records kforge did not make; they are deleted with it:\n  %s\n", z.Name, len(foreign), strings.Join(foreign, "\n  "))
	}
	return nil
}

// delegationNote is down's reminder once the public zone is gone: the
// registrar or parent zone still names its name servers. Left so, the
// domain is a dangling delegation (AWS warns that someone could then
// serve it from a zone of their own), and the next up's zone gets new
// name servers anyway.
func delegationNote(env string, z *publicZone) string {
	if z == nil || len(z.NameServers) == 0 {
		return ""
	}
	return fmt.Sprintf("The zone of %s is deleted, but its delegation is not: the registrar (or parent zone) still names %s. Remove that delegation now, or run `kforge dns delegate %s` after the next `kforge up %s`, whose zone gets new name servers.",
		z.Name, strings.Join(z.NameServers, ", "), env, env)
}
