package cluster

import (
	"context"

	"github.com/kforge/kforge/internal/cost"
)

// CostOptions choose the plan `kforge cost` prices.
type CostOptions struct {
	// PlanFile prices this saved plan (binary, or JSON from terraform show
	// -json) instead of planning.
	PlanFile string
}

// RunCost prices environment envName's plan (planned now, or read from
// opts.PlanFile). An emulator it started for the plan is stopped before it
// returns.
func RunCost(ctx context.Context, envName string, opts CostOptions, o Options) (*cost.Estimate, error) {
	plan, e, err := ReportPlan(ctx, envName, opts.PlanFile, o)
	defer e.ReleaseEmulator()
	if err != nil {
		return nil, err
	}
	return cost.FromPlan(plan, cost.Options{})
}
