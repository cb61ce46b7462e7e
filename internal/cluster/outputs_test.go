package cluster

import (
	"reflect"
	"testing"
)

// Groups names every group by its pool, the control plane's under
// ControlPlanePool, without changing the outputs; nothing applied, none.
func TestOutputsGroups(t *testing.T) {
	out := &Outputs{ControllerASGName: "kf-controller", WorkerASGNames: map[string]string{"general": "kf-general"}}
	want := map[string]string{ControlPlanePool: "kf-controller", "general": "kf-general"}
	if got := out.Groups(); !reflect.DeepEqual(got, want) {
		t.Errorf("Groups() = %v, want %v", got, want)
	}
	if len(out.WorkerASGNames) != 1 {
		t.Errorf("Groups() changed the outputs' worker groups: %v", out.WorkerASGNames)
	}
	if got := (&Outputs{}).Groups(); len(got) != 0 {
		t.Errorf("Groups() of no outputs = %v, want none", got)
	}
}
