package cluster

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/config"
)

// ClusterZones returns the zones the network module picks for a new
// cluster: the region's available Availability Zones (no Local or
// Wavelength Zone) whose IDs network.excludeZoneIDs does not list, by
// name, the first azCount of them. terraform/modules/network/vpc.tf is the
// other half of this rule; it keeps its first pick in the state, so while
// one of an applied cluster's zones is impaired the two can differ.
func ClusterZones(ctx context.Context, api ZoneReader, n config.Network) ([]string, error) {
	zones, err := clusterZones(ctx, api, n)
	return zoneNames(zones), err
}

// zoneNames are the names of zones, in their order.
func zoneNames(zones []ec2types.AvailabilityZone) []string {
	names := make([]string, len(zones))
	for i, z := range zones {
		names[i] = aws.ToString(z.ZoneName)
	}
	return names
}

// clusterZones is ClusterZones with each zone's ID. An excluded ID that is
// none of the region's zones is a usage error: the provider would ignore
// it, and the zone meant would stay in the cluster.
func clusterZones(ctx context.Context, api ZoneReader, n config.Network) ([]ec2types.AvailabilityZone, error) {
	// Every state: an excluded zone that is impaired right now is still
	// one of the region's.
	out, err := api.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{Filters: []ec2types.Filter{
		{Name: aws.String("zone-type"), Values: []string{"availability-zone"}},
	}})
	if err != nil {
		return nil, fmt.Errorf("listing the region's Availability Zones: %w", err)
	}
	var kept []ec2types.AvailabilityZone
	ids := map[string]bool{}
	for _, z := range out.AvailabilityZones {
		id := aws.ToString(z.ZoneId)
		ids[id] = true
		if z.State == ec2types.AvailabilityZoneStateAvailable && !slices.Contains(n.ExcludeZoneIDs, id) {
			kept = append(kept, z)
		}
	}
	for i, id := range n.ExcludeZoneIDs {
		if !ids[id] {
			return nil, UsageError("network.excludeZoneIDs[%d]: %s is not an Availability Zone of the region (its zones: %s); fix: list IDs from `aws ec2 describe-availability-zones` (ZoneId)",
				i, id, strings.Join(slices.Sorted(maps.Keys(ids)), ", "))
		}
	}
	slices.SortFunc(kept, func(a, b ec2types.AvailabilityZone) int {
		return strings.Compare(aws.ToString(a.ZoneName), aws.ToString(b.ZoneName))
	})
	return kept[:min(n.AZCount, len(kept))], nil
}

// constrainedZone matches Elastic Load Balancing's refusal of a subnet in
// an Availability Zone the account cannot use for a load balancer (a
// constrained zone); which zone that is differs per account, and no API
// lists them before the create.
var constrainedZone = regexp.MustCompile(`cannot be associated with a load balancer|Availability Zone \S+ is constrained`)

// explainZoneRefusal adds what to do to an apply error in which ELB
// refused one of the cluster's zones; other errors are returned as they
// are.
func explainZoneRefusal(err error) error {
	if err == nil || !constrainedZone.MatchString(err.Error()) {
		return err
	}
	return fmt.Errorf("%w\nElastic Load Balancing refused one of the cluster's Availability Zones (a constrained zone in this account). Find its ID with `aws ec2 describe-availability-zones` (ZoneId), add it to network.excludeZoneIDs and run up again: the cluster takes the next zone by name (docs/OPERATIONS.md, \"Zones a load balancer cannot use\")", err)
}
