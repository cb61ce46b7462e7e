package cost

import (
	"path/filepath"
	"testing"

	"github.com/kforge/kforge/internal/testutil/fixture"
)

// TestStateMatchesPlan prices the state of an applied local cluster
// (testdata/make-state.sh) and expects the figures of its plan: ids are
// known in a state, so ASGs resolve to launch templates by id and subnets
// by id, not through the configuration as in a plan.
func TestStateMatchesPlan(t *testing.T) {
	state := fixture.State(t, filepath.Join("testdata", "states", "local.state.json.gz"))
	fromState, err := FromState(state, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fromPlan, err := FromPlan(fixture.Plan(t, filepath.Join("testdata", "plans", "local.plan.json.gz")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fromState.Total.Money() != fromPlan.Total.Money() || fromState.EKS.Total.Money() != fromPlan.EKS.Total.Money() {
		t.Errorf("state total %s (EKS %s), plan total %s (EKS %s)",
			fromState.Total.Money(), fromState.EKS.Total.Money(), fromPlan.Total.Money(), fromPlan.EKS.Total.Money())
	}
	if len(fromState.Lines) != len(fromPlan.Lines) || fromState.Unpriced != 0 {
		t.Errorf("state has %d lines (%d unpriced), plan %d", len(fromState.Lines), fromState.Unpriced, len(fromPlan.Lines))
	}
}
