package cost

import (
	"path/filepath"
	"slices"
	"strings"
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
	if len(fromState.Lines) != len(fromPlan.Lines) {
		t.Errorf("state has %d lines, plan %d", len(fromState.Lines), len(fromPlan.Lines))
	}
	// The only items without a price are the usage-priced ones the plan
	// has too (CPU credits of burstable nodes): nothing is left unresolved.
	if got, want := unpriced(fromState), unpriced(fromPlan); !slices.Equal(got, want) || len(got) != fromState.Unpriced {
		t.Errorf("state's items without a price %q, plan's %q", got, want)
	}
	for _, l := range fromState.Lines {
		if !l.Priced && !strings.Contains(l.Item, "CPU credits") {
			t.Errorf("state item without a price: %+v", l)
		}
	}
}

func unpriced(e *Estimate) []string {
	var out []string
	for _, l := range e.Lines {
		if !l.Priced {
			out = append(out, l.Address+": "+l.Item)
		}
	}
	slices.Sort(out)
	return out
}
