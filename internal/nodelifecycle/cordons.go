package nodelifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A cordon the drainer puts on a node at risk carries these annotations, so
// that it lifts only its own cordons: one an operator set stays.
const (
	// CordonedForAnnotation says why: CordonRebalance or CordonScheduledChange.
	CordonedForAnnotation = "kforge.io/cordoned-for"
	// CordonedAtAnnotation is when, in RFC 3339.
	CordonedAtAnnotation = "kforge.io/cordoned-at"
)

// Why the drainer cordons a node that is not going yet.
const (
	// CordonRebalance: a Spot rebalance recommendation. Capacity
	// rebalancing replaces the instance within minutes, through the
	// lifecycle hook; when it cannot, the cordon is lifted after
	// RebalanceCordonLimit.
	CordonRebalance = "rebalance-recommendation"
	// CordonScheduledChange: an AWS Health scheduled change (a retirement,
	// a maintenance). Lifted when the event closes.
	CordonScheduledChange = "scheduled-change"
)

// RebalanceCordonLimit is how long a node cordoned for a rebalance
// recommendation stays cordoned while its instance keeps running: by then
// Auto Scaling has not replaced it (no Spot capacity elsewhere, the group
// at its maximum) and the pool would lose the node's capacity for good.
// An interruption that does come is drained as ever.
const RebalanceCordonLimit = time.Hour

// cordonFor cordons node for why, unless someone else cordoned it already:
// that cordon is not the drainer's to lift later.
func (h *Handler) cordonFor(ctx context.Context, node *corev1.Node, why string, now time.Time) error {
	if node.Spec.Unschedulable && node.Annotations[CordonedForAnnotation] == "" {
		return nil
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{
			CordonedForAnnotation: why,
			CordonedAtAnnotation:  now.UTC().Format(time.RFC3339),
		}},
		"spec": map[string]any{"unschedulable": true},
	})
	if err != nil {
		return err
	}
	if _, err := h.Kube.CoreV1().Nodes().Patch(ctx, node.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cordoning node %s: %w", node.Name, err)
	}
	return nil
}

// uncordonIf lifts node's cordon when the drainer put it there for why,
// and reports whether it did.
func (h *Handler) uncordonIf(ctx context.Context, node *corev1.Node, why string) (bool, error) {
	if !node.Spec.Unschedulable || node.Annotations[CordonedForAnnotation] != why {
		return false, nil
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{
			CordonedForAnnotation: nil,
			CordonedAtAnnotation:  nil,
		}},
		"spec": map[string]any{"unschedulable": false},
	})
	if err != nil {
		return false, err
	}
	if _, err := h.Kube.CoreV1().Nodes().Patch(ctx, node.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return false, fmt.Errorf("uncordoning node %s: %w", node.Name, err)
	}
	return true, nil
}

// LiftStaleRebalanceCordons uncordons the Ready nodes the drainer cordoned
// for a rebalance recommendation more than RebalanceCordonLimit ago.
func (h *Handler) LiftStaleRebalanceCordons(ctx context.Context, now time.Time) ([]string, error) {
	nodes, err := h.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	var lifted []string
	for i := range nodes.Items {
		n := &nodes.Items[i]
		at, err := time.Parse(time.RFC3339, n.Annotations[CordonedAtAnnotation])
		if err != nil || n.Annotations[CordonedForAnnotation] != CordonRebalance || !Ready(*n) || now.Sub(at) < RebalanceCordonLimit {
			continue
		}
		ok, err := h.uncordonIf(ctx, n, CordonRebalance)
		if err != nil {
			return lifted, err
		}
		if ok {
			h.logger().Info("rebalance recommendation not acted on: node uncordoned", "node", n.Name, "cordoned_at", at.Format(time.RFC3339))
			lifted = append(lifted, n.Name)
		}
	}
	return lifted, nil
}
