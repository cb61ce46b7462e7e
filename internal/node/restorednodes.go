package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// restoredNodeGrace is how old a restored Node must be before a missing
// instance counts: EC2's reads are eventually consistent, and a worker may
// join in the minutes the restored cluster already answers.
const restoredNodeGrace = 5 * time.Minute

// removeRestoredGoneNodes deletes, on a control plane that has just
// restored the cluster, the Nodes of instances that no longer run: the
// previous control plane's, and the workers terminated since the snapshot.
// The snapshot still calls them Ready, and a DaemonSet counts them until
// they are deleted: the CNI phase's Helm upgrade waits for every Cilium
// pod of a changed template, which a node without a kubelet never runs, so
// the bootstrap would fail on it after each attempt's wait until the
// instance gave up, and the next replacement, restoring the same snapshot,
// would fail the same way. The drainer, which deletes such Nodes too,
// starts only after the CNI.
func (a *Agent) removeRestoredGoneNodes(ctx context.Context) error {
	if !Exists(a.Host, rotateAfterRestore) {
		return nil // nothing was restored
	}
	out, err := a.Host.Run(ctx, a.kubectl("get", "nodes", "-o", "json"))
	if err != nil {
		return fmt.Errorf("listing the restored cluster's nodes: %w", err)
	}
	var nodes corev1.NodeList
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		return fmt.Errorf("reading the restored cluster's nodes: %w", err)
	}
	for _, n := range nodes.Items {
		if n.Name == a.Instance.Hostname || a.now().Sub(n.CreationTimestamp.Time) < restoredNodeGrace {
			continue
		}
		_, err := a.Nodes.FindNode(ctx, n.Name)
		if !errors.Is(err, ErrUnknownNode) {
			if err != nil {
				return fmt.Errorf("restored node %s: %w", n.Name, err)
			}
			continue
		}
		if _, err := a.Host.Run(ctx, a.kubectl("delete", "node", n.Name, "--ignore-not-found")); err != nil {
			return fmt.Errorf("deleting restored node %s, whose instance no longer runs: %w", n.Name, err)
		}
		a.logger().Info("restored node deleted: no running instance of the cluster has its name", "node", n.Name)
	}
	return nil
}
