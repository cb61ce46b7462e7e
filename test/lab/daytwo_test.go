package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/lab"
	"github.com/kforge/kforge/internal/testutil/textlines"
)

// Issue 13's day-2 scenarios on the shared cluster: a pool roll that
// respects a PodDisruptionBudget, and a control-plane resize whose API
// downtime the roll measures. Each changes the lab's environment file, as
// an operator changes theirs, and applies it with `kforge up local`.

// rollPool is the pool the roll scenario replaces (workerGroup's).
const rollPool = "general"

// rollApp names the workload, its PodDisruptionBudget and its pods' label.
const rollApp = "kforge-lab-roll"

// clientset is a client-go client for the admin kubeconfig at kc.
func clientset(t *testing.T, kc string) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	rc.Timeout = 20 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// editEnv replaces old by new once in the lab's copy of envs/local.yaml.
func (c *cluster) editEnv(t *testing.T, old, new string) {
	t.Helper()
	path := filepath.Join(c.envsDir, "local.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("envs/local.yaml has no %q; update the scenario", old)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// up applies the lab's environment file.
func (c *cluster) up(t *testing.T, ctx context.Context) string {
	t.Helper()
	out, err := c.kforge(ctx, "up", "local", "--yes")
	if err != nil {
		t.Fatalf("kforge up local: %v\n%s", err, textlines.Last(out, 30))
	}
	return out
}

// pauseImage is the pause image containerd holds on the node (imported
// from the lab's package source; the lab has no registry).
func pauseImage(t *testing.T, ctx context.Context, n *lab.Instance) string {
	t.Helper()
	out, err := n.Exec(ctx, "ctr", "-n", "k8s.io", "images", "ls", "-q")
	if err != nil {
		t.Fatalf("listing the node's images: %v %s", err, out)
	}
	for _, l := range strings.Fields(out) {
		if strings.Contains(l, "/pause:") {
			return l
		}
	}
	t.Fatalf("no pause image on the node; it has:\n%s", out)
	return ""
}

// readyPods counts the workload's Ready pods not being deleted, by node.
func readyPods(pods []corev1.Pod) (int, map[string]int) {
	byNode := map[string]int{}
	n := 0
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				n++
				byNode[p.Spec.NodeName]++
			}
		}
	}
	return n, byNode
}

// podWatch follows the workload's pods during a roll: the fewest Ready
// pods seen, and when the first pod on the old node began to go.
type podWatch struct {
	mu        sync.Mutex
	pods      map[string]corev1.Pod
	minReady  int
	firstGone time.Time
	oldNode   string
	stop      func()
	done      chan struct{}
}

func watchPods(t *testing.T, ctx context.Context, cs kubernetes.Interface, oldNode string) *podWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + rollApp})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w := &podWatch{pods: map[string]corev1.Pod{}, oldNode: oldNode, stop: cancel, done: make(chan struct{})}
	for _, p := range list.Items {
		w.pods[p.Name] = p
	}
	w.minReady, _ = readyPods(list.Items)
	rv := list.ResourceVersion
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			wi, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=" + rollApp, ResourceVersion: rv})
			if err != nil {
				time.Sleep(time.Second)
				continue
			}
			for ev := range wi.ResultChan() {
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				rv = p.ResourceVersion
				w.mu.Lock()
				if ev.Type == watch.Deleted {
					delete(w.pods, p.Name)
				} else {
					w.pods[p.Name] = *p
				}
				if p.Spec.NodeName == w.oldNode && (p.DeletionTimestamp != nil || ev.Type == watch.Deleted) && w.firstGone.IsZero() {
					w.firstGone = time.Now()
				}
				all := make([]corev1.Pod, 0, len(w.pods))
				for _, q := range w.pods {
					all = append(all, q)
				}
				if n, _ := readyPods(all); n < w.minReady {
					w.minReady = n
				}
				w.mu.Unlock()
			}
		}
	}()
	return w
}

func (w *podWatch) end() (minReady int, firstGone time.Time) {
	w.stop()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.minReady, w.firstGone
}

// poolRoll is issue 13's "pool roll with a PodDisruptionBudget respected"
// (TestPoolRoll in scenarios_test.go, between Scale and Down).
func poolRoll(t *testing.T) {
	scenario(t, "PoolRoll")
	c := needReady(t)
	ctx := context.Background()
	start := time.Now()
	_, _, kc := c.admin(t, ctx)
	cs := clientset(t, kc)
	port, err := c.apiPort()
	if err != nil {
		t.Fatal(err)
	}
	// A new launch template version for the pool: its instance type.
	c.editEnv(t, "instanceTypes: [t3.medium]", "instanceTypes: [t3.large]")
	c.up(t, ctx)
	plan, err := c.kforge(ctx, "roll", "local", "--pool", rollPool, "--dry-run")
	if err != nil || !strings.Contains(plan, "instance type t3.medium -> t3.large") {
		t.Fatalf("kforge roll --dry-run after the up: %v\n%s", err, plan)
	}
	old, err := c.groupInstances(ctx, workerGroup)
	if err != nil || len(old) == 0 {
		t.Fatalf("the pool's instances: %v %v", old, err)
	}
	oldNodes := map[string]string{}
	for _, id := range old {
		n := c.Fleet.Nodes()[id]
		if n == nil {
			t.Fatalf("instance %s of %s has no lab node", id, workerGroup)
		}
		oldNodes[id] = nodeName(n.Spec)
	}
	first := c.Fleet.Nodes()[old[0]]
	image := pauseImage(t, ctx, first)

	// The workload: two pods on the pool's node, and a budget that
	// forbids any eviction.
	two, labels := int32(2), map[string]string{"app": rollApp}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: rollApp, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				NodeSelector: map[string]string{"kforge.io/pool": rollPool},
				Containers:   []corev1.Container{{Name: "pause", Image: image, ImagePullPolicy: corev1.PullNever}},
			}}},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.AppsV1().Deployments("default").Delete(context.Background(), rollApp, metav1.DeleteOptions{})
		_ = cs.PolicyV1().PodDisruptionBudgets("default").Delete(context.Background(), rollApp, metav1.DeleteOptions{})
	})
	zero := intstr.FromInt32(0)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: rollApp, Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &zero, Selector: &metav1.LabelSelector{MatchLabels: labels}}}
	if _, err := cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := func() []corev1.Pod {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + rollApp})
		if err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	waitFor(t, 5*time.Minute, "the workload's two pods Ready and the budget counting them", func() (bool, string, error) {
		n, byNode := readyPods(pods())
		b, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, rollApp, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return n == 2 && b.Status.CurrentHealthy == 2 && b.Status.DisruptionsAllowed == 0,
			fmt.Sprintf("ready %d %v; budget healthy %d allowed %d", n, byNode, b.Status.CurrentHealthy, b.Status.DisruptionsAllowed), nil
	})
	uids := map[string]string{}
	for _, p := range pods() {
		uids[string(p.UID)] = p.Spec.NodeName
	}

	// (a) The budget allows no eviction: the roll surges, the replacement
	// joins, the drain times out naming the budget, nothing is terminated.
	blockedStart := time.Now()
	out, err := c.kforge(ctx, "roll", "local", "--pool", rollPool, "--yes", "--tunnel-port", port, "--drain-timeout", "60s")
	blocked := time.Since(blockedStart)
	t.Logf("kforge roll local --pool %s --drain-timeout 60s (budget maxUnavailable 0):\n%s", rollPool, textlines.Last(out, 20))
	if err == nil {
		t.Fatal("the roll succeeded although the budget allows no eviction")
	}
	if !strings.Contains(out, "PodDisruptionBudget default/"+rollApp) || !strings.Contains(out, "did not finish within 1m0s") {
		t.Fatalf("the roll's error does not name the budget and the timeout:\n%s", out)
	}
	for _, p := range pods() {
		if uids[string(p.UID)] == "" || p.DeletionTimestamp != nil {
			t.Fatalf("pod %s (%s) is new or being deleted: the blocked roll touched the workload", p.Name, p.UID)
		}
	}
	if n, _ := readyPods(pods()); n != 2 {
		t.Fatalf("%d of the workload's 2 pods Ready after the blocked roll", n)
	}
	now, err := c.groupInstances(ctx, workerGroup)
	if err != nil {
		t.Fatal(err)
	}
	for id, name := range oldNodes {
		if !slices.Contains(now, id) {
			t.Fatalf("old instance %s left the group although its drain failed", id)
		}
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("old Node %s: %v", name, err)
		}
		if name == nodeName(first.Spec) && !n.Spec.Unschedulable {
			t.Fatalf("old Node %s is not cordoned after the failed drain (kubectl drain and kOps leave it cordoned)", name)
		}
	}
	if _, err := c.kubectl(ctx, kc, "get", "--raw", "/readyz"); err != nil {
		t.Fatalf("the API after the blocked roll: %v", err)
	}
	t.Logf("(a) blocked: exit error after %s, both pods untouched on %s, which stays cordoned and in service", blocked.Round(time.Second), oldNodes[old[0]])

	// (b) The budget allows one: the roll resumes and completes.
	one := intstr.FromInt32(1)
	b, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, rollApp, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Spec.MaxUnavailable = &one
	if _, err := cs.PolicyV1().PodDisruptionBudgets("default").Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "the budget allowing one disruption", func() (bool, string, error) {
		b, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, rollApp, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return b.Status.DisruptionsAllowed == 1, fmt.Sprintf("allowed %d", b.Status.DisruptionsAllowed), nil
	})
	w := watchPods(t, ctx, cs, oldNodes[old[0]])
	out, err = c.kforge(ctx, "roll", "local", "--pool", rollPool, "--yes", "--tunnel-port", port, "--drain-timeout", "5m")
	minReady, firstGone := w.end()
	t.Logf("kforge roll local --pool %s (budget maxUnavailable 1):\n%s", rollPool, textlines.Last(out, 25))
	if err != nil {
		t.Fatalf("the roll with a budget that allows one eviction: %v", err)
	}
	if minReady < 1 {
		t.Fatalf("the workload had %d Ready pods during the roll; its budget needs 1", minReady)
	}
	now, err = c.groupInstances(ctx, workerGroup)
	if err != nil {
		t.Fatal(err)
	}
	var fresh []string
	for _, id := range now {
		if _, was := oldNodes[id]; was {
			t.Fatalf("old instance %s is still in %s after the roll", id, workerGroup)
		}
		fresh = append(fresh, id)
	}
	if len(fresh) != len(old) {
		t.Fatalf("%s holds %v after the roll, want %d instances", workerGroup, fresh, len(old))
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		for id, name := range oldNodes {
			if n.Name == name {
				t.Fatalf("old Node %s (instance %s) is still there after the roll", name, id)
			}
		}
	}
	// Each replacement became Ready before the old node's first pod went.
	for _, id := range fresh {
		rn := c.Fleet.Nodes()[id]
		if rn == nil {
			t.Fatalf("replacement %s has no lab node", id)
		}
		n, err := cs.CoreV1().Nodes().Get(ctx, nodeName(rn.Spec), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("replacement Node %s: %v", nodeName(rn.Spec), err)
		}
		var readySince time.Time
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				readySince = cond.LastTransitionTime.Time
			}
		}
		if readySince.IsZero() || (!firstGone.IsZero() && !readySince.Before(firstGone)) {
			t.Fatalf("replacement %s Ready since %v, the old node's first pod went at %v: not Ready first", id, readySince, firstGone)
		}
	}
	waitFor(t, 5*time.Minute, "the workload's two pods Ready on the replacement", func() (bool, string, error) {
		n, byNode := readyPods(pods())
		return n == 2, fmt.Sprint(byNode), nil
	})
	if dry, err := c.kforge(ctx, "roll", "local", "--pool", rollPool, "--dry-run"); err != nil || !strings.Contains(dry, "0 instance(s) to replace") {
		t.Fatalf("kforge roll --dry-run after the roll: %v\n%s", err, dry)
	}
	evicted := regexp.MustCompile(`evicted pod default/`+rollApp).FindAllString(out, -1)
	line := fmt.Sprintf("pool roll %s: %v -> %v; budget maxUnavailable 0: drain timed out naming it, nothing terminated (%s); maxUnavailable 1: %d pod(s) evicted, at least %d of 2 Ready throughout, old Node gone, dry run 0 to replace; %s",
		rollPool, old, fresh, blocked.Round(time.Second), len(evicted), minReady, time.Since(start).Round(time.Second))
	t.Log(line)
	note("PoolRoll", fmt.Sprintf("blocked by its budget, then %d pod(s) evicted, >= %d of 2 Ready throughout", len(evicted), minReady))
}

// notes are one-line scenario summaries printed with the outcomes.
var notes = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

func note(name, line string) {
	notes.Lock()
	notes.m[name] = line
	notes.Unlock()
}

// downtimeLine is what kforge roll prints about the API downtime.
var downtimeLine = regexp.MustCompile(`Kubernetes API downtime measured: ([0-9hms.]+)`)

// controlPlaneResize is issue 13's "control-plane resize with downtime
// measured" (wrapped in scenarios_test.go).
func controlPlaneResize(t *testing.T) {
	scenario(t, "ControlPlaneResize")
	c := needReady(t)
	ctx := context.Background()
	start := time.Now()
	oldID, oldNode, kc, port, workers := c.beforeControlPlaneRoll(t, ctx)
	oldName := nodeName(oldNode.Spec)
	// The new instance type only changes the launch template: the running
	// control plane stays.
	c.editEnv(t, "  instanceType: t3.medium\n", "  instanceType: t3.large\n")
	c.up(t, ctx)
	if id, _, err := c.controller(ctx); err != nil || id != oldID {
		t.Fatalf("after the up the control plane is %q (%v), want the same instance %s: an up must never replace it", id, err, oldID)
	}
	plan, err := c.kforge(ctx, "roll", "local", "--control-plane", "--dry-run")
	if err != nil || !strings.Contains(plan, "instance type t3.medium -> t3.large") {
		t.Fatalf("kforge roll --control-plane --dry-run after the up: %v\n%s", err, plan)
	}
	// Written right before the roll: the snapshot the roll takes first
	// must hold it.
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := c.kubectl(ctx, kc, "-n", "default", "create", "configmap", "kforge-lab-cp-resize", "--from-literal=written="+stamp); err != nil {
		t.Fatal(err)
	}
	out, err := c.kforge(ctx, "roll", "local", "--control-plane", "--yes", "--tunnel-port", port)
	t.Logf("kforge roll local --control-plane:\n%s", textlines.Last(out, 25))
	if err != nil {
		t.Fatalf("kforge roll local --control-plane: %v", err)
	}
	if !strings.Contains(out, "taken right before "+oldID+" was terminated") {
		t.Fatalf("the roll reports no snapshot before the termination:\n%s", out)
	}
	m := downtimeLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the roll reports no measured API downtime:\n%s", out)
	}
	downtime, err := time.ParseDuration(m[1])
	if err != nil || downtime <= 0 {
		t.Fatalf("the reported downtime %q is not a positive duration: %v", m[1], err)
	}
	newID, newNode := c.replacedController(t, ctx, oldID)
	// The replacement deletes the old control plane's restored Node
	// before its CNI, or else the roll does: right after it, no Node of
	// the terminated instance is left for the drainer's scan to find
	// minutes later.
	deleted, gone := "control-plane: Node "+oldName+" of terminated "+oldID+" deleted", "control-plane: no Node of terminated "+oldID+" is left"
	if !strings.Contains(out, deleted) && !strings.Contains(out, gone) {
		t.Fatalf("the roll says neither %q nor %q:\n%s", deleted, gone, out)
	}
	if newName := nodeName(newNode.Spec); newName == oldName {
		t.Fatalf("the replacement %s has the old control plane's Node name %s: the old Node cannot be told apart", newID, oldName)
	}
	after, err := c.nodeConditions(ctx, kc)
	if err != nil {
		t.Fatal(err)
	}
	if ready, ok := after[oldName]; ok {
		t.Fatalf("right after the roll the old control plane's Node %s (of terminated %s) is still there (Ready %s): %v", oldName, oldID, ready, after)
	}
	got, err := c.kubectl(ctx, kc, "-n", "default", "get", "configmap", "kforge-lab-cp-resize", "-o", "jsonpath={.data.written}")
	if err != nil || got != stamp {
		t.Fatalf("the ConfigMap written just before the roll: %q, %v; want %q (the planned-replacement RPO)", got, err, stamp)
	}
	c.waitNodesReady(t, ctx, kc, "the replacement and the workers Ready", append(workers, nodeName(newNode.Spec))...)
	desc, err := c.Fleet.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{newID}})
	if err != nil || len(desc.Reservations) != 1 || len(desc.Reservations[0].Instances) != 1 {
		t.Fatalf("describing the replacement %s: %v", newID, err)
	}
	if typ := desc.Reservations[0].Instances[0].InstanceType; typ != ec2types.InstanceTypeT3Large {
		t.Fatalf("the replacement %s is a %s, want t3.large", newID, typ)
	}
	secs := int(downtime.Round(time.Second) / time.Second)
	line := fmt.Sprintf("control-plane resize t3.medium -> t3.large: %s -> %s (the up kept %s); snapshot before the termination, ConfigMap written just before it restored; API downtime %d s (measured by kforge roll); old Node %s deleted by the roll; workers Ready; %s",
		oldID, newID, oldID, secs, oldName, time.Since(start).Round(time.Second))
	t.Log(line)
	note("ControlPlaneResize", "API downtime "+strconv.Itoa(secs)+" s")
	if _, err := c.kubectl(ctx, kc, "-n", "default", "delete", "configmap", "kforge-lab-cp-resize"); err != nil {
		t.Logf("deleting the scenario's ConfigMap: %v", err)
	}
}
