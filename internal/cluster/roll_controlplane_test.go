package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/testutil/kubeapi"
	"github.com/kforge/kforge/internal/wait"
)

// bindClusterAdmins binds kubeadm's admin group, kubeadm:cluster-admins,
// to the ClusterRole role, as kubeadm binds it to cluster-admin.
func bindClusterAdmins(t *testing.T, admin kubernetes.Interface, role string) {
	t.Helper()
	_, err := admin.RbacV1().ClusterRoleBindings().Create(context.Background(), &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:cluster-admins"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "kubeadm:cluster-admins"}}}, metav1.CreateOptions{})
	must(t, "cluster role binding", err)
}

// registerReplacement is the replacement's kubelet: once the group holds
// an instance not in known, it registers that instance's Node, Ready.
func registerReplacement(ctx context.Context, asg *autoscaling.Client, kube kubernetes.Interface, group string, known []string, name string) error {
	for {
		out, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{group}})
		if err != nil {
			return err
		}
		for _, g := range out.AutoScalingGroups {
			for _, i := range g.Instances {
				if id := aws.ToString(i.InstanceId); !slices.Contains(known, id) {
					n, err := kube.CoreV1().Nodes().Create(ctx, kubeapi.InstanceNode(name, "us-east-1a", id), metav1.CreateOptions{})
					if err != nil {
						return err
					}
					n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
					_, err = kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
					return err
				}
			}
		}
		if err := wait.Sleep(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("no instance beside %v in %s: %w", known, group, err)
		}
	}
}

// A control-plane roll deletes the old control plane's Node once the old
// instance has left its group and the replacement's Node is Ready: no
// drainer was left to delete it. The group is on the emulator, the Nodes
// in a real kube-apiserver, and the roll calls it as kubeadm's admin.conf
// identity (group kubeadm:cluster-admins, bound to cluster-admin as
// kubeadm binds it). A Node of another instance stays.
func TestControlPlaneRollDeletesTheOldNode(t *testing.T) {
	kube := kubeapi.StartServer(t)
	ctx := context.Background()
	bindClusterAdmins(t, kube.Admin, "cluster-admin")
	f := newRollFixture(t)
	const group = "kforge-test-controller"
	f.group(t, group, 1, 1)
	_, before, _ := f.versions(t, group)
	if len(before) != 1 {
		t.Fatalf("the control plane's group holds %v, want one instance", before)
	}
	var oldID string
	for id := range before {
		oldID = id
	}
	f.newVersion(t, group)
	nodes := kubeapi.NewDrainFixture(t, kube.Admin, "apps")
	nodes.Node("ip-10-40-0-5.ec2.internal", "us-east-1a", oldID)
	nodes.Node("ip-10-40-1-7.ec2.internal", "us-east-1a", "i-0worker")

	ui := &recordingUI{}
	r := f.roller(ui)
	k := kubeNodes{client: kube.Operator}
	r.kube = k
	// As RunRoll does for the control plane: a fresh client on every poll.
	r.reconnect = func(context.Context) nodeChecker { return k }
	plan, err := r.plan(ctx, map[string]string{ControlPlanePool: group})
	if err != nil {
		t.Fatal(err)
	}
	kctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	kubelet := make(chan error, 1)
	go func() {
		kubelet <- registerReplacement(kctx, f.asg, kube.Admin, group, []string{oldID}, "ip-10-40-0-9.ec2.internal")
	}()
	err = r.execute(ctx, plan)
	cancel()
	notes := strings.Join(ui.notes, "")
	if kerr := <-kubelet; kerr != nil {
		t.Fatalf("registering the replacement's Node: %v\nnotes: %s", kerr, notes)
	}
	if err != nil {
		t.Fatalf("execute: %v\nnotes: %s", err, notes)
	}
	if len(plan.Steps) != 1 || plan.Steps[0].Old != oldID || !plan.Steps[0].NodesReady {
		t.Fatalf("steps %+v, want one replacement of %s with its Node checked Ready", plan.Steps, oldID)
	}
	if got := plan.Steps[0].Deleted; got != "ip-10-40-0-5.ec2.internal" {
		t.Errorf("step's deleted Node %q, want ip-10-40-0-5.ec2.internal", got)
	}
	if want := "control-plane: Node ip-10-40-0-5.ec2.internal of terminated " + oldID + " deleted\n"; !slices.Contains(ui.notes, want) {
		t.Errorf("notes lack %q:\n%s", want, notes)
	}
	if _, err := kube.Admin.CoreV1().Nodes().Get(ctx, "ip-10-40-0-5.ec2.internal", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the old control plane's Node after the roll: %v, want it deleted", err)
	}
	for _, name := range []string{"ip-10-40-0-9.ec2.internal", "ip-10-40-1-7.ec2.internal"} {
		if _, err := kube.Admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("Node %s after the roll: %v, want it untouched", name, err)
		}
	}
}

// The deletion of the old control plane's Node, in the cases the roll
// goes on without one: the Node is gone already (the replacement deleted
// it before its CNI, or the drainer's scan got there first), the identity
// may not delete Nodes (a warning names the fallback; the roll does not
// fail), a worker pool (its drainer deletes the Node through the lifecycle
// hook), no Node checked Ready.
func TestDeleteOldNodeAgainstARealAPIServer(t *testing.T) {
	kube := kubeapi.StartServer(t)
	ctx := context.Background()
	_, err := kube.Admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "read-nodes"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{})
	must(t, "cluster role", err)
	bindClusterAdmins(t, kube.Admin, "read-nodes")
	nodes := kubeapi.NewDrainFixture(t, kube.Admin, "apps")
	nodes.Node("ip-10-40-0-5.ec2.internal", "us-east-1a", "i-0old")
	nodes.Node("ip-10-40-1-7.ec2.internal", "us-east-1a", "i-0worker")
	// The Node of i-0gone, deleted as the drainer's scan deletes it.
	nodes.Node("ip-10-40-0-4.ec2.internal", "us-east-1a", "i-0gone")
	must(t, "deleting ip-10-40-0-4.ec2.internal", kube.Admin.CoreV1().Nodes().Delete(ctx, "ip-10-40-0-4.ec2.internal", metav1.DeleteOptions{}))
	cp := RollGroup{Pool: ControlPlanePool}

	for _, c := range []struct {
		name   string
		client kubernetes.Interface
		rg     RollGroup
		step   RollStep
		// note is the line wanted among the notes; "" wants none.
		note string
	}{
		{"Node gone already", kube.Operator, cp, RollStep{Old: "i-0gone", NodesReady: true}, "control-plane: no Node of terminated i-0gone is left\n"},
		{"deletion refused", kube.Operator, cp, RollStep{Old: "i-0old", NodesReady: true},
			`control-plane: warning: the Node of terminated i-0old is still there (deleting node ip-10-40-0-5.ec2.internal: nodes "ip-10-40-0-5.ec2.internal" is forbidden: User "kubernetes-admin" cannot delete resource "nodes"`},
		{"worker pool", kube.Admin, RollGroup{Pool: "general"}, RollStep{Old: "i-0worker", NodesReady: true}, ""},
		{"no Node checked Ready", kube.Admin, cp, RollStep{Old: "i-0old"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ui := &recordingUI{}
			k := kubeNodes{client: c.client}
			r := &roller{ui: ui, kube: k}
			step := c.step
			r.deleteOldNode(ctx, c.rg, &step)
			notes := strings.Join(ui.notes, "")
			if step.Deleted != "" {
				t.Errorf("step's deleted Node %q, want none", step.Deleted)
			}
			if c.note == "" && notes != "" {
				t.Errorf("notes %q, want none", notes)
			}
			warning := strings.Contains(c.note, "warning")
			if c.note != "" && (!strings.Contains(notes, c.note) || warning != strings.Contains(notes, "the new control plane's drainer deletes it within minutes")) {
				t.Errorf("notes %q, want %q and the drainer's scan as the fallback", notes, c.note)
			}
			for _, name := range []string{"ip-10-40-0-5.ec2.internal", "ip-10-40-1-7.ec2.internal"} {
				if _, err := kube.Admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
					t.Errorf("Node %s: %v, want it untouched", name, err)
				}
			}
		})
	}
}

// TestControlPlaneRollRefusesAQuotaBelowTheSnapshot: the replacement
// restores the latest snapshot under the environment's etcd quota, so a
// roll stops before the termination when that quota would not hold it. The
// size is the object's in the certs bucket, read on the emulator.
func TestControlPlaneRollRefusesAQuotaBelowTheSnapshot(t *testing.T) {
	_, _, b := certsBucketForTest(t)
	ctx := context.Background()
	client, bucket := b.Client, b.Name
	var missing *s3types.NotFound
	if err := snapshotFitsQuota(ctx, b, certstore.EtcdSnapshotKey, 2); !errors.As(err, &missing) || !strings.Contains(err.Error(), certstore.EtcdSnapshotKey) {
		t.Errorf("no snapshot: %v, want S3's NotFound in an error naming %s", err, certstore.EtcdSnapshotKey)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(certstore.EtcdSnapshotKey), Body: strings.NewReader(strings.Repeat("e", 4096))}); err != nil {
		t.Fatal(err)
	}
	if err := snapshotFitsQuota(ctx, b, certstore.EtcdSnapshotKey, 2); err != nil {
		t.Errorf("a 4 KiB snapshot under a 2 GiB quota: %v", err)
	}

	const gib = int64(1) << 30
	for _, tc := range []struct {
		quota int
		size  int64
		want  string
	}{
		{2, 2*gib - 1, ""},
		{0, 2*gib - 1, ""},
		{3, 2 * gib, ""},
		{2, 2 * gib, "is 2048 MiB, and controlPlane.etcdQuotaGiB 2 would not hold it on the replacement: nothing was terminated; set controlPlane.etcdQuotaGiB to 3 or more"},
		{2, 5 * gib / 2, "is 2560 MiB, and controlPlane.etcdQuotaGiB 2 would not hold it on the replacement: nothing was terminated; set controlPlane.etcdQuotaGiB to 3 or more"},
	} {
		err := quotaHoldsSnapshot(certstore.EtcdSnapshotKey, tc.quota, tc.size)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("quota %d GiB, snapshot %d bytes: %v", tc.quota, tc.size, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("quota %d GiB, snapshot %d bytes: %v, want %q", tc.quota, tc.size, err, tc.want)
		}
	}
}
