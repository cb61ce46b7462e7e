package cluster

import (
	"context"
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// rollFixture is a launch template with two versions and groups on the
// emulator, made through the SDK as Terraform would leave them after an up
// that changed the template: the group on version 2, its instances on 1.
type rollFixture struct {
	asg  *autoscaling.Client
	ec2  *ec2.Client
	ltID string
	cfg  aws.Config
	url  string // the emulator's
}

func newRollFixture(t *testing.T) *rollFixture {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	f := &rollFixture{asg: autoscaling.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg), cfg: cfg, url: em.URL()}
	lt, err := f.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("kforge-test-general"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Small, UserData: aws.String("YWdlbnQgMQ==")}})
	if err != nil {
		t.Fatal(err)
	}
	f.ltID = aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	return f
}

func (f *rollFixture) group(t *testing.T, name string, desired, maxSize int32) {
	t.Helper()
	if _, err := f.asg.CreateAutoScalingGroup(context.Background(), &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(1), MaxSize: aws.Int32(maxSize), DesiredCapacity: aws.Int32(desired),
		AvailabilityZones: []string{"us-east-1a"},
		LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(f.ltID), Version: aws.String("1")},
	}); err != nil {
		t.Fatal(err)
	}
}

// newVersion is what an up does after a new agent build and instance type:
// version 2, made the default (the modules set update_default_version), and
// the groups pointed at it. Running instances stay on version 1. Version 2
// has no user data: the emulator fails to launch from a version made by
// CreateLaunchTemplateVersion with user data (docs/EMULATOR-NOTES.md); the
// user data still differs from version 1's.
func (f *rollFixture) newVersion(t *testing.T, groups ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String(f.ltID),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Medium}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ec2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateId: aws.String(f.ltID), DefaultVersion: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if _, err := f.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(g),
			LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(f.ltID), Version: aws.String("2")}}); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *rollFixture) roller(ui UI) *roller {
	return &roller{asg: f.asg, ec2: f.ec2, ui: ui, opts: RollOptions{Poll: 100 * time.Millisecond, Timeout: 30 * time.Second}}
}

// versions maps the group's live instances to their template versions.
func (f *rollFixture) versions(t *testing.T, name string) (desired int32, byID map[string]string, tags map[string]string) {
	t.Helper()
	out, err := f.asg.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		t.Fatalf("describing %s: %v", name, err)
	}
	g := out.AutoScalingGroups[0]
	byID, tags = map[string]string{}, map[string]string{}
	var ids []string
	for _, i := range g.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	// The version each was launched with, from EC2's system tags (the
	// emulator's group record shows the template's current default).
	tagged, err := (&roller{ec2: f.ec2}).launchedFrom(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		byID[id] = tagged[id][1]
	}
	for _, tg := range g.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return aws.ToInt32(g.DesiredCapacity), byID, tags
}

func TestRollReplacesOutdatedInstancesOneAtATime(t *testing.T) {
	f := newRollFixture(t)
	ctx := context.Background()
	f.group(t, "kforge-test-general", 2, 3)
	f.group(t, "kforge-test-system", 1, 1)
	_, before, _ := f.versions(t, "kforge-test-general")
	f.newVersion(t, "kforge-test-general", "kforge-test-system")

	ui := &recordingUI{}
	r := f.roller(ui)
	targets := map[string]string{"general": "kforge-test-general", "system": "kforge-test-system"}
	plan, err := r.plan(ctx, targets)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Pending != 3 || len(plan.Groups) != 2 {
		t.Fatalf("plan: %d to replace in %d groups, want 3 in 2: %+v", plan.Pending, len(plan.Groups), plan.Groups)
	}
	gen, sys := plan.Groups[0], plan.Groups[1]
	if gen.Strategy != StrategySurge || sys.Strategy != StrategyReplace {
		t.Errorf("strategies: general %s, system %s; want surge (desired 2 < max 3) and terminate-then-replace (desired 1 = max 1)", gen.Strategy, sys.Strategy)
	}
	if !strings.Contains(sys.StrategyWhy, "workerPools.system.max") {
		t.Errorf("the terminate-then-replace reason should name the setting that allows a surge: %q", sys.StrategyWhy)
	}
	for _, in := range gen.Replace {
		if before[in.ID] == "" {
			t.Errorf("plan replaces %s, not an instance of the group", in.ID)
		}
		want := "launch template version 1, the group's is 2 (instance type t3.small -> t3.medium, user data: agent build or node settings)"
		if in.Reason != want {
			t.Errorf("reason for %s: %q, want %q", in.ID, in.Reason, want)
		}
	}

	// The dry run's plan changed nothing; now the roll.
	if err := r.execute(ctx, plan); err != nil {
		t.Fatalf("execute: %v\nnotes: %s", err, strings.Join(ui.notes, ""))
	}
	if len(plan.Steps) != 3 {
		t.Errorf("%d steps, want 3 (one per outdated instance): %+v", len(plan.Steps), plan.Steps)
	}
	for _, s := range plan.Steps {
		if len(s.New) != 1 || s.NodesReady {
			t.Errorf("step %+v: want exactly one new instance, and no Node check without a Kubernetes API", s)
		}
	}
	for name, want := range map[string]int32{"kforge-test-general": 2, "kforge-test-system": 1} {
		desired, byID, tags := f.versions(t, name)
		if desired != want || len(byID) != int(want) {
			t.Errorf("%s: desired %d with %d instances after the roll, want %d (capacity back where it was)", name, desired, len(byID), want)
		}
		for id, v := range byID {
			if v != "2" {
				t.Errorf("%s: %s still on version %s", name, id, v)
			}
			if before[id] != "" {
				t.Errorf("%s: %s survived the roll", name, id)
			}
		}
		if _, ok := tags[RollingTag]; ok {
			t.Errorf("%s: tag %s left behind", name, RollingTag)
		}
	}
	// Each old instance is terminated in EC2, not only detached.
	var ids []string
	for id := range before {
		ids = append(ids, id)
	}
	out, err := f.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range out.Reservations {
		for _, i := range res.Instances {
			if i.State.Name != ec2types.InstanceStateNameTerminated {
				t.Errorf("old instance %s is %s, want terminated", aws.ToString(i.InstanceId), i.State.Name)
			}
		}
	}

	// Idempotent: a second run finds nothing to do.
	again, err := r.plan(ctx, targets)
	if err != nil {
		t.Fatal(err)
	}
	if again.Pending != 0 {
		t.Errorf("second plan: %d to replace, want 0: %+v", again.Pending, again.Groups)
	}
}

// A roll interrupted after raising the desired capacity leaves the group
// tagged; the next run terminates that instance without a second surge.
func TestRollResumesASurgeInProgress(t *testing.T) {
	f := newRollFixture(t)
	ctx := context.Background()
	f.group(t, "kforge-test-general", 2, 4)
	_, before, _ := f.versions(t, "kforge-test-general")
	f.newVersion(t, "kforge-test-general")
	var victim string
	for id := range before {
		victim = id
		break
	}
	// What the interrupted run did: desired 2 -> 3, then the tag.
	if _, err := f.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("kforge-test-general"), DesiredCapacity: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.asg.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []asgtypes.Tag{{ResourceId: aws.String("kforge-test-general"),
		ResourceType: aws.String("auto-scaling-group"), Key: aws.String(RollingTag), Value: aws.String(victim), PropagateAtLaunch: aws.Bool(false)}}}); err != nil {
		t.Fatal(err)
	}

	ui := &recordingUI{}
	r := f.roller(ui)
	plan, err := r.plan(ctx, map[string]string{"general": "kforge-test-general"})
	if err != nil {
		t.Fatal(err)
	}
	g := plan.Groups[0]
	if g.Resuming != victim || len(g.Replace) != 2 || g.Replace[0].ID != victim || len(g.UpToDate) != 1 {
		t.Fatalf("plan of an interrupted roll: resuming %q, replace %+v, up to date %v; want %s first and the surged instance up to date", g.Resuming, g.Replace, g.UpToDate, victim)
	}
	if g.Strategy != StrategySurge || !strings.Contains(g.StrategyWhy, "desired 2 + 1 <= max 4") {
		t.Errorf("strategy of the resumed group: %s (%s); want surge judged on the desired capacity before the interrupted surge (2)", g.Strategy, g.StrategyWhy)
	}
	if err := r.execute(ctx, plan); err != nil {
		t.Fatalf("execute: %v\nnotes: %s", err, strings.Join(ui.notes, ""))
	}
	if len(plan.Steps) != 2 || !plan.Steps[0].Resumed || plan.Steps[0].Old != victim || plan.Steps[1].Resumed {
		t.Errorf("steps %+v: want the resumed surge of %s first, then one fresh surge", plan.Steps, victim)
	}
	desired, byID, tags := f.versions(t, "kforge-test-general")
	if desired != 2 || len(byID) != 2 {
		t.Errorf("after resuming: desired %d, %d instances; want 2 and 2 (no capacity left over from the interrupted surge)", desired, len(byID))
	}
	if _, ok := tags[RollingTag]; ok {
		t.Errorf("tag %s left behind", RollingTag)
	}
}

// Ctrl-C before a step: nothing changes, exit code 130, and the message
// says how to continue.
func TestRollInterruptedChangesNothing(t *testing.T) {
	f := newRollFixture(t)
	f.group(t, "kforge-test-general", 1, 2)
	f.newVersion(t, "kforge-test-general")
	r := f.roller(&recordingUI{})
	plan, err := r.plan(context.Background(), map[string]string{"general": "kforge-test-general"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = r.execute(ctx, plan)
	if code := exitCodeOf(err); code != ExitInterrupted || !strings.Contains(err.Error(), "kforge roll") {
		t.Fatalf("interrupted roll: %v (exit %d), want exit %d and how to continue", err, code, ExitInterrupted)
	}
	desired, byID, _ := f.versions(t, "kforge-test-general")
	for _, in := range plan.Groups[0].Replace {
		if byID[in.ID] != "1" {
			t.Errorf("%s gone or changed (version %q) by an interrupted roll", in.ID, byID[in.ID])
		}
	}
	if len(byID) != 1 {
		t.Errorf("%d instances after an interrupted roll, want 1", len(byID))
	}
	if desired != 1 {
		t.Errorf("desired %d after an interrupted roll, want 1", desired)
	}
}

func exitCodeOf(err error) int {
	if ee, ok := err.(*ExitError); ok {
		return ee.Code
	}
	return -1
}

// Bad choices are exit code 2, naming the flag, before any cloud call: the
// endpoint below answers nothing.
func TestRollBadInput(t *testing.T) {
	ctx := context.Background()
	e, err := Open(ctx, "local", NeedEmulator, Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), Endpoint: "http://127.0.0.1:9", UI: &recordingUI{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    RollOptions
		want string
	}{
		{RollOptions{Pool: "general", ControlPlane: true}, "--pool and --control-plane"},
		{RollOptions{Pool: "gpu"}, `--pool "gpu"`},
	} {
		_, err := RunRoll(ctx, e, c.o)
		if exitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("RunRoll(%+v): %v, want exit 2 naming %s", c.o, err, c.want)
		}
	}
}

// TestRollNamesAnEtcdQuotaChange: a control plane outdated by a new etcd
// quota says so in the roll's reason, read from the two launch template
// versions' user data on the emulator; the first template that named no
// quota is no quota change.
func TestRollNamesAnEtcdQuotaChange(t *testing.T) {
	f := newRollFixture(t)
	ctx := context.Background()
	userData := func(quota string) *string {
		text := "#!/bin/bash\n# Kubernetes 1.36.6: what this node installs\n"
		if quota != "" {
			text += "# etcd quota " + quota + " GiB: applied by kubeadm init\n"
		}
		return aws.String(base64.StdEncoding.EncodeToString([]byte(text)))
	}
	lt, err := f.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("kforge-test-controller"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Medium, UserData: userData("")}})
	if err != nil {
		t.Fatal(err)
	}
	id := lt.LaunchTemplate.LaunchTemplateId
	for _, quota := range []string{"2", "3"} {
		if _, err := f.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: id,
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Medium, UserData: userData(quota)}}); err != nil {
			t.Fatal(err)
		}
	}
	r := f.roller(&recordingUI{})
	for _, c := range []struct{ from, to, want string }{
		{"2", "3", "etcd quota 2 -> 3 GiB"},
		{"1", "2", "user data: agent build or node settings"},
	} {
		if got := r.describeChange(ctx, aws.ToString(id), c.from, c.to); got.why != c.want || got.kubernetesOnly {
			t.Errorf("versions %s -> %s: %+v, want %q and not the Kubernetes version alone", c.from, c.to, got, c.want)
		}
	}
}

// TestRollNamesAPoolLabelsChange: a worker pool outdated by new labels or
// taints (the digest its user data names) says so in the roll's reason;
// a Kubernetes version change beside the same digest is still the
// version alone, which kforge upgrade rolls.
func TestRollNamesAPoolLabelsChange(t *testing.T) {
	f := newRollFixture(t)
	ctx := context.Background()
	userData := func(version, digest string) *string {
		text := "#!/bin/bash\n# Kubernetes " + version + ": what this node installs\n# Pool labels and taints " + digest + ": set by kubeadm join\n"
		return aws.String(base64.StdEncoding.EncodeToString([]byte(text)))
	}
	data := func(version, digest string) *ec2types.RequestLaunchTemplateData {
		return &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Medium, UserData: userData(version, digest)}
	}
	lt, err := f.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("kforge-test-labelled"), LaunchTemplateData: data("1.36.5", "0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	id := lt.LaunchTemplate.LaunchTemplateId
	for _, v := range []struct{ version, digest string }{{"1.36.5", "fedcba9876543210"}, {"1.36.6", "fedcba9876543210"}} {
		if _, err := f.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: id, LaunchTemplateData: data(v.version, v.digest)}); err != nil {
			t.Fatal(err)
		}
	}
	r := f.roller(&recordingUI{})
	for _, c := range []struct {
		from, to, want string
		versionOnly    bool
	}{
		{"1", "2", "pool labels or taints (0123456 -> fedcba9)", false},
		{"2", "3", "Kubernetes 1.36.5 -> 1.36.6", true},
		{"1", "3", "Kubernetes 1.36.5 -> 1.36.6, pool labels or taints (0123456 -> fedcba9)", false},
	} {
		if got := r.describeChange(ctx, aws.ToString(id), c.from, c.to); got.why != c.want || got.kubernetesOnly != c.versionOnly {
			t.Errorf("versions %s -> %s: %+v, want %q (the version alone: %v)", c.from, c.to, got, c.want, c.versionOnly)
		}
	}
}

// TestRollNamesARootVolumeChange: a group outdated by a new root volume
// size says so, rather than "other launch settings".
func TestRollNamesARootVolumeChange(t *testing.T) {
	f := newRollFixture(t)
	ctx := context.Background()
	data := func(size int32) *ec2types.RequestLaunchTemplateData {
		return &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Medium,
			BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMappingRequest{{DeviceName: aws.String("/dev/xvda"),
				Ebs: &ec2types.LaunchTemplateEbsBlockDeviceRequest{VolumeSize: aws.Int32(size), VolumeType: ec2types.VolumeTypeGp3, Encrypted: aws.Bool(true)}}}}
	}
	lt, err := f.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("kforge-test-volume"), LaunchTemplateData: data(30)})
	if err != nil {
		t.Fatal(err)
	}
	id := lt.LaunchTemplate.LaunchTemplateId
	if _, err := f.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: id, LaunchTemplateData: data(50)}); err != nil {
		t.Fatal(err)
	}
	got := f.roller(&recordingUI{}).describeChange(ctx, aws.ToString(id), "1", "2")
	if want := "root volume 30 -> 50 GiB"; got.why != want || got.kubernetesOnly {
		t.Errorf("versions 1 -> 2: %+v, want %q", got, want)
	}
}

func TestUserDataSettings(t *testing.T) {
	ud := base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\nset -euo pipefail\n# Kubernetes 1.36.6: what this node installs\n# etcd quota 3 GiB: applied by kubeadm init\n"))
	if got := userDataSetting(ud, kubernetesLine); got != "1.36.6" {
		t.Errorf("Kubernetes: got %q, want 1.36.6", got)
	}
	if got := userDataSetting(ud, etcdQuotaLine); got != "3" {
		t.Errorf("etcd quota: got %q, want 3", got)
	}
	if got := userDataSetting(base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\n")), kubernetesLine); got != "" {
		t.Errorf("user data without the line: got %q", got)
	}
}

// A surge interrupted while it replaced an instance that is not outdated
// (a worker without a Node after a restore) is finished by the next plain
// roll: the tagged instance goes, and the group is back at its size.
func TestRollFinishesTheSurgeOfACurrentInstance(t *testing.T) {
	f := newRollFixture(t)
	ctx := context.Background()
	const group = "kforge-test-general"
	f.group(t, group, 2, 4)
	_, before, _ := f.versions(t, group)
	victim := slices.Sorted(maps.Keys(before))[0]
	if _, err := f.asg.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []asgtypes.Tag{{ResourceId: aws.String(group),
		ResourceType: aws.String("auto-scaling-group"), Key: aws.String(RollingTag), Value: aws.String(victim), PropagateAtLaunch: aws.Bool(false)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(group), DesiredCapacity: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	ui := &recordingUI{}
	r := f.roller(ui)
	plan, err := r.plan(ctx, map[string]string{"general": group})
	if err != nil {
		t.Fatal(err)
	}
	if g := plan.Groups[0]; g.Resuming != victim || len(g.Replace) != 1 || g.Replace[0].ID != victim || !strings.Contains(g.Replace[0].Reason, "surge is in progress") {
		t.Fatalf("plan: resuming %q, replace %+v; want the surge of %s finished", g.Resuming, g.Replace, victim)
	}
	if err := r.execute(ctx, plan); err != nil {
		t.Fatalf("execute: %v\nnotes: %s", err, strings.Join(ui.notes, ""))
	}
	desired, byID, tags := f.versions(t, group)
	if _, left := byID[victim]; left || desired != 2 || len(byID) != 2 {
		t.Errorf("after the roll: desired %d, instances %v; want 2 without %s", desired, slices.Sorted(maps.Keys(byID)), victim)
	}
	if _, ok := tags[RollingTag]; ok {
		t.Errorf("tag %s left behind", RollingTag)
	}
}
