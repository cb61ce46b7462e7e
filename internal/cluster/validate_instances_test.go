package cluster

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// validate names the instance of the cluster's groups that no Node names,
// with its pool and lifecycle state: groups on the emulator, the Nodes as
// the API server lists them.
func TestValidateNamesInstancesWithoutANode(t *testing.T) {
	f := newRollFixture(t)
	const controlPlane, workers = "kforge-test-controller", "kforge-test-general"
	f.group(t, controlPlane, 1, 1)
	f.group(t, workers, 2, 3)
	out := &Outputs{ControllerASGName: controlPlane, WorkerASGNames: map[string]string{"general": workers}}
	instances, err := groupInstances(context.Background(), f.asg, out)
	if err != nil {
		t.Fatal(err)
	}
	_, cps, _ := f.versions(t, controlPlane)
	_, ws, _ := f.versions(t, workers)
	if len(instances) != 3 || len(cps) != 1 || len(ws) != 2 {
		t.Fatalf("instances %+v, want the control plane and two workers", instances)
	}
	var nodes []NodeState
	var lost GroupInstance
	for _, i := range instances {
		if _, worker := ws[i.ID]; worker && lost.ID == "" {
			lost = i
			continue
		}
		nodes = append(nodes, NodeState{Name: "ip-" + i.ID, Ready: true, Instance: i.ID})
	}
	r := ValidationResult{Nodes: nodes, Instances: instances, TargetGroups: []TargetGroupStatus{{Name: "https", Targets: 2, States: map[string]int{"healthy": 2}}}}
	r.evaluate()
	want := "instance " + lost.ID + " of general (InService) has no Node: it has not joined the cluster yet, or the cluster lost its Node"
	if len(r.Problems) != 1 || !strings.HasPrefix(r.Problems[0], want) {
		t.Errorf("problems %q, want one: %q", r.Problems, want)
	}
	if !slices.Contains(r.Lines(), "instances 3 in the cluster's groups, 1 without a Node") {
		t.Errorf("lines %q lack the count of instances without a Node", r.Lines())
	}
	r.Nodes = append(r.Nodes, NodeState{Name: "ip-" + lost.ID, Ready: true, Instance: lost.ID})
	if r.evaluate(); !r.OK() {
		t.Errorf("every instance with a Ready Node: problems %q", r.Problems)
	}
}
