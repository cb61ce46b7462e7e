package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/config"
)

// Not every instance type is offered in every Availability Zone: in many
// accounts one of us-east-1's six zones (use1-az3) offers none of the
// current general-purpose families. Every node group spans all the
// cluster's zones, and an Auto Scaling group launching into a zone that
// offers none of its types fails there ("Your requested instance type is
// not supported in your requested Availability Zone") and tries the
// others; a group whose types no zone offers never launches at all. So up
// and plan compare the zones the network module will pick with what EC2
// offers in them before anything is applied.

// ZoneReader is the EC2 calls the offering check makes.
type ZoneReader interface {
	DescribeAvailabilityZones(context.Context, *ec2.DescribeAvailabilityZonesInput, ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error)
	DescribeInstanceTypeOfferings(context.Context, *ec2.DescribeInstanceTypeOfferingsInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypeOfferingsOutput, error)
}

// ZoneGap is a node group whose instance types are all missing from some
// of the cluster's zones.
type ZoneGap struct {
	// Field is the setting that chose the types: controlPlane.instanceType
	// or workerPools.<name>.instanceTypes.
	Field   string
	Types   []string
	Missing []string
	// MissingIDs are the zone IDs of Missing, in the same order: what
	// network.excludeZoneIDs takes.
	MissingIDs []string
	Zones      []string
}

// Total reports whether no zone of the cluster offers any of the group's
// types: the group can never launch an instance.
func (g ZoneGap) Total() bool { return len(g.Missing) == len(g.Zones) }

// offeredTypes maps each of zones to the instance types among types that
// EC2 offers there.
func offeredTypes(ctx context.Context, api ZoneReader, zones, types []string) (map[string]map[string]bool, error) {
	offered := map[string]map[string]bool{}
	p := ec2.NewDescribeInstanceTypeOfferingsPaginator(api, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters: []ec2types.Filter{
			{Name: aws.String("location"), Values: zones},
			{Name: aws.String("instance-type"), Values: types},
		},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading where %s are offered: %w", strings.Join(types, ", "), err)
		}
		for _, o := range page.InstanceTypeOfferings {
			zone := aws.ToString(o.Location)
			if offered[zone] == nil {
				offered[zone] = map[string]bool{}
			}
			offered[zone][string(o.InstanceType)] = true
		}
	}
	return offered, nil
}

// CheckZoneOfferings returns the control plane and the pools that have a
// zone of the cluster where none of their instance types is offered.
func CheckZoneOfferings(ctx context.Context, api ZoneReader, c *config.Cluster) ([]ZoneGap, error) {
	picked, err := clusterZones(ctx, api, c.Network)
	if err != nil || len(picked) == 0 {
		return nil, err // too few zones is the network module's error to give
	}
	zones := zoneNames(picked)
	groups := map[string][]string{"controlPlane.instanceType": {c.ControlPlane.InstanceType}}
	for name, p := range c.WorkerPools {
		groups["workerPools."+name+".instanceTypes"] = p.InstanceTypes
	}
	offered, err := offeredTypes(ctx, api, zones, clusterTypes(c))
	if err != nil {
		return nil, err
	}
	var gaps []ZoneGap
	for _, field := range slices.Sorted(maps.Keys(groups)) {
		types := groups[field]
		var missing, missingIDs []string
		for _, z := range picked {
			name := aws.ToString(z.ZoneName)
			if !slices.ContainsFunc(types, func(t string) bool { return offered[name][t] }) {
				missing = append(missing, name)
				missingIDs = append(missingIDs, aws.ToString(z.ZoneId))
			}
		}
		if len(missing) > 0 {
			gaps = append(gaps, ZoneGap{Field: field, Types: types, Missing: missing, MissingIDs: missingIDs, Zones: zones})
		}
	}
	return gaps, nil
}

// Message is the gap as one line for the operator, with what to do.
func (g ZoneGap) Message(region string) string {
	types := strings.Join(g.Types, ", ")
	see := fmt.Sprintf("aws ec2 describe-instance-type-offerings --region %s --location-type availability-zone --filters Name=instance-type,Values=%s", region, strings.Join(g.Types, ","))
	if g.Total() {
		return fmt.Sprintf("%s: none of %s is offered in the cluster's zones (%s), so its Auto Scaling group could never launch an instance; choose types offered there (%s)",
			g.Field, types, strings.Join(g.Zones, ", "), see)
	}
	return fmt.Sprintf("%s: none of %s is offered in %s (%s), of the cluster's zones %s: its Auto Scaling group launches in the other %d only, and each attempt there fails (\"not supported in your requested Availability Zone\"). Add a type offered there, or leave the zone out with network.excludeZoneIDs: [%s] before the first up (%s)",
		g.Field, types, strings.Join(g.Missing, ", "), strings.Join(g.MissingIDs, ", "), strings.Join(g.Zones, ", "), len(g.Zones)-len(g.Missing), strings.Join(g.MissingIDs, ", "), see)
}

// checkZoneOfferings warns of each zone gap and refuses a group no zone can
// serve, before anything is applied; a failed read is a note, never a
// failure of the command.
func (e *Env) checkZoneOfferings(ctx context.Context) error {
	cfg, err := e.AWSConfig(ctx)
	var gaps []ZoneGap
	if err == nil {
		gaps, err = CheckZoneOfferings(ctx, ec2.NewFromConfig(cfg), e.Config)
	}
	if err != nil {
		if ExitCode(err) == ExitUsage {
			return err // an excluded zone ID the region does not have
		}
		e.opts.UI.Notef("note: the instance types' Availability Zones were not checked: %v\n", err)
		return nil
	}
	var total []string
	for _, g := range gaps {
		if g.Total() {
			total = append(total, g.Message(e.Config.Region))
			continue
		}
		e.opts.UI.Notef("warning: %s\n", g.Message(e.Config.Region))
	}
	if len(total) > 0 {
		return UsageError("%s", strings.Join(total, "\n"))
	}
	return nil
}
