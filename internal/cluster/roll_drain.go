package cluster

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kforge/kforge/internal/nodelifecycle"
	"github.com/kforge/kforge/internal/wait"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/kubectl/pkg/drain"
)

// defaultDrainTimeout bounds the drain of one node, as kOps'
// rolling-update --drain-timeout does by default.
const defaultDrainTimeout = 15 * time.Minute

// DrainError is a drain that did not finish: the node stays cordoned and
// its instance keeps running, so the roll stops before terminating it.
type DrainError struct {
	Node    string
	Timeout time.Duration
	// Blocking names the PodDisruptionBudgets that allow no disruption of
	// a pod still on the node ("namespace/name").
	Blocking []string
	// Stopped is a drain that failed before its timeout (a call the API
	// server refused, and still refuses).
	Stopped bool
	Err     error
}

func (e *DrainError) Error() string {
	why := e.Err.Error()
	if len(e.Blocking) > 0 {
		why = "PodDisruptionBudget " + strings.Join(e.Blocking, ", ") + " allows no disruption of the pods still on it"
	}
	if e.Stopped {
		return fmt.Sprintf("draining node %s stopped before its timeout (%s): %s", e.Node, e.Timeout, why)
	}
	return fmt.Sprintf("draining node %s did not finish within %s: %s", e.Node, e.Timeout, why)
}

func (e *DrainError) Unwrap() error { return e.Err }

// node finds an instance's Node by spec.providerID; nil when it has none.
func (k kubeNodes) node(ctx context.Context, instanceID string) (*corev1.Node, error) {
	return nodelifecycle.NodeOfInstance(ctx, k.client, instanceID)
}

// NodeGone reports whether the instance no longer has a Node.
func (k kubeNodes) NodeGone(ctx context.Context, instanceID string) (bool, string, error) {
	n, err := k.node(ctx, instanceID)
	if err != nil || n == nil {
		return n == nil && err == nil, "", err
	}
	return false, n.Name, nil
}

// InstancesWithNodes lists, in one read of the Nodes, the instances whose
// Node's spec.providerID names them.
func (k kubeNodes) InstancesWithNodes(ctx context.Context) (map[string]bool, error) {
	return nodelifecycle.InstancesWithNodes(ctx, k.client)
}

// Drain cordons the instance's Node and evicts its pods with kubectl's
// drain (PodDisruptionBudgets respected: a refused eviction is retried
// until timeout), as `kubectl drain --ignore-daemonsets
// --delete-emptydir-data --force` does. It returns the Node's name ("" when
// the instance has none) and how many pods went. On failure the node stays
// cordoned, as kubectl and kOps leave it.
func (k kubeNodes) Drain(ctx context.Context, instanceID string, timeout time.Duration, note func(string, ...any)) (string, int, error) {
	n, err := k.node(ctx, instanceID)
	if err != nil || n == nil {
		return "", 0, err
	}
	evicted := 0
	h := &drain.Helper{
		Ctx: ctx, Client: k.client,
		// The instance is terminated next: a pod no controller recreates
		// goes with it either way.
		Force: true, IgnoreAllDaemonSets: true, DeleteEmptyDirData: true,
		GracePeriodSeconds: -1, Timeout: timeout, EvictErrorRetryDelay: 5 * time.Second,
		// kubectl's retry lines ("will retry after 5s") every 5 s would
		// drown the progress; a failure names the budget instead.
		Out: io.Discard, ErrOut: io.Discard,
		OnPodDeletionOrEvictionFinished: func(pod *corev1.Pod, _ bool, err error) {
			if err == nil {
				evicted++
				note("evicted pod %s/%s from node %s", pod.Namespace, pod.Name, n.Name)
			}
		},
	}
	if nodelifecycle.Unreachable(n) {
		// No kubelet confirms an evicted pod gone (a lost zone): wait for
		// it a minute, not until the timeout, which would stop the roll
		// with advice about disruption budgets.
		h.SkipWaitForDeleteTimeoutSeconds = int(cmp.Or(k.unreachableWait, nodelifecycle.UnreachablePodWait).Seconds())
		note("node %s is unreachable (Ready Unknown): its evicted pods are not waited for past %ds", n.Name, h.SkipWaitForDeleteTimeoutSeconds)
	}
	if err := drain.RunCordonOrUncordon(h, n, true); err != nil {
		return n.Name, 0, fmt.Errorf("cordoning node %s: %w", n.Name, err)
	}
	note("node %s (%s) cordoned; draining it (timeout %s)", n.Name, instanceID, timeout)
	deadline := time.Now().Add(timeout)
	for attempt := 1; ; attempt++ {
		h.Timeout = time.Until(deadline)
		err := drain.RunNodeDrain(h, n.Name)
		if err == nil {
			return n.Name, evicted, nil
		}
		de := &DrainError{Node: n.Name, Timeout: timeout, Stopped: time.Now().Before(deadline), Err: err}
		// Best effort: the drain failed either way.
		if de.Blocking, _ = k.blockingBudgets(context.WithoutCancel(ctx), n.Name); len(de.Blocking) > 0 {
			return n.Name, evicted, de
		}
		if attempt == maxDrainAttempts || time.Until(deadline) < 2*k.delay() {
			return n.Name, evicted, de
		}
		// kubectl's drain stops at the first failed call. An API server
		// that restarts (a static Pod recreated after a kubelet upgrade)
		// refuses calls until its authorizer has synced, or drops them:
		// drain again when it answers and allows this identity to drain.
		if err := wait.Sleep(ctx, k.delay()); err != nil {
			return n.Name, evicted, de
		}
		if denied := k.mayNotDrain(ctx); denied != "" {
			de.Err = fmt.Errorf("%w; %s", err, denied)
			return n.Name, evicted, de
		}
		note("draining node %s again (attempt %d of %d): a call failed (%v), and the API server now allows this identity to read and evict pods (a passing refusal, as from an API server restarting)", n.Name, attempt+1, maxDrainAttempts, err)
	}
}

// maxDrainAttempts bounds how often one node's drain starts again after a
// failure the API server no longer confirms; drainRetryDelay is the wait
// before it is asked.
const (
	maxDrainAttempts = 3
	drainRetryDelay  = 10 * time.Second
)

func (k kubeNodes) delay() time.Duration {
	if k.retryDelay > 0 {
		return k.retryDelay
	}
	return drainRetryDelay
}

// drainAccess is what kubectl's drain does with the API, cluster-wide.
var drainAccess = []authorizationv1.ResourceAttributes{
	{Verb: "patch", Resource: "nodes"},
	{Verb: "list", Resource: "pods"},
	{Verb: "get", Resource: "pods"},
	{Verb: "create", Resource: "pods", Subresource: "eviction"},
}

// mayNotDrain asks the API server, through SelfSubjectAccessReviews,
// whether this identity may drain a node; "" when it may, else what it
// lacks or why the API server did not answer.
func (k kubeNodes) mayNotDrain(ctx context.Context) string {
	for _, attr := range drainAccess {
		r, err := k.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attr}}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Sprintf("the API server does not answer whether this identity may drain: %v", err)
		}
		if !r.Status.Allowed {
			what := attr.Resource
			if attr.Subresource != "" {
				what += "/" + attr.Subresource
			}
			return fmt.Sprintf("this identity may not %s %s in every namespace, which draining needs: grant it (kubeadm's admin.conf gets it from the ClusterRoleBinding kubeadm:cluster-admins to cluster-admin)", attr.Verb, what)
		}
	}
	return ""
}

// blockingBudgets names the PodDisruptionBudgets that select a pod still
// on the node and allow no disruption now.
func (k kubeNodes) blockingBudgets(ctx context.Context, node string) ([]string, error) {
	pods, err := k.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return nil, fmt.Errorf("listing the pods on node %s: %w", node, err)
	}
	budgets := map[string][]policyv1.PodDisruptionBudget{}
	var order []string
	protects := map[string][]string{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Spec.NodeName != node {
			continue
		}
		if _, ok := budgets[p.Namespace]; !ok {
			l, err := k.client.PolicyV1().PodDisruptionBudgets(p.Namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("listing PodDisruptionBudgets in %s: %w", p.Namespace, err)
			}
			budgets[p.Namespace] = l.Items
		}
		for _, b := range budgets[p.Namespace] {
			sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(p.Labels)) || b.Status.DisruptionsAllowed > 0 {
				continue
			}
			key := fmt.Sprintf("%s/%s (%d disruptions allowed: %d of %d pods healthy, %d needed", b.Namespace, b.Name,
				b.Status.DisruptionsAllowed, b.Status.CurrentHealthy, b.Status.ExpectedPods, b.Status.DesiredHealthy)
			if _, ok := protects[key]; !ok {
				order = append(order, key)
			}
			protects[key] = append(protects[key], p.Name)
		}
	}
	var out []string
	for _, key := range order {
		out = append(out, key+"; on the node: "+strings.Join(protects[key], ", ")+")")
	}
	return out, nil
}
