package lab

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/lab"
	"github.com/kforge/kforge/internal/testutil/textlines"
)

// wantNodes is the Up scenario's cluster: one control plane, two workers.
const wantNodes = 3

// userDataLog is where the production user data sends its output (and the
// agent's, which it execs).
const userDataLog = "/var/log/kforge-user-data.log"

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s; last state: %s", what, timeout, last)
		}
		time.Sleep(3 * time.Second)
	}
}

// upPassed is set when Up passed; the scenarios that need a Ready cluster
// skip without it, saying so (and are not counted as passed).
var upPassed bool

func needReady(t *testing.T) *cluster {
	t.Helper()
	c := needCluster(t)
	if !upPassed {
		t.Skip("SKIP (not a pass): needs the Ready cluster of the Up scenario, which did not pass")
	}
	return c
}

// TestUp: the local cluster applied to the emulator inside the lab; every
// instance its Auto Scaling Groups launch boots as a node, runs the
// production user data (agent fetched from the certs bucket, SHA-256
// checked) and the agent; every node becomes Ready.
func TestUp(t *testing.T) {
	scenario(t, "Up")
	c := needCluster(t)
	ctx := context.Background()
	waitFor(t, 10*time.Minute, "every instance of the cluster booted as a lab node", func() (bool, string, error) {
		n := len(c.Fleet.Nodes())
		return n >= wantNodes, fmt.Sprintf("%d of %d nodes booted", n, wantNodes), nil
	})
	nodes := c.Fleet.Nodes()
	if len(nodes) != wantNodes {
		t.Fatalf("the emulator runs %d instances for the cluster, want %d", len(nodes), wantNodes)
	}
	// The production user data fetched the agent, checked it and started it
	// with this instance's identity, read through its IMDSv2.
	for id, n := range nodes {
		waitFor(t, 5*time.Minute, "node "+id+": the user data started the agent", func() (bool, string, error) {
			if !n.Running() {
				return false, "", fmt.Errorf("the node is no longer running; its console ends:\n%s", consoleTail(n))
			}
			log := agentLog(ctx, n)
			return strings.Contains(log, `"msg":"agent starting"`) && strings.Contains(log, `"instance":"`+id+`"`), textlines.Last(log, 5), nil
		})
	}
	// Every agent finishes its phases: "node ready", or the phase that failed.
	for id, n := range nodes {
		waitFor(t, 20*time.Minute, "node "+id+": the agent's phases", func() (bool, string, error) {
			if !n.Running() {
				return false, "", fmt.Errorf("the node is no longer running; its console ends:\n%s", consoleTail(n))
			}
			// A failed phase is retried by the bootstrap unit (and the
			// node powered off past the ready deadline); the wait's
			// timeout bounds it and the last lines say where it stands.
			log := agentLog(ctx, n)
			if strings.Contains(log, `"msg":"node ready"`) {
				return true, "", nil
			}
			return false, textlines.Last(log, 5), nil
		})
	}
	readyIn := time.Since(c.upStart)
	// kforge validate against the real API server, through the host's
	// loopback forward: every node Ready, every instance a Node, every NLB
	// target healthy.
	port, err := c.apiPort()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.kforge(ctx, "validate", "local", "--tunnel-port", port, "--wait", "5m", "--interval", "10s")
	t.Logf("kforge validate local:\n%s", textlines.Last(out, 20))
	if err != nil {
		t.Fatalf("kforge validate local: %v", err)
	}
	if n := strings.Count(out, "ready=true"); n != wantNodes {
		t.Fatalf("kforge validate local reports %d Ready nodes, want %d", n, wantNodes)
	}
	// Every instance of the groups found as a Node, by its provider ID.
	if want := fmt.Sprintf("instances %d in the cluster's groups, 0 without a Node", wantNodes); !strings.Contains(out, want) {
		t.Fatalf("kforge validate local does not say %q:\n%s", want, out)
	}
	// The quota etcd runs with, off its mirror pod: the environment's.
	if !regexp.MustCompile(`(?m)^etcd database [0-9]+ MiB of its 2048 MiB quota$`).MatchString(out) || strings.Contains(out, "etcd quota: the environment sets") {
		t.Errorf("kforge validate local does not report the etcd database under the environment's 2048 MiB quota:\n%s", out)
	}
	// The snapshot the control plane's first backup uploaded, and the
	// certificates its kubeadm issued: a CA for ten years, the admin's and
	// the API server's (read in the TLS handshake) for one.
	if !regexp.MustCompile(`(?m)^etcd backup controller/etcd/latest\.db taken [0-9hm]+ ago \([0-9]+ MiB; every 15m\)$`).MatchString(out) {
		t.Errorf("kforge validate local does not report the control plane's etcd backup:\n%s", out)
	}
	for _, want := range []string{`certificate cluster CA expires \S+ \((364[0-9]|365[0-9]) days\)`, `certificate admin client certificate expires \S+ \(36[45] days\)`, `certificate API server serving certificate expires \S+ \(36[45] days\)`} {
		if !regexp.MustCompile(`(?m)^` + want + `$`).MatchString(out) {
			t.Errorf("kforge validate local does not report %s:\n%s", want, out)
		}
	}
	// The image every group boots (envs/local.yaml's amiID), as EC2 describes it.
	if !regexp.MustCompile(`(?m)^image ami-760aaa0f available \(control-plane, `).MatchString(out) {
		t.Errorf("kforge validate local does not report the nodes' image as available:\n%s", out)
	}
	// Every kubelet holds logind's delay lock for its graceful node
	// shutdown (kubeadm.ShutdownGracePeriod), with logind's maximum delay
	// raised to it: a poweroff waits while the kubelet stops the pods.
	for id, n := range nodes {
		locks, err := n.Exec(ctx, "systemd-inhibit", "--list", "--no-pager", "--no-legend")
		if err != nil || !regexp.MustCompile(`(?m)^\s*kubelet\s.*Kubelet needs time to handle node shutdown\s+delay\s*$`).MatchString(locks) {
			t.Errorf("node %s: no delay lock of the kubelet's graceful shutdown (%v):\n%s", id, err, locks)
		}
	}
	results.Lock()
	results.ready = len(nodes)
	results.readyIn = readyIn
	results.Unlock()
	// The cluster is Ready: the later scenarios may run even if an add-on
	// check below fails (which fails Up).
	upPassed = true
	checkAddons(t, c)
}

// agentLog is what the user data and the agent wrote: the user data's log
// (it starts kforge-bootstrap.service) and the bootstrap unit's journal.
func agentLog(ctx context.Context, n *lab.Instance) string {
	ud, _ := n.Exec(ctx, "cat", userDataLog)
	j, _ := n.Exec(ctx, "journalctl", "-u", "kforge-bootstrap.service", "--no-pager", "-o", "cat")
	return ud + j
}

// consoleTail is the end of a node's console, where the agent's journal
// lines and the shutdown show.
func consoleTail(n *lab.Instance) string {
	b, err := os.ReadFile(n.Console)
	if err != nil {
		return err.Error()
	}
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "kforge") || strings.Contains(line, "Power") {
			keep = append(keep, line)
		}
	}
	return textlines.Last(strings.Join(keep, "\n"), 12)
}

// TestLateJoin: a worker launched after the bootstrap token was rotated
// joins. The lab's nodes run with a short token lifetime (labTokenTTL, the
// lab setting tokenTTL) and a refresh timer to match; the token the first
// workers joined with must be gone from the cluster before the late worker
// launches, and the late worker must join with another one.
func TestLateJoin(t *testing.T) {
	scenario(t, "LateJoin")
	c := needReady(t)
	ctx := context.Background()
	ctrlID, _, kc := c.admin(t, ctx)
	used := map[string]string{}
	for id, n := range c.Fleet.Nodes() {
		if id == ctrlID {
			continue
		}
		tok := joinTokenID(agentLog(ctx, n))
		if tok == "" {
			t.Fatalf("worker %s: its agent logged no bootstrap token id when it joined", id)
		}
		used[tok] = id
	}
	if len(used) == 0 {
		t.Fatal("no worker of the Up scenario to take the token from")
	}
	waitFor(t, labTokenTTL+3*time.Minute, fmt.Sprintf("the first workers' tokens %v gone from the cluster (TTL %s)", keys(used), labTokenTTL), func() (bool, string, error) {
		left := []string{}
		for tok := range used {
			out, err := c.kubectl(ctx, kc, "-n", "kube-system", "get", "secret", "bootstrap-token-"+tok, "-o", "name")
			if err == nil || !strings.Contains(out+err.Error(), "NotFound") {
				left = append(left, tok)
			}
		}
		return len(left) == 0, fmt.Sprintf("still there: %v", left), nil
	})
	t.Logf("the tokens the first workers joined with (%v) are gone from kube-system", keys(used))
	before, err := c.groupInstances(ctx, workerGroup)
	if err != nil {
		t.Fatal(err)
	}
	id, n := c.launchWorker(t, ctx)
	c.waitNodeReady(t, ctx, kc, id, n)
	tok := joinTokenID(agentLog(ctx, n))
	if tok == "" || used[tok] != "" {
		t.Fatalf("the late worker %s joined with token %q; want a rotated one, not one of %v", id, tok, keys(used))
	}
	t.Logf("late worker %s (%s) joined Ready with the rotated token %s", id, nodeName(n.Spec), tok)
	c.scaleBackIn(t, ctx, len(before))
}

// joinTokenID is the bootstrap token id a worker's agent logged on join.
func joinTokenID(log string) string {
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "joining with the published bootstrap token") {
			continue
		}
		if _, rest, ok := strings.Cut(l, `"token_id":"`); ok {
			id, _, _ := strings.Cut(rest, `"`)
			return id
		}
	}
	return ""
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSelfHeal: the control plane is terminated through the emulator; its
// replacement restores the CA and etcd, and its drainer replaces the
// worker that joined after the snapshot (its kubelet never registers its
// Node again).
func TestSelfHeal(t *testing.T) {
	scenario(t, "SelfHeal")
	c := needReady(t)
	ctx := context.Background()
	oldID, oldNode, err := c.controller(ctx)
	if err != nil || oldNode == nil {
		t.Fatalf("the control plane's node: %v", err)
	}
	kc := filepath.Join(t.TempDir(), "admin.conf")
	if err := c.adminKubeconfig(ctx, oldNode, kc); err != nil {
		t.Fatal(err)
	}
	// A ConfigMap, then a backup (the timer's own unit, run now). The timer
	// is stopped first: a scheduled backup after the late worker joined
	// would hold its Node.
	if out, err := oldNode.Exec(ctx, "systemctl", "stop", "kforge-backup.timer"); err != nil {
		t.Fatalf("stopping the backup timer: %v %s", err, out)
	}
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := c.kubectl(ctx, kc, "-n", "default", "create", "configmap", "kforge-lab-self-heal", "--from-literal=written="+stamp); err != nil {
		t.Fatal(err)
	}
	if out, err := oldNode.Exec(ctx, "systemctl", "start", "kforge-backup.service"); err != nil {
		log, _ := oldNode.Exec(ctx, "journalctl", "-u", "kforge-backup.service", "--no-pager", "-n", "20")
		t.Fatalf("backup: %v %s\n%s", err, out, log)
	}
	oldName := nodeName(oldNode.Spec)
	workers := []string{}
	conds, err := c.nodeConditions(ctx, kc)
	if err != nil {
		t.Fatal(err)
	}
	for name := range conds {
		if name != oldName {
			workers = append(workers, name)
		}
	}
	// A worker that joins after the snapshot, as one Cluster Autoscaler
	// adds between two backups.
	size, err := c.groupInstances(ctx, workerGroup)
	if err != nil {
		t.Fatal(err)
	}
	lateID, lateNode := c.launchWorker(t, ctx)
	c.waitNodeReady(t, ctx, kc, lateID, lateNode)
	// Terminate the control plane through the emulator's Auto Scaling API;
	// its group launches the replacement.
	start := time.Now()
	if _, err := c.Fleet.AutoScaling.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(oldID), ShouldDecrementDesiredCapacity: aws.Bool(false)}); err != nil {
		t.Fatalf("terminating the control plane %s: %v", oldID, err)
	}
	t.Logf("control plane %s (%s) terminated", oldID, oldName)
	var newID string
	waitFor(t, 5*time.Minute, "the control plane's group launched a replacement", func() (bool, string, error) {
		id, n, err := c.controller(ctx)
		if err != nil || id == oldID || n == nil {
			return false, fmt.Sprint(err), nil
		}
		newID = id
		return true, "", nil
	})
	// The API serves again, with the old kubeconfig: same CA, same admin
	// credentials (restored PKI), the record moved to the replacement.
	waitFor(t, 20*time.Minute, "the API server answers the old kubeconfig", func() (bool, string, error) {
		out, err := c.kubectl(ctx, kc, "get", "--raw", "/readyz")
		if err != nil {
			return false, textlines.Last(err.Error(), 2), nil
		}
		return strings.TrimSpace(out) == "ok", out, nil
	})
	restore := time.Since(start)
	t.Logf("control plane %s replaced by %s: the API served again %s after the termination", oldID, newID, restore.Round(time.Second))
	got, err := c.kubectl(ctx, kc, "-n", "default", "get", "configmap", "kforge-lab-self-heal", "-o", "jsonpath={.data.written}")
	if err != nil || got != stamp {
		t.Fatalf("the ConfigMap written before the backup: %q, %v; want %q", got, err, stamp)
	}
	newNode := c.Fleet.Nodes()[newID]
	waitFor(t, 15*time.Minute, "the replacement and the workers Ready, the old Node gone or not Ready", func() (bool, string, error) {
		conds, err := c.nodeConditions(ctx, kc)
		if err != nil {
			return false, err.Error(), nil
		}
		ok := newNode != nil && conds[nodeName(newNode.Spec)] == "True"
		for _, w := range workers {
			ok = ok && conds[w] == "True"
		}
		if s, present := conds[oldName]; present && s == "True" {
			ok = false
		}
		return ok, fmt.Sprint(conds), nil
	})
	// The late worker has no Node in the restored cluster; the new control
	// plane's drainer replaces it, keeping the group's size.
	var rejoined string
	waitFor(t, 15*time.Minute, "the drainer replaced "+lateID+", which joined after the snapshot", func() (bool, string, error) {
		now, err := c.groupInstances(ctx, workerGroup)
		if err != nil {
			return false, err.Error(), nil
		}
		rejoined = newInstance(now, size, lateID)
		return !slices.Contains(now, lateID) && rejoined != "" && c.Fleet.Nodes()[rejoined] != nil, fmt.Sprintf("instances %v", now), nil
	})
	c.waitNodeReady(t, ctx, kc, rejoined, c.Fleet.Nodes()[rejoined])
	journal, _ := newNode.Exec(ctx, "journalctl", "-u", "kforge-drain-events.service", "--no-pager", "-o", "cat")
	var replacedLines []string
	for _, l := range strings.Split(journal, "\n") {
		if strings.Contains(l, "worker replaced") || strings.Contains(l, "has no Node; replaced unless") {
			replacedLines = append(replacedLines, l)
		}
	}
	drainerLog := strings.Join(replacedLines, "\n")
	if !strings.Contains(drainerLog, "worker replaced") || !strings.Contains(drainerLog, lateID) {
		t.Errorf("the drainer's log does not name %s as replaced:\n%s", lateID, drainerLog)
	}
	t.Logf("worker %s (joined after the snapshot) replaced by %s, %s after the termination; the drainer logged:\n%s", lateID, rejoined, time.Since(start).Round(time.Second), drainerLog)
	c.scaleBackIn(t, ctx, len(size))
	results.Lock()
	results.restore, results.restored = restore, true
	results.Unlock()
}

// nodeName is the instance's Node object name: kubeadm registers a node
// under its full private DNS name (local-hostname in the metadata), not
// the short host name the instance carries.
func nodeName(s lab.InstanceSpec) string {
	if s.Metadata != nil && s.Metadata.Hostname != "" {
		return s.Metadata.Hostname
	}
	return s.Hostname
}

// TestFirstBootFault: S3 is unavailable for 60 s from the launch of a
// worker; the user data's download retries, the agent starts, and the
// node joins Ready. The node's log must show the failed fetch first.
func TestFirstBootFault(t *testing.T) {
	scenario(t, "FirstBootFault")
	c := needReady(t)
	ctx := context.Background()
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("SKIP (not a pass): iptables is not on PATH; the fault is an iptables rule in the node's namespace")
	}
	u, err := url.Parse(c.Fleet.Endpoint)
	if err != nil {
		t.Fatalf("the emulator's address in the VPC %q: %v", c.Fleet.Endpoint, err)
	}
	_, _, kc := c.admin(t, ctx)
	before, err := c.groupInstances(ctx, workerGroup)
	if err != nil {
		t.Fatal(err)
	}
	fault := &s3Unreachable{host: u.Hostname(), port: u.Port()}
	c.Fleet.OnBoot(func(inst ec2types.Instance, spec *lab.InstanceSpec) error {
		id := aws.ToString(inst.InstanceId)
		if slices.Contains(before, id) || !inGroup(inst, workerGroup) {
			return nil
		}
		spec.Prepare = fault.prepare(aws.ToTime(inst.LaunchTime))
		return nil
	})
	defer c.Fleet.OnBoot(nil)
	id, n := c.launchWorker(t, ctx)
	c.Fleet.OnBoot(nil)
	lasted, err := fault.lift(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worker %s: the emulator (S3) unreachable from its namespace for %s after its launch", id, lasted.Round(time.Second))
	c.waitNodeReady(t, ctx, kc, id, n)
	ud, _ := n.Exec(ctx, "cat", userDataLog)
	failed := strings.Index(ud, "Could not connect to the endpoint URL")
	started := strings.Index(ud, "kforge-bootstrap.service started")
	if failed < 0 || started < 0 || failed > started {
		t.Fatalf("worker %s: its user data log does not show a failed S3 fetch before the agent started:\n%s", id, textlines.Last(ud, 20))
	}
	t.Logf("worker %s: the first S3 fetch failed (%q), the retry fetched the agent, and the node joined Ready",
		id, firstLine(ud[failed:]))
	c.scaleBackIn(t, ctx, len(before))
}

// TestScale: raising the worker group's desired capacity (as Cluster
// Autoscaler does) launches an instance that boots and joins Ready;
// lowering it terminates an instance, the control plane's drainer drains
// it through the group's termination lifecycle hook (the production path;
// the lab delivers the hook's event the emulator does not: hooks.go), its
// Node object disappears, and the lab stops the node. This is also issue
// 13's "scale-in removes the Node object" scenario.
func TestScale(t *testing.T) {
	scenario(t, "Scale")
	c := needReady(t)
	ctx := context.Background()
	t.Log("scenario Scale, also issue 13's: scale-in removes the Node object")
	ctrlID, ctrl, kc := c.admin(t, ctx)
	before, err := c.groupInstances(ctx, workerGroup)
	if err != nil {
		t.Fatal(err)
	}
	// Scale out.
	id, n := c.launchWorker(t, ctx)
	c.waitNodeReady(t, ctx, kc, id, n)
	t.Logf("scale out: %s raised to %d; instance %s booted and its node %s joined Ready", workerGroup, len(before)+1, id, nodeName(n.Spec))
	// Scale in: the group picks the instance to terminate.
	nodes := c.Fleet.Nodes()
	all := append(append([]string{}, before...), id)
	if err := c.setDesired(ctx, workerGroup, len(before)); err != nil {
		t.Fatal(err)
	}
	var gone string
	waitFor(t, 2*time.Minute, "the group terminated an instance", func() (bool, string, error) {
		now, err := c.groupInstances(ctx, workerGroup)
		if err != nil {
			return false, err.Error(), nil
		}
		for _, i := range all {
			if !slices.Contains(now, i) {
				gone = i
			}
		}
		return gone != "", fmt.Sprint(now), nil
	})
	goneNode := nodes[gone]
	if goneNode == nil {
		t.Fatalf("instance %s left the group but the lab had no node for it", gone)
	}
	name := nodeName(goneNode.Spec)
	t.Logf("scale in: %s lowered to %d; it terminated %s (node %s)", workerGroup, len(before), gone, name)
	waitFor(t, 12*time.Minute, "node "+name+": its Node object gone and the lab stopped it", func() (bool, string, error) {
		conds, err := c.nodeConditions(ctx, kc)
		if err != nil {
			return false, err.Error(), nil
		}
		_, present := conds[name]
		running := c.Fleet.Nodes()[gone] != nil
		return !present && !running, fmt.Sprintf("Node present %v, node running %v; nodes %v", present, running, conds), nil
	})
	// The drainer on the control plane removed it, from the lifecycle event.
	journal, _ := ctrl.Exec(ctx, "journalctl", "-u", "kforge-drain-events.service", "--no-pager", "-o", "cat")
	drained := ""
	for _, l := range strings.Split(journal, "\n") {
		if strings.Contains(l, "terminating instance: draining its node") && strings.Contains(l, gone) {
			drained = l
		}
	}
	if drained == "" {
		t.Fatalf("the drainer on %s did not drain %s from a lifecycle event; its journal ends:\n%s", ctrlID, gone, textlines.Last(journal, 15))
	}
	t.Logf("the drainer on the control plane: %s", drained)
	t.Logf("issue 13: scale-in removed the Node object %s (instance %s)", name, gone)
}

// admin returns the running control plane's instance id and node and an
// admin kubeconfig on the host for it, through the loopback forward.
func (c *cluster) admin(t *testing.T, ctx context.Context) (string, *lab.Instance, string) {
	t.Helper()
	id, n, err := c.controller(ctx)
	if err != nil || n == nil {
		t.Fatalf("the control plane's node: %v", err)
	}
	kc := filepath.Join(t.TempDir(), "admin.conf")
	if err := c.adminKubeconfig(ctx, n, kc); err != nil {
		t.Fatal(err)
	}
	return id, n, kc
}

// beforeControlPlaneRoll is what a scenario that replaces the control
// plane reads first: admin's three, the port the roll's --tunnel-port
// takes, and the workers Ready now, which must be Ready again after the
// replacement.
func (c *cluster) beforeControlPlaneRoll(t *testing.T, ctx context.Context) (id string, n *lab.Instance, kubeconfig, port string, workers []string) {
	t.Helper()
	id, n, kubeconfig = c.admin(t, ctx)
	port, err := c.apiPort()
	if err != nil {
		t.Fatal(err)
	}
	return id, n, kubeconfig, port, c.readyWorkers(t, ctx, kubeconfig, nodeName(n.Spec))
}

// replacedController is the control plane after a roll, which must be a
// new instance.
func (c *cluster) replacedController(t *testing.T, ctx context.Context, oldID string) (string, *lab.Instance) {
	t.Helper()
	id, n, err := c.controller(ctx)
	if err != nil || id == oldID || n == nil {
		t.Fatalf("the control plane after the roll: %q (%v), want a replacement of %s", id, err, oldID)
	}
	return id, n
}

// TestPoolRoll: issue 13's pool roll with a PodDisruptionBudget respected
// (daytwo_test.go). Here so that it runs after Scale and before Down.
func TestPoolRoll(t *testing.T) { poolRoll(t) }

// TestControlPlaneResize: issue 13's control-plane resize with the API
// downtime measured (daytwo_test.go).
func TestControlPlaneResize(t *testing.T) { controlPlaneResize(t) }

// TestRestoreSnapshot: the control plane rolled back to a snapshot of the
// history (restore_test.go).
func TestRestoreSnapshot(t *testing.T) { restoreSnapshot(t) }

// TestCertRenewal: the control plane renews kubeadm's certificates and
// restarts on them (certs_test.go).
func TestCertRenewal(t *testing.T) { certRenewal(t) }

// TestDown: `kforge down local` terminates every instance, the lab stops
// their nodes, and taking the lab down leaves no sandbox, namespace, mount,
// process or link behind.
func TestDown(t *testing.T) {
	scenario(t, "Down")
	c := needCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if out, err := c.kforge(ctx, "down", "local", "--yes"); err != nil {
		t.Fatalf("kforge down local: %v\n%s", err, textlines.Last(out, 30))
	}
	waitFor(t, 5*time.Minute, "every node stopped once its instance was terminated", func() (bool, string, error) {
		n := len(c.Fleet.Nodes())
		return n == 0, fmt.Sprintf("%d nodes still running", n), nil
	})
	id, inodes := c.ID, c.Net.Inodes()
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	left, err := lab.Inventory(id, inodes)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after down: %s", left)
	if left.Count() != 0 {
		t.Errorf("the lab left %s", left)
	}
	all, err := lab.Inventory("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if all.Count() != 0 {
		t.Errorf("lab leftovers on the machine: %s", all)
	}
}
