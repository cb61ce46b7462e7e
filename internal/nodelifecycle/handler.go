// Package nodelifecycle drains the nodes of a kforge cluster whose
// instances are going away, and removes their Node objects. Drainer reads
// the node events queue (Auto Scaling termination lifecycle actions, Spot
// interruption warnings, rebalance recommendations, instance state changes
// and AWS Health scheduled changes, written there by EventBridge rules);
// Handler does the Kubernetes and Auto Scaling half: cordon, drain through
// the eviction API (so PodDisruptionBudgets hold), delete the Node (so its
// pod CIDR is freed) and complete the lifecycle action.
//
// It runs on the control plane, which holds the admin kubeconfig. A hook it
// never answers times out with CONTINUE, so the drainer can only speed a
// termination up, never block one.
package nodelifecycle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// TerminatingWait is the lifecycle state of an instance held by a
// termination hook.
const TerminatingWait = "Terminating:Wait"

// AutoScaling is the part of the Auto Scaling API the handler calls.
type AutoScaling interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	CompleteLifecycleAction(ctx context.Context, in *autoscaling.CompleteLifecycleActionInput, opts ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error)
	TerminateInstanceInAutoScalingGroup(ctx context.Context, in *autoscaling.TerminateInstanceInAutoScalingGroupInput, opts ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error)
}

// Handler drains the nodes of terminating instances of Groups.
type Handler struct {
	ASG  AutoScaling
	Kube kubernetes.Interface
	// Groups are the cluster's Auto Scaling group names; ReloadGroups
	// replaces them.
	Groups []string
	// ReloadGroups, when set, reads the cluster's group names again
	// (cluster.json): a pool that an up adds after the drainer started has
	// a group, a termination hook and events of its own. The scan reads
	// them every time, and an event of a group not known yet first.
	ReloadGroups func(context.Context) ([]string, error)
	// Hook is the termination lifecycle hook's name (the same on every group).
	Hook string
	// DrainTimeout bounds one node's drain; keep it under the hook's
	// heartbeat timeout. After it the node is deleted anyway: the instance
	// goes when the hook times out, whatever the handler does.
	DrainTimeout time.Duration
	// RetryInterval is the wait between evictions refused by a
	// PodDisruptionBudget and between checks that evicted pods are gone.
	RetryInterval time.Duration
	// UnreachablePodWait overrides the package's UnreachablePodWait.
	UnreachablePodWait time.Duration
	// RejoinGrace is how long a worker launched before the control plane's
	// restore may stay without a Node (ReplaceWorkersWithoutNode).
	RejoinGrace time.Duration
	Log         *slog.Logger

	// nodelessSince is when ReplaceWorkersWithoutNode first found each
	// worker without a Node.
	nodelessSince map[string]time.Time

	// draining counts the drains under way of each instance (an event's,
	// the scan's), so that the scan leaves alone what an event handles.
	mu       sync.Mutex
	draining map[string]int
}

// Result is what happened to one terminating instance.
type Result struct {
	Group      string `json:"group"`
	InstanceID string `json:"instance_id"`
	// Node is empty when no Node has the instance's provider ID.
	Node    string `json:"node,omitempty"`
	Evicted int    `json:"evicted"`
	// DrainTimedOut: pods were still on the node after DrainTimeout.
	DrainTimedOut bool `json:"drain_timed_out"`
}

// RunOnce handles every instance now waiting in Terminating:Wait that no
// event is draining already (that event completes its lifecycle action),
// all at once: one drain held by a budget for its whole timeout must not
// hold the others. It returns the results by instance, and every failure
// joined.
func (h *Handler) RunOnce(ctx context.Context) ([]Result, error) {
	waiting, err := h.waiting(ctx)
	if err != nil {
		return nil, err
	}
	var (
		mu      sync.Mutex
		results []Result
		errs    []error
		drains  sync.WaitGroup
	)
	for _, w := range waiting {
		if h.beingDrained(w.instanceID) {
			h.logger().Info("terminating instance already being drained for an event; the scan leaves it", "group", w.group, "instance", w.instanceID)
			continue
		}
		drains.Go(func() {
			r, err := h.handle(ctx, w.group, w.instanceID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("instance %s of %s: %w", w.instanceID, w.group, err))
				return
			}
			results = append(results, r)
		})
	}
	drains.Wait()
	slices.SortFunc(results, func(a, b Result) int { return strings.Compare(a.InstanceID, b.InstanceID) })
	return results, errors.Join(errs...)
}

// drainStarted records a drain of the instance under way until the
// returned function is called.
func (h *Handler) drainStarted(instanceID string) (done func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining == nil {
		h.draining = map[string]int{}
	}
	h.draining[instanceID]++
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.draining[instanceID]--; h.draining[instanceID] == 0 {
			delete(h.draining, instanceID)
		}
	}
}

func (h *Handler) beingDrained(instanceID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.draining[instanceID] > 0
}

type waitingInstance struct{ group, instanceID string }

func (h *Handler) waiting(ctx context.Context) ([]waitingInstance, error) {
	var out []waitingInstance
	groups := h.groups()
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(h.ASG, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: groups})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing Auto Scaling groups %s: %w", strings.Join(groups, ", "), err)
		}
		for _, g := range page.AutoScalingGroups {
			for _, i := range g.Instances {
				if i.LifecycleState == asgtypes.LifecycleStateTerminatingWait {
					out = append(out, waitingInstance{aws.ToString(g.AutoScalingGroupName), aws.ToString(i.InstanceId)})
				}
			}
		}
	}
	return out, nil
}

func (h *Handler) handle(ctx context.Context, group, instanceID string) (Result, error) {
	r, err := h.drainAndDelete(ctx, instanceID, h.DrainTimeout)
	r.Group = group
	if err != nil {
		return r, err
	}
	if err := h.complete(ctx, group, h.Hook, "", instanceID); err != nil {
		return r, err
	}
	h.logger().Info("terminating instance handled", "group", group, "instance", instanceID, "node", r.Node, "evicted", r.Evicted, "drain_timed_out", r.DrainTimedOut)
	return r, nil
}

// drainAndDelete cordons and drains the instance's node for at most
// timeout, then deletes the Node object. An instance without a Node (it
// never joined, or it is gone already) is a success with an empty Node.
func (h *Handler) drainAndDelete(ctx context.Context, instanceID string, timeout time.Duration) (Result, error) {
	defer h.drainStarted(instanceID)()
	r := Result{InstanceID: instanceID}
	node, err := h.nodeOf(ctx, instanceID)
	if err != nil || node == nil {
		return r, err
	}
	r.Node = node.Name
	if err := h.cordon(ctx, node.Name); err != nil {
		return r, err
	}
	r.Evicted, r.DrainTimedOut, err = h.drain(ctx, node.Name, timeout)
	if err != nil {
		return r, err
	}
	if r.DrainTimedOut {
		h.logger().Warn("drain timed out; deleting the node anyway", "node", node.Name, "instance", instanceID, "timeout", timeout.String())
	}
	return r, h.deleteNode(ctx, node.Name)
}

func (h *Handler) deleteNode(ctx context.Context, name string) error {
	_, err := DeleteNode(ctx, h.Kube, name)
	return err
}

// DeleteNode deletes the Node object name, which frees its pod range. A
// Node that is gone already is no error: deleted is then false (another
// deleter, the drainer or a roll, got there first).
func DeleteNode(ctx context.Context, kube kubernetes.Interface, name string) (deleted bool, err error) {
	err = kube.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("deleting node %s: %w", name, err)
}

// complete answers the lifecycle action with CONTINUE, by token when the
// event carried one. An action that is no longer waiting (completed
// before, by a redelivered event or the Terminating:Wait scan, or timed
// out) is done: Auto Scaling answers ValidationError "No active Lifecycle
// Action found".
func (h *Handler) complete(ctx context.Context, group, hook, token, instanceID string) error {
	in := &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName:  aws.String(group),
		LifecycleHookName:     aws.String(hook),
		InstanceId:            aws.String(instanceID),
		LifecycleActionResult: aws.String("CONTINUE"),
	}
	if token != "" {
		in.LifecycleActionToken = aws.String(token)
	}
	_, err := h.ASG.CompleteLifecycleAction(ctx, in)
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" && strings.Contains(apiErr.ErrorMessage(), "No active Lifecycle Action") {
		h.logger().Info("lifecycle action already completed or timed out", "group", group, "instance", instanceID, "hook", hook)
		return nil
	}
	if err != nil {
		return fmt.Errorf("completing lifecycle action %s of %s in %s: %w", hook, instanceID, group, err)
	}
	return nil
}

// nodeOf finds the instance's Node; nil when there is none (it never
// joined, or is gone).
func (h *Handler) nodeOf(ctx context.Context, instanceID string) (*corev1.Node, error) {
	return NodeOfInstance(ctx, h.Kube, instanceID)
}

// NodeOfInstance finds the Node whose provider ID (aws:///<az>/<instance-id>)
// names the instance; nil when there is none.
func NodeOfInstance(ctx context.Context, kube kubernetes.Interface, instanceID string) (*corev1.Node, error) {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	for i := range nodes.Items {
		if strings.HasSuffix(nodes.Items[i].Spec.ProviderID, "/"+instanceID) {
			return &nodes.Items[i], nil
		}
	}
	return nil, nil
}

// cordon cordons node for its drain. The cordon is the drain's from now
// on: an at-risk event's marks go, so that no lifting of those (cordons.go)
// makes a draining node schedulable again.
func (h *Handler) cordon(ctx context.Context, node string) error {
	patch := []byte(`{"metadata":{"annotations":{"` + CordonedForAnnotation + `":null,"` + CordonedAtAnnotation + `":null}},"spec":{"unschedulable":true}}`)
	if _, err := h.Kube.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cordoning node %s: %w", node, err)
	}
	return nil
}

// drain evicts every pod that a drain evicts (not DaemonSet pods, not
// static pods, not finished pods), retrying evictions a
// PodDisruptionBudget refuses, and waits for them to go, for at most
// timeout. Any other refusal (the API server restarting, a pod under two
// budgets) is retried too, pod by pod, until then: one stuck pod must not
// keep the others on a node about to go, and at the timeout the drain
// ends as a timed-out one does.
func (h *Handler) drain(ctx context.Context, node string, timeout time.Duration) (evicted int, timedOut bool, err error) {
	deadline := time.Now().Add(timeout)
	pending := map[types.UID]bool{}
	var said string
	for {
		var gone time.Time // pods deleted before it count as gone
		if n, err := h.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err == nil && Unreachable(n) {
			gone = time.Now().Add(-cmp.Or(h.UnreachablePodWait, UnreachablePodWait))
		}
		left, n, err := h.evictPass(ctx, node, pending, gone)
		evicted += n
		if ctx.Err() != nil {
			return evicted, false, ctx.Err()
		}
		if err == nil && left == 0 {
			return evicted, false, nil
		}
		if err != nil && err.Error() != said {
			said = err.Error()
			h.logger().Warn("drain: retrying until its timeout", "node", node, "error", said, "timeout", deadline.Format(time.RFC3339))
		}
		if !time.Now().Before(deadline) {
			return evicted, true, nil
		}
		select {
		case <-ctx.Done():
			return evicted, false, ctx.Err()
		case <-time.After(h.RetryInterval):
		}
	}
}

// UnreachablePodWait bounds the wait for a pod evicted from a Node whose
// kubelet stopped reporting (a lost zone): its eviction is granted, and no
// kubelet will confirm it gone, so a drain would otherwise last its whole
// timeout. kubectl drain's --skip-wait-for-delete-timeout is for this case.
const UnreachablePodWait = time.Minute

// Unreachable reports whether n's kubelet stopped reporting (Ready Unknown).
func Unreachable(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionUnknown
		}
	}
	return false
}

// evictPass asks once for the eviction of every pod on node that a drain
// evicts and is not evicted yet (pending), and returns how many are left
// on the node, how many it evicted, and the first refusal other than a
// budget's. A pod whose deletion began before gone (an unreachable Node's)
// counts as gone.
func (h *Handler) evictPass(ctx context.Context, node string, pending map[types.UID]bool, gone time.Time) (left, evicted int, err error) {
	pods, err := h.Kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(),
	})
	if err != nil {
		return 1, 0, fmt.Errorf("listing pods on %s: %w", node, err)
	}
	var refused error
	for _, pod := range pods.Items {
		// The API server filters by node; checked again so a client
		// that ignores field selectors cannot drain the wrong pods.
		if pod.Spec.NodeName != node || !drained(pod) || pod.DeletionTimestamp != nil && pod.DeletionTimestamp.Time.Before(gone) {
			continue
		}
		left++
		if pending[pod.UID] {
			continue // evicted, still terminating
		}
		err := h.Kube.PolicyV1().Evictions(pod.Namespace).Evict(ctx, &policyv1.Eviction{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
		})
		switch {
		case err == nil:
			pending[pod.UID] = true
			evicted++
		case apierrors.IsNotFound(err):
			left--
		case apierrors.IsTooManyRequests(err):
			// A PodDisruptionBudget allows no disruption now: retry.
		case refused == nil:
			refused = fmt.Errorf("evicting %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	return left, evicted, refused
}

// drained reports whether a drain evicts the pod: kubectl drain
// --ignore-daemonsets leaves DaemonSet pods (their controller ignores
// unschedulable) and static pods (the kubelet owns them), and finished pods
// hold nothing.
func drained(pod corev1.Pod) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return false
	}
	if c := metav1.GetControllerOf(&pod); c != nil && c.Kind == "DaemonSet" {
		return false
	}
	return true
}

func (h *Handler) logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}
