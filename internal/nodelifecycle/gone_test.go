package nodelifecycle

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

func nodeWith(name, providerID string, isReady bool, age time.Duration, now time.Time) *corev1.Node {
	status := corev1.ConditionFalse
	if isReady {
		status = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))},
		Spec:       corev1.NodeSpec{ProviderID: providerID},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}},
	}
}

// TestRemoveGoneNodesAgainstEC2: instances run and are terminated on the
// emulator's EC2; only NotReady, not young Nodes whose instance is
// terminated or unknown are deleted.
func TestRemoveGoneNodesAgainstEC2(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	e := ec2.NewFromConfig(cfg)
	run, err := e.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Small, MinCount: aws.Int32(2), MaxCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	running, terminated := aws.ToString(run.Instances[0].InstanceId), aws.ToString(run.Instances[1].InstanceId)
	if _, err := e.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{terminated}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	pid := func(id string) string { return "aws:///eu-west-1a/" + id }
	kube := fake.NewClientset(
		nodeWith("running-notready", pid(running), false, time.Hour, now),
		nodeWith("terminated-notready", pid(terminated), false, time.Hour, now),
		nodeWith("unknown-notready", pid("i-0123456789abcdef0"), false, time.Hour, now),
		nodeWith("terminated-ready", pid(terminated), true, time.Hour, now),
		nodeWith("terminated-young", pid(terminated), false, time.Minute, now),
		nodeWith("not-ec2", "kind://docker/x", false, time.Hour, now),
	)
	h := &Handler{Kube: kube}
	removed, err := h.RemoveGoneNodes(ctx, e, now)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if want := []string{"terminated-notready", "unknown-notready"}; !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	for _, name := range []string{"running-notready", "terminated-ready", "terminated-young", "not-ec2"} {
		if _, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("node %s: %v, want kept", name, err)
		}
	}
	for _, name := range removed {
		if _, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("node %s still there (%v)", name, err)
		}
	}
}

func TestInstanceOf(t *testing.T) {
	for pid, want := range map[string]string{
		"aws:///eu-west-1a/i-0a1b2c3d4e5f60001": "i-0a1b2c3d4e5f60001",
		"aws://eu-west-1a/i-0a1b":               "i-0a1b",
		"aws:///eu-west-1a/":                    "",
		"gce://p/z/i-1":                         "",
		"":                                      "",
	} {
		if got := InstanceOf(pid); got != want {
			t.Errorf("InstanceOf(%q) = %q, want %q", pid, got, want)
		}
	}
}
