package sweep

import "context"

// kind is one entry of the registry: everything the sweep knows about one
// resource kind.
type kind struct {
	// Kind is the name, "<service>:<resource>", shared with the teardown
	// inventory of the end-to-end tests.
	Kind string
	// List appends the cluster's resources of this kind; nil for a kind
	// its parent's List finds (mount targets and access points with their
	// file system, records with their zone).
	List func(*lister, context.Context) error
	// Delete removes one resource. A not-found error counts as deleted.
	Delete func(*deleter, context.Context, Resource) error
	// DependsOn are the kinds whose resources must be gone before one of
	// this kind can be deleted: they live in it, use it, or own it.
	DependsOn []string
}

// registry holds every kind, in the order Delete removes them: each kind
// after all of its DependsOn (checked by a test).
var registry = []kind{
	{KindASG, (*lister).autoscalingGroups, (*deleter).autoscalingGroup, nil},
	{KindInstance, (*lister).instances, (*deleter).instance, []string{KindASG}},
	{KindLoadBalancer, (*lister).loadBalancers, (*deleter).loadBalancer, nil},
	{KindTargetGroup, (*lister).targetGroups, (*deleter).targetGroup, []string{KindLoadBalancer, KindASG}},
	{KindLaunchTemplate, (*lister).launchTemplates, (*deleter).launchTemplate, []string{KindASG, KindInstance}},
	{KindAccessPoint, nil, (*deleter).accessPoint, nil},
	{KindMountTarget, nil, (*deleter).mountTarget, nil},
	{KindFileSystem, (*lister).fileSystems, (*deleter).fileSystem, []string{KindAccessPoint, KindMountTarget}},
	{KindNATGateway, (*lister).natGateways, (*deleter).natGateway, nil},
	{KindEIP, (*lister).elasticIPs, (*deleter).elasticIP, []string{KindNATGateway, KindInstance}},
	{KindENI, (*lister).networkInterfaces, (*deleter).networkInterface, []string{KindInstance, KindLoadBalancer, KindMountTarget, KindNATGateway}},
	{KindVolume, (*lister).volumes, (*deleter).volume, []string{KindInstance}},
	{KindVPCEndpoint, (*lister).vpcEndpoints, (*deleter).vpcEndpoint, nil},
	{KindSubnet, (*lister).subnets, (*deleter).subnet, []string{KindInstance, KindLoadBalancer, KindMountTarget, KindNATGateway, KindENI, KindVPCEndpoint}},
	{KindRouteTable, (*lister).routeTables, (*deleter).routeTable, []string{KindSubnet, KindNATGateway}},
	{KindInternetGateway, (*lister).internetGateways, (*deleter).internetGateway, []string{KindNATGateway, KindEIP, KindLoadBalancer}},
	{KindSecurityGroup, (*lister).securityGroups, (*deleter).securityGroup, []string{KindInstance, KindLoadBalancer, KindMountTarget, KindENI, KindVPCEndpoint, KindLaunchTemplate}},
	{KindVPC, (*lister).vpcs, (*deleter).vpc, []string{KindSubnet, KindRouteTable, KindInternetGateway, KindSecurityGroup, KindVPCEndpoint, KindENI}},
	{KindInstanceProfile, (*lister).instanceProfiles, (*deleter).instanceProfile, []string{KindInstance, KindLaunchTemplate}},
	{KindRole, (*lister).roles, (*deleter).role, []string{KindInstanceProfile}},
	{KindPolicy, (*lister).policies, (*deleter).policy, nil},
	{KindBucket, (*lister).buckets, (*deleter).bucket, nil},
	{KindKMSAlias, (*lister).kmsAliases, (*deleter).kmsAlias, nil},
	{KindKMSKey, (*lister).kmsKeys, (*deleter).kmsKey, []string{KindKMSAlias, KindBucket, KindVolume}},
	{KindEventRule, (*lister).eventRules, (*deleter).eventRule, nil},
	{KindQueue, (*lister).queues, (*deleter).queue, []string{KindEventRule}},
	{KindRecord, nil, (*deleter).record, nil},
	{KindHostedZone, (*lister).hostedZones, (*deleter).hostedZone, []string{KindRecord}},
}

// listOrder is the order List runs the listers in: a kind matched through
// another kind's resources comes after it (everything in a VPC after the
// VPCs; ENIs after the instances, load balancers and file systems that own
// them; volumes after instances).
var listOrder = []string{
	KindVPC, KindSubnet, KindRouteTable, KindInternetGateway, KindNATGateway,
	KindEIP, KindSecurityGroup, KindVPCEndpoint,
	KindLoadBalancer, KindTargetGroup,
	KindFileSystem,
	KindInstance, KindENI, KindVolume,
	KindLaunchTemplate, KindASG,
	KindBucket,
	KindRole, KindPolicy, KindInstanceProfile,
	KindKMSKey, KindKMSAlias,
	KindEventRule, KindQueue,
	KindHostedZone,
}

// Order is the deletion order of the kinds: dependents first.
var Order = func() []string {
	out := make([]string, len(registry))
	for i, k := range registry {
		out[i] = k.Kind
	}
	return out
}()

func lookup(name string) (kind, bool) {
	for _, k := range registry {
		if k.Kind == name {
			return k, true
		}
	}
	return kind{}, false
}
