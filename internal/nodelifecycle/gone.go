package nodelifecycle

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kforge/kforge/internal/awsx"
)

// EC2 is the part of the EC2 API the removal of gone nodes calls.
type EC2 interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// goneGrace is how old a NotReady Node must be before its instance's
// absence counts: a node registers a minute or more after its instance
// runs, and EC2's reads are eventually consistent.
const goneGrace = 5 * time.Minute

// RemoveGoneNodes deletes the Node objects whose instance is terminated,
// shutting down or no longer known to EC2, and that are not Ready and
// older than goneGrace. It catches what no event delivered: a Node whose
// termination event expired while no drainer ran (the old control plane's
// Node, restored from the etcd snapshot by its replacement), or a node of
// an instance terminated outside Auto Scaling while the drainer was down.
// A Node without an EC2 provider ID is left alone.
func (h *Handler) RemoveGoneNodes(ctx context.Context, ec EC2, now time.Time) ([]string, error) {
	nodes, err := h.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	byInstance := map[string]string{}
	var ids []string
	for _, n := range nodes.Items {
		id := InstanceOf(n.Spec.ProviderID)
		if id == "" || Ready(n) || now.Sub(n.CreationTimestamp.Time) < goneGrace {
			continue
		}
		byInstance[id] = n.Name
		ids = append(ids, id)
	}
	alive := map[string]bool{}
	err = awsx.DescribeInstances(ctx, ec, ids, func(i ec2types.Instance) {
		if i.State != nil && i.State.Name != ec2types.InstanceStateNameTerminated && i.State.Name != ec2types.InstanceStateNameShuttingDown {
			alive[aws.ToString(i.InstanceId)] = true
		}
	})
	if err != nil {
		return nil, fmt.Errorf("the instances of NotReady nodes: %w", err)
	}
	var removed []string
	for _, id := range ids {
		if alive[id] {
			continue
		}
		name := byInstance[id]
		if err := h.deleteNode(ctx, name); err != nil {
			return removed, err
		}
		h.logger().Info("instance gone: NotReady node deleted", "node", name, "instance", id)
		removed = append(removed, name)
	}
	return removed, nil
}

// InstancesWithNodes lists, in one read of the Nodes, the instances whose
// Node's spec.providerID names them.
func InstancesWithNodes(ctx context.Context, kube kubernetes.Interface) (map[string]bool, error) {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	ids := map[string]bool{}
	for _, n := range nodes.Items {
		if id := InstanceOf(n.Spec.ProviderID); id != "" {
			ids[id] = true
		}
	}
	return ids, nil
}

// InstanceOf returns the instance id of an aws:///<az>/<id> provider ID,
// or "" for any other.
func InstanceOf(providerID string) string {
	rest, ok := strings.CutPrefix(providerID, "aws://")
	if !ok {
		return ""
	}
	id := rest[strings.LastIndex(rest, "/")+1:]
	if !strings.HasPrefix(id, "i-") {
		return ""
	}
	return id
}

// Ready reports whether the Node's Ready condition is True.
func Ready(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
