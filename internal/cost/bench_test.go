package cost

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/kforge/kforge/internal/testutil/fixture"
)

// BenchmarkEstimate prices the prod plan (99 resources) and renders the
// table: what `kforge cost` adds on top of terraform plan.
func BenchmarkEstimate(b *testing.B) {
	plan := fixture.Plan(b, filepath.Join("testdata", "plans", "prod.plan.json.gz"))
	b.ReportAllocs()
	for b.Loop() {
		e, err := FromPlan(plan, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.WriteText(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
