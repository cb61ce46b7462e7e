package cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// After an up that made a new launch template version, the instances still
// on the old one are named per group with the roll that replaces them; a
// group whose instances are current is not named.
func TestOutdatedGroupsNameTheRoll(t *testing.T) {
	f := newRollFixture(t)
	ctx := context.Background()
	f.group(t, "kforge-test-general", 2, 3)
	f.group(t, "kforge-test-controller", 1, 1)
	f.group(t, "kforge-test-batch", 1, 2)
	f.newVersion(t, "kforge-test-general", "kforge-test-controller")
	targets := map[string]string{"general": "kforge-test-general", ControlPlanePool: "kforge-test-controller"}
	got, err := outdatedGroups(ctx, f.roller(&recordingUI{}), targets, "dev")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]OutdatedGroup{
		ControlPlanePool: {Pool: ControlPlanePool, Instances: 1, Roll: "kforge roll dev --control-plane"},
		"general":        {Pool: "general", Instances: 2, Roll: "kforge roll dev --pool general"},
	}
	if len(got) != len(want) {
		t.Fatalf("outdated groups %+v, want %d", got, len(want))
	}
	for _, g := range got {
		w := want[g.Pool]
		if g.Instances != w.Instances || g.Roll != w.Roll || !strings.HasPrefix(g.Reason, "launch template version 1, the group's is 2") {
			t.Errorf("%s: %+v, want %d instance(s) on version 1, rolled by %q", g.Pool, g, w.Instances, w.Roll)
		}
	}
	// The batch group still launches version 1, which its instance runs.
	got, err = outdatedGroups(ctx, f.roller(&recordingUI{}), map[string]string{"batch": "kforge-test-batch"}, "dev")
	if err != nil || len(got) != 0 {
		t.Errorf("a current group: %+v, %v; want none", got, err)
	}
}

// controlPlaneUserData is the user data's shape describeChange reads: the
// Kubernetes and etcd quota lines, and the agent's digest beside them.
func controlPlaneUserData(kubernetes, quota, agent string) *string {
	text := "#!/bin/bash\n# Kubernetes " + kubernetes + ": what this node installs\n# etcd quota " + quota + " GiB: applied by kubeadm init\n" +
		"agent_sha256=\"" + agent + "\"\n"
	return aws.String(base64.StdEncoding.EncodeToString([]byte(text)))
}

// controlPlaneTemplate is a control-plane group of one instance, launched
// from version 1 of its template (Kubernetes 1.35.10, quota 2, agent 0a1b).
type controlPlaneTemplate struct {
	f    *rollFixture
	ltID *string
}

func newControlPlaneTemplate(t *testing.T, f *rollFixture) *controlPlaneTemplate {
	t.Helper()
	lt, err := f.ec2.CreateLaunchTemplate(context.Background(), &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("kforge-test-controller"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Medium, UserData: controlPlaneUserData("1.35.10", "2", "0a1b")}})
	if err != nil {
		t.Fatal(err)
	}
	f.ltID = aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	f.group(t, "kforge-test-controller", 1, 1)
	return &controlPlaneTemplate{f: f, ltID: lt.LaunchTemplate.LaunchTemplateId}
}

// next makes a new template version, as an up does, points the group at
// it, and returns its number; the instance stays on the one it runs.
func (c *controlPlaneTemplate) next(t *testing.T, kubernetes, quota, agent string) string {
	t.Helper()
	ctx := context.Background()
	v, err := c.f.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: c.ltID,
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Medium, UserData: controlPlaneUserData(kubernetes, quota, agent)}})
	if err != nil {
		t.Fatal(err)
	}
	version := strconv.FormatInt(aws.ToInt64(v.LaunchTemplateVersion.VersionNumber), 10)
	if _, err := c.f.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("kforge-test-controller"),
		LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: c.ltID, Version: aws.String(version)}}); err != nil {
		t.Fatal(err)
	}
	return version
}

// A control plane whose template moved on by the Kubernetes version alone
// upgrades in place (kforge upgrade), so up does not send it to a roll;
// one that also moved on by its agent build or its etcd quota is named,
// since an in-place upgrade changes neither.
func TestOutdatedControlPlaneIgnoresAnInPlaceUpgrade(t *testing.T) {
	f := newRollFixture(t)
	cp := newControlPlaneTemplate(t, f)
	targets := map[string]string{ControlPlanePool: "kforge-test-controller"}
	for _, step := range []struct {
		kubernetes, quota, agent string
		want                     string // the reason named, or "" for none
	}{
		{"1.36.6", "2", "0a1b", ""}, // version 2: the upgrade's up
		{"1.36.6", "2", "2c3d", "Kubernetes 1.35.10 -> 1.36.6, user data: agent build or node settings"}, // version 3: a new agent
		{"1.36.6", "3", "2c3d", "Kubernetes 1.35.10 -> 1.36.6, etcd quota 2 -> 3 GiB, user data"},        // version 4: and a new quota
	} {
		version := cp.next(t, step.kubernetes, step.quota, step.agent)
		got, err := outdatedGroups(context.Background(), f.roller(&recordingUI{}), targets, "dev")
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case step.want == "" && len(got) != 0:
			t.Errorf("version %s, Kubernetes alone: %+v, want the control plane left to its in-place upgrade", version, got)
		case step.want != "" && (len(got) != 1 || !strings.Contains(got[0].Reason, step.want)):
			t.Errorf("version %s: %+v, want the control plane named with %q", version, got, step.want)
		}
	}
}

// A minor upgrade is refused, before anything changes, while the control
// plane runs another agent build than this kforge uploads: an older one
// than the group launches now (an up without its roll), or, with nothing
// outdated, the build of an older kforge that this one has not replaced yet
// (no up since). Either would upgrade the node in place and stay. A
// template that moved on by its etcd quota alone, or by nothing, lets the
// upgrade go on when the agent is this kforge's.
func TestMinorUpgradeWaitsForTheControlPlaneAgent(t *testing.T) {
	f := newRollFixture(t)
	cp := newControlPlaneTemplate(t, f)
	out := &Outputs{ControllerASGName: "kforge-test-controller"}
	for _, step := range []struct {
		quota, agent string
		local        []string // the agents this kforge uploads
		refusal      string   // "" when allowed
	}{
		{"2", "0a1b", []string{"0a1b"}, ""}, // version 1, which it runs
		{"2", "0a1b", nil, ""},              // a dry run without this kforge's agents
		{"2", "0a1b", []string{"9f8e", "7d6c"}, "other than the one this kforge uploads (9f8e, 7d6c)"}, // a newer kforge, before its up
		{"3", "0a1b", []string{"0a1b"}, ""},               // a new quota: an in-place upgrade keeps it, and the roll after applies it
		{"3", "2c3d", []string{"2c3d"}, agentBuildChange}, // a new agent build, not rolled
	} {
		if step.quota != "2" {
			cp.next(t, "1.35.10", step.quota, step.agent)
		}
		err := checkControlPlaneAgent(context.Background(), f.roller(&recordingUI{}), "dev", out, "1.36.6", step.local)
		switch {
		case step.refusal == "" && err != nil:
			t.Errorf("quota %s, agent %s, local %v: refused: %v", step.quota, step.agent, step.local, err)
		case step.refusal != "" && (ExitCode(err) != 1 || !strings.Contains(fmt.Sprint(err), "kforge roll dev --control-plane") || !strings.Contains(fmt.Sprint(err), step.refusal)):
			t.Errorf("quota %s, agent %s, local %v: %v, want the roll named first, and %q", step.quota, step.agent, step.local, err, step.refusal)
		}
	}
}
