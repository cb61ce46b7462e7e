package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/kubeadm"
	"github.com/kforge/kforge/internal/lab"
	"github.com/kforge/kforge/internal/testutil/textlines"
)

// upgradeNodes is the Upgrade scenario's cluster: the control plane and
// one worker in each of the two pools.
const upgradeNodes = 3

// upgradeResult is what the summary line reports of the Upgrade scenario.
var upgradeResult struct {
	from, to           string
	controlPlane, roll time.Duration
}

// TestUpgrade: a lab cluster of its own at the older supported minor
// (its newest patch the module proxy serves), upgraded with `kforge
// upgrade local --to <newer>` exactly as on AWS: the version recorded and
// applied, the control plane's kforge-upgrade.timer snapshots etcd and runs
// `kubeadm upgrade apply` with the new kubeadm (the package source serves
// both releases; the repository file the agent rewrites picks the minor),
// then every worker rolled onto the new launch template version. The API
// server and every kubelet report the new release, a ConfigMap written
// before survives, the snapshot taken before kubeadm ran holds it, and
// plan shows no change afterwards.
func TestUpgrade(t *testing.T) {
	scenario(t, "Upgrade")
	needLabHost(t)
	if shared != nil && !shared.closed {
		// One lab at a time: this scenario brings up a cluster of its own.
		if err := shared.close(); err != nil {
			t.Logf("taking the shared lab down first: %v", err)
		}
	}
	releases := config.SupportedKubernetesVersions()
	if len(releases) < 2 {
		t.Fatalf("the supported table has %d minors; the upgrade needs two", len(releases))
	}
	older, newer := releases[len(releases)-2].Minor, releases[len(releases)-1].Minor
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Minute)
	defer cancel()

	c, err := startAndApply(ctx, older, newer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		id, inodes := c.ID, c.Net.Inodes()
		if err := c.close(); err != nil {
			t.Errorf("taking the upgrade's lab down: %v", err)
		}
		if left, err := lab.Inventory(id, inodes); err != nil || left.Count() != 0 {
			t.Errorf("the upgrade's lab left %v (%v)", left, err)
		}
	})
	from, to := c.Fleet.Packages.Kubernetes, c.Fleet.MoreReleases[0].Kubernetes
	upgradeResult.from, upgradeResult.to = from, to
	t.Logf("package source: Kubernetes %s and %s", from, to)

	// Every node Ready at the older release.
	waitFor(t, 10*time.Minute, "every instance booted as a lab node", func() (bool, string, error) {
		n := len(c.Fleet.Nodes())
		return n >= upgradeNodes, fmt.Sprintf("%d of %d nodes booted", n, upgradeNodes), nil
	})
	for id, n := range c.Fleet.Nodes() {
		waitFor(t, 20*time.Minute, "node "+id+": the agent's phases", func() (bool, string, error) {
			if !n.Running() {
				return false, "", fmt.Errorf("the node is no longer running; its console ends:\n%s", consoleTail(n))
			}
			log := agentLog(ctx, n)
			return strings.Contains(log, `"msg":"node ready"`), textlines.Last(log, 5), nil
		})
	}
	_, _, kc := c.admin(t, ctx)
	client := clientset(t, kc)
	waitFor(t, 5*time.Minute, fmt.Sprintf("%d Nodes Ready, kubelets at v%s", upgradeNodes, from), func() (bool, string, error) {
		v, err := kubeletVersions(ctx, client)
		return err == nil && len(v) == upgradeNodes && allEqual(v, "v"+from+" Ready"), fmt.Sprint(v, err), nil
	})
	if got := serverVersion(t, client); got != "v"+from {
		t.Fatalf("the API server reports %s before the upgrade, want v%s", got, from)
	}
	// containerd runs pod sandboxes on the pause kubeadm names for the
	// release (1.35: 3.10.1), not on its own default (3.10.2): every node
	// holds both, as the registry serves both. A worker can be Ready before
	// any pod is scheduled on it (the add-on apply's DaemonSets come after),
	// so each node is given time for its first sandbox; a sandbox on
	// another pause fails at once.
	for id, n := range c.Fleet.Nodes() {
		want, err := kubeadmsPause(ctx, n, from)
		if err != nil {
			t.Fatalf("node %s: %v", id, err)
		}
		waitFor(t, 5*time.Minute, "node "+id+": a pod sandbox on kubeadm's pause", func() (bool, string, error) {
			sandboxes, listing, err := sandboxesOnPause(ctx, n, want)
			return sandboxes > 0, "no pod sandbox yet; containerd's containers:\n" + listing, err
		})
	}

	// Written before: it must survive the upgrade and be in its snapshot.
	var b [8]byte
	_, _ = rand.Read(b[:])
	marker := "kforge-lab-upgrade-" + hex.EncodeToString(b[:])
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kforge-lab-upgrade"}, Data: map[string]string{"marker": marker}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("writing the ConfigMap: %v", err)
	}

	port, err := c.apiPort()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tw := &timedWriter{start: start}
	cmd := exec.CommandContext(ctx, kforgeBin, "upgrade", "local", "--to", to, "--yes", "--tunnel-port", port,
		"--endpoint", c.Emulator.URL, "--envs-dir", c.envsDir, "--workdir", c.workDir)
	cmd.Env = append(os.Environ(), "KFORGE_ENDPOINT=")
	if os.Getenv("KFORGE_PLUGIN_DIR") == "" {
		if _, err := os.Stat("/opt/tf-plugins"); err == nil {
			cmd.Env = append(cmd.Env, "KFORGE_PLUGIN_DIR=/opt/tf-plugins")
		}
	}
	cmd.Stdin = strings.NewReader("")
	cmd.Stdout, cmd.Stderr = tw, tw
	err = cmd.Run()
	total := time.Since(start)
	out := tw.String()
	t.Logf("kforge upgrade local --to %s:\n%s", to, textlines.Last(out, 40))
	if err != nil {
		controlPlaneDiagnostics(t, ctx, c)
		t.Fatalf("kforge upgrade local --to %s: %v", to, err)
	}
	cpAt, ok := tw.mark("upgrade: control plane upgraded")
	if !ok {
		t.Fatalf("kforge upgrade did not confirm the control plane through the API server")
	}
	upgradeResult.controlPlane, upgradeResult.roll = cpAt, total-cpAt

	// The API server and every kubelet at the new release, no Node left
	// behind by the roll.
	if got := serverVersion(t, client); got != "v"+to {
		t.Errorf("the API server reports %s after the upgrade, want v%s", got, to)
	}
	waitFor(t, 5*time.Minute, fmt.Sprintf("%d Nodes Ready, kubelets at v%s", upgradeNodes, to), func() (bool, string, error) {
		v, err := kubeletVersions(ctx, client)
		return err == nil && len(v) == upgradeNodes && allEqual(v, "v"+to+" Ready"), fmt.Sprint(v, err), nil
	})
	cm, err := client.CoreV1().ConfigMaps("default").Get(ctx, "kforge-lab-upgrade", metav1.GetOptions{})
	if err != nil || cm.Data["marker"] != marker {
		t.Errorf("the ConfigMap written before the upgrade: %v, data %v; want marker %s", err, cm.Data, marker)
	}

	// The control plane's agent snapshotted etcd before kubeadm upgrade
	// apply, and the snapshot in the bucket holds what was written before.
	_, cp, err := c.controller(ctx)
	if err != nil || cp == nil {
		t.Fatalf("the control plane's node: %v", err)
	}
	journal, _ := cp.Exec(ctx, "journalctl", "-u", "kforge-upgrade.service", "--no-pager", "-o", "cat")
	order := []string{`"msg":"upgrading the control plane"`, `"msg":"backup uploaded"`, `"msg":"control plane upgraded"`}
	at := 0
	for _, want := range order {
		i := strings.Index(journal[at:], want)
		if i < 0 {
			t.Fatalf("the control plane's kforge-upgrade journal lacks %s after position %d (want %q in order); it ends:\n%s", want, at, order, textlines.Last(journal, 30))
		}
		at += i + len(want)
	}
	checkSnapshot(t, ctx, c, start, marker)

	// A later plan agrees with what the upgrade applied.
	if out, err := c.kforge(ctx, "plan", "local", "--detailed-exitcode"); err != nil {
		t.Errorf("kforge plan local after the upgrade shows changes or failed: %v\n%s", err, textlines.Last(out, 30))
	}
	line := fmt.Sprintf("%s -> %s: control plane upgraded %d s after kforge upgrade started (apply, the agent's timer, snapshot, kubeadm upgrade apply, drain, kubelet), %d workers rolled in %d s",
		from, to, int(cpAt.Seconds()), upgradeNodes-1, int(upgradeResult.roll.Seconds()))
	t.Log("upgrade " + line)
	note("Upgrade", line)
}

// controlPlaneDiagnostics logs, from the control plane's node, what a
// failed upgrade needs read first: the API server's refusals in the audit
// log (user, groups, decision), the running containers, the upgrade's and
// the kubelet's journals, and what the node's admin identity may do now.
func controlPlaneDiagnostics(t *testing.T, ctx context.Context, c *cluster) {
	t.Helper()
	_, cp, err := c.controller(ctx)
	if err != nil || cp == nil {
		t.Logf("diagnostics: no control plane node: %v", err)
		return
	}
	for _, args := range [][]string{
		{"sh", "-c", `grep -h '"authorization.k8s.io/decision":"forbid"' /var/log/kubernetes/audit/audit.log* | tail -n 4`},
		{"sh", "-c", `grep -h '"subresource":"eviction"' /var/log/kubernetes/audit/audit.log* | tail -n 2`},
		// crictl is not installed on the nodes; containerd's own client is.
		{"sh", "-c", "ctr -n k8s.io tasks ls | grep -v pause"},
		{"journalctl", "-u", "kforge-upgrade.service", "--no-pager", "-o", "cat", "-n", "60"},
		{"journalctl", "-u", "kubelet.service", "--no-pager", "-o", "cat", "-n", "30"},
		{"kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "auth", "whoami"},
		{"kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "auth", "can-i", "get", "pods", "-n", "kube-system"},
		{"kubectl", "--kubeconfig", "/etc/kubernetes/super-admin.conf", "get", "clusterrolebindings", "-o", "wide"},
		{"sh", "-c", "grep -n -e authorization -e image: /etc/kubernetes/manifests/kube-apiserver.yaml"},
	} {
		out, err := cp.Exec(ctx, args[0], args[1:]...)
		t.Logf("diagnostics: %s (%v):\n%s", strings.Join(args, " "), err, textlines.Last(out, 40))
	}
}

func serverVersion(t *testing.T, client kubernetes.Interface) string {
	t.Helper()
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("the API server's version: %v", err)
	}
	return v.GitVersion
}

// kubeletVersions maps each Node to "<kubelet version> <Ready status>".
func kubeletVersions(ctx context.Context, client kubernetes.Interface) (map[string]string, error) {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, n := range nodes.Items {
		ready := "NotReady"
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = "Ready"
			}
		}
		out[n.Name] = n.Status.NodeInfo.KubeletVersion + " " + ready
	}
	return out, nil
}

func allEqual(m map[string]string, want string) bool {
	for _, v := range m {
		if v != want {
			return false
		}
	}
	return true
}

// checkSnapshot finds the first etcd snapshot the control plane uploaded
// after the upgrade began (the history copy of its pre-upgrade backup) and
// checks that it holds the marker written before.
func checkSnapshot(t *testing.T, ctx context.Context, c *cluster, after time.Time, marker string) {
	t.Helper()
	cfg, err := awsx.Config(ctx, "us-east-1", c.Emulator.URL)
	if err != nil {
		t.Fatal(err)
	}
	s3c := awsx.S3Client(cfg, c.Emulator.URL)
	buckets, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var bucket string
	for _, b := range buckets.Buckets {
		if strings.HasPrefix(aws.ToString(b.Name), clusterName+"-certs") {
			bucket = aws.ToString(b.Name)
		}
	}
	if bucket == "" {
		t.Fatalf("no certs bucket %s-certs-* on the emulator", clusterName)
	}
	list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(certstore.EtcdHistoryPrefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		// The history's keys carry the snapshot's time, to the second.
		if aws.ToTime(o.LastModified).After(after.Add(-time.Second)) {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		t.Fatalf("no etcd snapshot in s3://%s/%s since the upgrade began", bucket, certstore.EtcdHistoryPrefix)
	}
	obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(keys[0])})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	snap, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(snap, []byte(marker)) {
		t.Errorf("the snapshot s3://%s/%s (%d bytes), the first after the upgrade began, does not hold the ConfigMap written before it", bucket, keys[0], len(snap))
	}
	t.Logf("pre-upgrade etcd snapshot s3://%s/%s (%d bytes) holds the ConfigMap", bucket, keys[0], len(snap))
}

// timedWriter keeps a command's output and when each line came.
type timedWriter struct {
	mu    sync.Mutex
	start time.Time
	buf   bytes.Buffer
	lines []timedLine
	part  string
}

type timedLine struct {
	at   time.Duration
	text string
}

func (w *timedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.part += string(p)
	for {
		i := strings.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		w.lines = append(w.lines, timedLine{time.Since(w.start), w.part[:i]})
		w.part = w.part[i+1:]
	}
	return len(p), nil
}

// mark is when the first line containing s came.
func (w *timedWriter) mark(s string) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if strings.Contains(l.text, s) {
			return l.at, true
		}
	}
	return 0, false
}

func (w *timedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// kubeadmsPause is the pause image the node's kubeadm names for version.
func kubeadmsPause(ctx context.Context, n *lab.Instance, version string) (string, error) {
	list, err := n.Exec(ctx, "kubeadm", kubeadm.ImagesListArgs(version)...)
	if err != nil {
		return "", fmt.Errorf("kubeadm's images: %w: %s", err, list)
	}
	return kubeadm.Image(kubeadm.ParseImages(list), "pause")
}

// sandboxesOnPause counts the node's pod sandboxes (the containers of a
// pause image), with containerd's listing, and fails when one runs another
// pause than want, kubeadm's.
func sandboxesOnPause(ctx context.Context, n *lab.Instance, want string) (sandboxes int, listing string, err error) {
	out, err := n.Exec(ctx, "ctr", "-n", "k8s.io", "containers", "ls")
	if err != nil {
		return 0, "", fmt.Errorf("listing containerd's containers: %w: %s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.Contains(f[1], "/pause:") {
			continue
		}
		if f[1] != want {
			return 0, out, fmt.Errorf("pod sandbox %s runs %s, want kubeadm's %s; containerd's containers:\n%s", f[0], f[1], want, out)
		}
		sandboxes++
	}
	return sandboxes, out, nil
}
