package cluster

import (
	"context"
	"strings"
	"testing"
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
