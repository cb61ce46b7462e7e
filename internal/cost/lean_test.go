package cost

import (
	"path/filepath"
	"testing"

	"github.com/kforge/kforge/internal/testutil/fixture"
)

// TestDevIsLean holds envs/dev.yaml to its budget: at most 70 USD a month at
// desired size, and at least 40 % below the same workers on EKS.
func TestDevIsLean(t *testing.T) {
	e, err := FromPlan(fixture.Plan(t, filepath.Join("testdata", "plans", "dev.plan.json.gz")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Total.Low > 70 {
		t.Errorf("dev costs %.2f USD/month at desired size; the budget is 70", e.Total.Low)
	}
	if e.Total.Low > 0.6*e.EKS.Total.Low {
		t.Errorf("dev costs %.2f, more than 60 %% of the same workers on EKS (%.2f)", e.Total.Low, e.EKS.Total.Low)
	}
	spot := false
	for _, l := range e.Lines {
		if l.Spot && l.OnDemand != nil && l.OnDemand.Low > l.Monthly.Low {
			spot = true
		}
	}
	if !spot || e.SpotPricesAsOf == "" {
		t.Error("dev's worker pool is not priced at typical Spot prices with the on-demand figure beside it")
	}
}

// TestLeversNameTheBiggestSavings: staging runs x86 on-demand workers in two
// AZs, so Spot, Graviton and one AZ are its levers, biggest first.
func TestLeversNameTheBiggestSavings(t *testing.T) {
	e, err := FromPlan(fixture.Plan(t, filepath.Join("testdata", "plans", "staging.plan.json.gz")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Levers) != 3 || e.Levers[0].Name != "Spot workers" || e.Levers[1].Name != "Graviton (arm64)" || e.Levers[2].Name != "one availability zone" {
		t.Fatalf("levers %+v", e.Levers)
	}
	for i := 1; i < len(e.Levers); i++ {
		if e.Levers[i].Saving.Low > e.Levers[i-1].Saving.Low {
			t.Errorf("levers not sorted: %+v", e.Levers)
		}
	}
	prod, err := FromPlan(fixture.Plan(t, filepath.Join("testdata", "plans", "prod.plan.json.gz")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range prod.Levers {
		if l.Name == "one availability zone" {
			t.Error("production is offered one AZ")
		}
	}
}
