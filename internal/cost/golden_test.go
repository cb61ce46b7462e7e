package cost

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/kforge/kforge/internal/testutil/fixture"
	"github.com/kforge/kforge/internal/testutil/golden"
)

// TestGoldenCost prices the real plans of the example environments.
func TestGoldenCost(t *testing.T) {
	for _, env := range []string{"dev", "staging", "prod", "local"} {
		t.Run(env, func(t *testing.T) {
			plan := fixture.Plan(t, filepath.Join("testdata", "plans", env+".plan.json.gz"))
			e, err := FromPlan(plan, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var text, js bytes.Buffer
			if err := e.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := e.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, filepath.Join("testdata", "golden", env+".txt"), text.Bytes())
			golden.Assert(t, filepath.Join("testdata", "golden", env+".json"), js.Bytes())
		})
	}
}
