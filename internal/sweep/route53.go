package sweep

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// Route 53 kinds.
const (
	KindRecord     = "route53:record"
	KindHostedZone = "route53:hosted-zone"
)

// hostedZones lists the cluster's zones, matched by tag only (a zone for
// the same domain may be the user's own), with their records.
func (l *lister) hostedZones(ctx context.Context) error {
	c := route53.NewFromConfig(l.cfg)
	managed := map[string]bool{}
	for _, n := range l.t.RecordNames {
		managed[RecordName(n)] = true
	}
	zp := route53.NewListHostedZonesPaginator(c, &route53.ListHostedZonesInput{})
	for zp.HasMorePages() {
		zones, err := zp.NextPage(ctx)
		if err != nil {
			return err
		}
		ids := make([]string, len(zones.HostedZones))
		for i, z := range zones.HostedZones {
			ids[i] = strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/")
		}
		tags, err := zoneTags(ctx, c, ids)
		if err != nil {
			return err
		}
		for i, z := range zones.HostedZones {
			id := ids[i]
			name := RecordName(aws.ToString(z.Name))
			why := l.match(tags[id], "")
			if why == "" {
				continue
			}
			recs, err := ZoneRecords(ctx, c, z.Id)
			if isNotFound(err) {
				continue // deleted since the listing
			}
			if err != nil {
				return fmt.Errorf("records of zone %s: %w", id, err)
			}
			l.add(Resource{Kind: KindHostedZone, ID: id, Name: name, Why: why})
			for _, r := range recs {
				rn := RecordName(aws.ToString(r.Name))
				if rn == name && (r.Type == "NS" || r.Type == "SOA") {
					continue // the zone's own; they go with it
				}
				// Terraform's records are A records of its names; any other
				// type at those names (an MX or TXT at the apex) is the
				// zone's users', and stays or goes with the zone.
				parent := id
				if managed[rn] && r.Type == r53types.RRTypeA {
					parent = ""
				}
				// The ID is Terraform's aws_route53_record id: zone_name_type.
				l.add(Resource{Kind: KindRecord, ID: id + "_" + rn + "_" + string(r.Type), Name: rn, Parent: parent, Why: "in zone " + name})
			}
		}
	}
	return nil
}

// RecordName normalises a Route 53 name: no final dot, lower case, and the
// wildcard that Route 53 lists as \052 spelled *.
func RecordName(n string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSuffix(n, "."), `\052`, "*"))
}

func (d *deleter) record(ctx context.Context, r Resource) error {
	// zone_name_type; zone ids have no underscore.
	zone, _, _ := strings.Cut(r.ID, "_")
	return d.deleteRecords(ctx, zone, r.Name, strings.TrimPrefix(r.ID, zone+"_"+r.Name+"_"))
}

func (d *deleter) hostedZone(ctx context.Context, r Resource) error {
	if err := d.deleteRecords(ctx, r.ID, "", ""); err != nil {
		return err
	}
	_, err := d.r53.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(r.ID)})
	return err
}

// deleteRecords deletes the records of a zone named name (all when name is
// empty) of type typ (all when empty), except the zone's own NS and SOA.
func (d *deleter) deleteRecords(ctx context.Context, zone, name, typ string) error {
	z, err := d.r53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(zone)})
	if err != nil {
		return err
	}
	apex := RecordName(aws.ToString(z.HostedZone.Name))
	p := route53.NewListResourceRecordSetsPaginator(d.r53, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
	var changes []r53types.Change
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, rr := range page.ResourceRecordSets {
			rn := RecordName(aws.ToString(rr.Name))
			if rn == apex && (rr.Type == r53types.RRTypeNs || rr.Type == r53types.RRTypeSoa) {
				continue
			}
			if (name != "" && rn != name) || (typ != "" && string(rr.Type) != typ) {
				continue
			}
			changes = append(changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &rr})
		}
	}
	batches := changeBatches(changes)
	for i, b := range batches {
		_, err := d.r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zone),
			ChangeBatch:  &r53types.ChangeBatch{Changes: b, Comment: aws.String("kforge sweep")},
		})
		if err != nil {
			return fmt.Errorf("change batch %d of %d: %w", i+1, len(batches), err)
		}
	}
	return nil
}

// ZoneRecords lists every record of the zone.
func ZoneRecords(ctx context.Context, c *route53.Client, zoneID *string) ([]r53types.ResourceRecordSet, error) {
	var recs []r53types.ResourceRecordSet
	rp := route53.NewListResourceRecordSetsPaginator(c, &route53.ListResourceRecordSetsInput{HostedZoneId: zoneID})
	for rp.HasMorePages() {
		page, err := rp.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		recs = append(recs, page.ResourceRecordSets...)
	}
	return recs, nil
}

// maxTagReads is how many zones ListTagsForResources takes in one call.
const maxTagReads = 10

// zoneTags reads the tags of the zones ids, ten zones a call: a call per
// zone would run into Route 53's five requests a second in an account with
// many zones, and a throttled listing fails the orphan check of `kforge up`.
func zoneTags(ctx context.Context, c *route53.Client, ids []string) (map[string]map[string]string, error) {
	return tagsInBatches(ids, maxTagReads, func(chunk []string) (map[string]map[string]string, error) {
		out, err := c.ListTagsForResources(ctx, &route53.ListTagsForResourcesInput{ResourceIds: chunk, ResourceType: r53types.TagResourceTypeHostedzone})
		if err != nil {
			return nil, fmt.Errorf("tags of zones %v: %w", chunk, err)
		}
		tags := make(map[string]map[string]string, len(chunk))
		for _, set := range out.ResourceTagSets {
			tags[strings.TrimPrefix(aws.ToString(set.ResourceId), "/hostedzone/")] = tagMap(set.Tags, func(t r53types.Tag) (*string, *string) { return t.Key, t.Value })
		}
		return tags, nil
	})
}

// Route 53's limits on one ChangeResourceRecordSets request.
const (
	maxBatchRecords = 1000  // ResourceRecord elements
	maxBatchChars   = 32000 // characters of all Value elements
)

// changeBatches splits changes into requests within Route 53's limits. A
// record set without values (an alias) counts as one record.
func changeBatches(changes []r53types.Change) [][]r53types.Change {
	var batches [][]r53types.Change
	var batch []r53types.Change
	records, chars := 0, 0
	for _, c := range changes {
		n, m := max(len(c.ResourceRecordSet.ResourceRecords), 1), 0
		for _, rr := range c.ResourceRecordSet.ResourceRecords {
			m += len(aws.ToString(rr.Value))
		}
		if len(batch) > 0 && (records+n > maxBatchRecords || chars+m > maxBatchChars) {
			batches = append(batches, batch)
			batch, records, chars = nil, 0, 0
		}
		batch = append(batch, c)
		records, chars = records+n, chars+m
	}
	if len(batch) > 0 {
		batches = append(batches, batch)
	}
	return batches
}
