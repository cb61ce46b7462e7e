package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// failingASG is the emulator's Auto Scaling with the failures AWS has and
// the emulator does not: a refused or half-answered SetDesiredCapacity, a
// refused termination, and replacements that stay Pending (a slow boot, no
// capacity in the zone).
type failingASG struct {
	autoScalingAPI
	// refuseRaise fails the next SetDesiredCapacity calls without effect;
	// loseRaise applies them and then fails (an answer lost).
	refuseRaise, loseRaise int
	refuseTerminate        int
	// booting, when set, shows every instance not in it as Pending.
	booting    map[string]bool
	terminated []string
}

var errThrottled = errors.New("api error Throttling: Rate exceeded")

func (f *failingASG) SetDesiredCapacity(ctx context.Context, in *autoscaling.SetDesiredCapacityInput, o ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error) {
	switch {
	case f.refuseRaise > 0:
		f.refuseRaise--
		return nil, errThrottled
	case f.loseRaise > 0:
		f.loseRaise--
		if _, err := f.autoScalingAPI.SetDesiredCapacity(ctx, in, o...); err != nil {
			return nil, err
		}
		return nil, errThrottled
	}
	return f.autoScalingAPI.SetDesiredCapacity(ctx, in, o...)
}

func (f *failingASG) TerminateInstanceInAutoScalingGroup(ctx context.Context, in *autoscaling.TerminateInstanceInAutoScalingGroupInput, o ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
	if f.refuseTerminate > 0 {
		f.refuseTerminate--
		return nil, errThrottled
	}
	f.terminated = append(f.terminated, aws.ToString(in.InstanceId))
	return f.autoScalingAPI.TerminateInstanceInAutoScalingGroup(ctx, in, o...)
}

func (f *failingASG) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, o ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	out, err := f.autoScalingAPI.DescribeAutoScalingGroups(ctx, in, o...)
	if err != nil || f.booting == nil {
		return out, err
	}
	for gi := range out.AutoScalingGroups {
		for ii := range out.AutoScalingGroups[gi].Instances {
			i := &out.AutoScalingGroups[gi].Instances[ii]
			if !f.booting[aws.ToString(i.InstanceId)] && i.LifecycleState == asgtypes.LifecycleStateInService {
				i.LifecycleState = asgtypes.LifecycleStatePending
			}
		}
	}
	return out, nil
}

// outdatedGroup makes group g with desired instances of at most maxSize
// on version 1, then points it at version 2; it returns the instances.
func (f *rollFixture) outdatedGroup(t *testing.T, g string, desired, maxSize int32) map[string]string {
	t.Helper()
	f.group(t, g, desired, maxSize)
	_, before, _ := f.versions(t, g)
	f.newVersion(t, g)
	return before
}

// rollOnce plans and executes a roll of one group through api.
func (f *rollFixture) rollOnce(t *testing.T, api autoScalingAPI, pool, group string, timeout time.Duration) (*RollResult, error) {
	t.Helper()
	r := f.roller(&recordingUI{})
	r.asg = api
	r.opts.Timeout = timeout
	plan, err := r.plan(context.Background(), map[string]string{pool: group})
	if err != nil {
		t.Fatal(err)
	}
	plan.Env = "test"
	return plan, r.execute(context.Background(), plan)
}

// A raise that Auto Scaling refused must not leave the resume tag: the
// next run would take the group's desired capacity for a raised one and
// terminate, with decrement, an instance nothing replaced. One the call
// applied before its answer was lost is tagged, and resumed.
func TestRollSurgeTaggedOnlyWhenRaised(t *testing.T) {
	const g = "kforge-test-general"
	for _, c := range []struct {
		name       string
		api        func(autoScalingAPI) *failingASG
		wantTagged bool
	}{
		{"refused", func(a autoScalingAPI) *failingASG { return &failingASG{autoScalingAPI: a, refuseRaise: 1} }, false},
		{"applied, answer lost", func(a autoScalingAPI) *failingASG { return &failingASG{autoScalingAPI: a, loseRaise: 1} }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newRollFixture(t)
			f.outdatedGroup(t, g, 2, 3)
			if _, err := f.rollOnce(t, c.api(f.asg), "general", g, 30*time.Second); !errors.Is(err, errThrottled) {
				t.Fatalf("first run: %v, want the raise's error", err)
			}
			desired, _, tags := f.versions(t, g)
			if _, tagged := tags[RollingTag]; tagged != c.wantTagged || (desired == 3) != c.wantTagged {
				t.Fatalf("after the failed raise: desired %d, tags %v; want tagged %v", desired, tags, c.wantTagged)
			}
			if _, err := f.rollOnce(t, f.asg, "general", g, 30*time.Second); err != nil {
				t.Fatalf("second run: %v", err)
			}
			desired, byID, tags := f.versions(t, g)
			if desired != 2 || len(byID) != 2 {
				t.Errorf("after the second run: desired %d, instances %v; want 2 and 2, as before the roll", desired, byID)
			}
			for id, v := range byID {
				if v != "2" {
					t.Errorf("%s still on version %s", id, v)
				}
			}
			if _, ok := tags[RollingTag]; ok {
				t.Errorf("tag %s left behind", RollingTag)
			}
		})
	}
}

// A terminate-first roll that stopped while its replacement was still
// booting, run again, waits for the group to be whole before it takes a
// second instance out: desired = max = 2 must never be down to none.
func TestRollTerminateFirstWaitsForTheGroupToBeWhole(t *testing.T) {
	const g = "kforge-test-general"
	f := newRollFixture(t)
	before := f.outdatedGroup(t, g, 2, 2)
	api := &failingASG{autoScalingAPI: f.asg, booting: map[string]bool{}}
	for id := range before {
		api.booting[id] = true // the old instances show InService; new ones boot forever
	}
	if _, err := f.rollOnce(t, api, "general", g, 2*time.Second); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("first run: %v, want a timeout waiting for the replacement", err)
	}
	if len(api.terminated) != 1 {
		t.Fatalf("first run terminated %v, want one instance", api.terminated)
	}
	_, err := f.rollOnce(t, api, "general", g, 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "desired capacity InService before another instance goes") {
		t.Fatalf("second run while the replacement boots: %v, want it to wait for the group", err)
	}
	if len(api.terminated) != 1 {
		t.Errorf("second run terminated %v while the first replacement was still booting", api.terminated)
	}
	// Booted: the next run finishes the roll.
	api.booting = nil
	if _, err := f.rollOnce(t, api, "general", g, 30*time.Second); err != nil {
		t.Fatalf("third run: %v", err)
	}
	if _, byID, _ := f.versions(t, g); len(byID) != 2 {
		t.Errorf("after the roll: %v, want 2 instances", byID)
	}
}

// An instance put in Standby by hand is out of the desired capacity: the
// group is whole without it, and the roll refuses to replace it rather
// than end an operator's investigation.
func TestRollLeavesAStandbyInstanceToTheOperator(t *testing.T) {
	const g = "kforge-test-general"
	ctx := context.Background()
	f := newRollFixture(t)
	before := f.outdatedGroup(t, g, 2, 4)
	var parked string
	for id := range before {
		parked = max(parked, id)
	}
	if _, err := f.asg.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String(g), InstanceIds: []string{parked}, ShouldDecrementDesiredCapacity: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	r := f.roller(&recordingUI{})
	rg, err := r.plan(ctx, map[string]string{"general": g})
	if err != nil {
		t.Fatal(err)
	}
	if whole, _, err := r.whole(ctx, rg.Groups[0], "", nil); err != nil || !whole {
		t.Errorf("group with one instance InService of desired 1 and one in Standby: whole %v (%v), want true", whole, err)
	}
	_, err = f.rollOnce(t, f.asg, "general", g, 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), parked+" is in Standby") || !strings.Contains(err.Error(), "exit-standby") {
		t.Fatalf("roll over a Standby instance: %v, want a refusal naming it and exit-standby", err)
	}
	_, byID, _ := f.versions(t, g)
	if _, ok := byID[parked]; !ok {
		t.Errorf("the Standby instance %s was terminated", parked)
	}
}

// A control-plane termination that failed after the restore request was
// written deletes the request again: left behind, it would have the next
// replacement restore that older snapshot. An interrupted control-plane
// roll says to go on with --control-plane.
func TestControlPlaneRollFailureLeavesNoRestoreRequest(t *testing.T) {
	const g = "kforge-test-controller"
	f := newRollFixture(t)
	f.group(t, g, 1, 1)
	_, before, _ := f.versions(t, g)
	var old string
	for id := range before {
		old = id
	}
	ui := &recordingUI{}
	r := f.roller(ui)
	r.asg = &failingASG{autoScalingAPI: f.asg, refuseTerminate: 1}
	requested := false
	r.forced = map[string]string{old: "restores etcd snapshot 20261130T080000.000Z.db"}
	r.restoreKey = "controller/etcd/history/20261130T080000.000Z.db"
	r.requestRestore = func(context.Context) error { requested = true; return nil }
	r.cancelRestore = func(context.Context) error { requested = false; return nil }
	plan, err := r.plan(context.Background(), map[string]string{ControlPlanePool: g})
	if err != nil {
		t.Fatal(err)
	}
	plan.Env = "test"
	if err := r.execute(context.Background(), plan); !errors.Is(err, errThrottled) {
		t.Fatalf("roll with a refused termination: %v", err)
	}
	if requested {
		t.Errorf("the restore request was left in the bucket after the termination failed; notes: %s", strings.Join(ui.notes, ""))
	}
	if _, byID, _ := f.versions(t, g); len(byID) != 1 || byID[old] == "" {
		t.Errorf("control plane after a refused termination: %v, want %s still there", byID, old)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.execute(ctx, plan); !strings.Contains(fmtErr(err), "kforge roll test --control-plane") {
		t.Errorf("interrupted control-plane roll: %v, want it to say `kforge roll test --control-plane`", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
