package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kforge/kforge/internal/awsx"
)

// DefaultRejoinGrace is how long a worker launched before the control
// plane's restore may stay without a Node before it is replaced. A worker
// still bootstrapping at the restore waits for the new join material (its
// retries back off to two minutes) and joins within it; a kubelet that
// registered with the old control plane never registers again.
const DefaultRejoinGrace = 3 * time.Minute

// ReplaceWorkersWithoutNode replaces the workers a restored control plane
// has no Node of. A control plane that restores an etcd snapshot by itself
// (its predecessor died) loses the Nodes of the workers that registered
// after that snapshot, and a kubelet registers its Node only when it
// starts: such a worker stays in service, counted by its group and by
// Cluster Autoscaler, with nothing scheduled on it.
//
// Every in-service instance of Groups launched before restoredAt that no
// Node names in its provider ID, at a call RejoinGrace or more after the
// first call that found it so, is terminated through Auto Scaling without
// lowering its group's desired capacity, so the group launches a
// replacement that joins the restored cluster. Instances launched after
// restoredAt are left alone: they join it. Calls come from one goroutine at
// a time (the drainer's scan). It returns the instances it replaced, and
// goes on after one termination fails.
func (h *Handler) ReplaceWorkersWithoutNode(ctx context.Context, ec EC2, restoredAt, now time.Time) ([]string, error) {
	if restoredAt.IsZero() {
		return nil, nil
	}
	groups, err := awsx.DescribeAutoScalingGroups(ctx, h.ASG, h.groups())
	if err != nil {
		return nil, fmt.Errorf("describing the worker groups: %w", err)
	}
	groupOf := map[string]string{}
	for _, g := range groups {
		for _, i := range g.Instances {
			if i.LifecycleState == asgtypes.LifecycleStateInService {
				groupOf[aws.ToString(i.InstanceId)] = aws.ToString(g.AutoScalingGroupName)
			}
		}
	}
	withNode, err := InstancesWithNodes(ctx, h.Kube)
	if err != nil {
		return nil, err
	}
	maps.DeleteFunc(groupOf, func(id, _ string) bool { return withNode[id] })
	nodeless, err := awsx.LaunchedBefore(ctx, ec, slices.Sorted(maps.Keys(groupOf)), restoredAt)
	if err != nil {
		return nil, fmt.Errorf("the launch times of workers without a Node: %w", err)
	}
	if h.nodelessSince == nil {
		h.nodelessSince = map[string]time.Time{}
	}
	// An instance that gained a Node, or left its group, starts over.
	maps.DeleteFunc(h.nodelessSince, func(id string, _ time.Time) bool { return !slices.Contains(nodeless, id) })
	var replaced []string
	var errs []error
	for _, id := range nodeless {
		since, seen := h.nodelessSince[id]
		if !seen {
			h.nodelessSince[id] = now
			h.logger().Info("worker launched before the control plane's restore has no Node; replaced unless it registers", "instance", id,
				"group", groupOf[id], "restored_at", restoredAt.UTC().Format(time.RFC3339), "grace", h.RejoinGrace.String())
			continue
		}
		if now.Sub(since) < h.RejoinGrace {
			continue
		}
		if _, err := h.ASG.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
			InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(false),
		}); err != nil {
			errs = append(errs, fmt.Errorf("replacing worker %s of %s, without a Node since the restore: %w", id, groupOf[id], err))
			continue
		}
		delete(h.nodelessSince, id)
		h.logger().Info("worker replaced: it has no Node in the restored cluster (it registered after the snapshot, and a kubelet registers its Node only when it starts)",
			"instance", id, "group", groupOf[id], "without_node_for", now.Sub(since).Round(time.Second).String())
		replaced = append(replaced, id)
	}
	return replaced, errors.Join(errs...)
}
