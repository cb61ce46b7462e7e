package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kforge/kforge/internal/awsx"
)

// GroupInstance is an instance of one of the cluster's Auto Scaling groups,
// which validate expects to find as a Node, as kOps's validate expects
// every machine of an instance group to have joined.
type GroupInstance struct {
	ID             string `json:"id"`
	Pool           string `json:"pool"`
	LifecycleState string `json:"lifecycle_state"`
}

// groupInstances lists the instances of the control plane's and the worker
// pools' groups that are not on their way out.
func groupInstances(ctx context.Context, client autoScalingAPI, out *Outputs) ([]GroupInstance, error) {
	pools := map[string]string{}
	for pool, asg := range out.Groups() {
		pools[asg] = pool
	}
	groups, err := awsx.DescribeAutoScalingGroups(ctx, client, slices.Sorted(maps.Keys(pools)))
	if err != nil {
		return nil, err
	}
	var instances []GroupInstance
	for _, g := range groups {
		for _, i := range g.Instances {
			if !leaving(i.LifecycleState) {
				instances = append(instances, GroupInstance{ID: aws.ToString(i.InstanceId), Pool: pools[aws.ToString(g.AutoScalingGroupName)], LifecycleState: string(i.LifecycleState)})
			}
		}
	}
	slices.SortFunc(instances, func(a, b GroupInstance) int { return cmpString(a.ID, b.ID) })
	return instances, nil
}

// instancesWithoutNode are the problems of the instances no Node names in
// its spec.providerID: one still booting or joining (validate --wait
// waits for it), or one whose Node the cluster lost, such as a worker that
// registered after the snapshot a replaced control plane restored (a
// kubelet registers its Node only when it starts).
func instancesWithoutNode(instances []GroupInstance, nodes []NodeState) []string {
	joined := map[string]bool{}
	for _, n := range nodes {
		joined[n.Instance] = true
	}
	var problems []string
	for _, i := range instances {
		if !joined[i.ID] {
			problems = append(problems, fmt.Sprintf("instance %s of %s (%s) has no Node: it has not joined the cluster yet, or the cluster lost its Node (docs/OPERATIONS.md, \"Instances without a Node\")", i.ID, i.Pool, i.LifecycleState))
		}
	}
	return problems
}
