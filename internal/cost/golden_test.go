package cost

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/kforge/kforge/internal/testutil/golden"
)

// ReadPlanFixture reads a gzipped `terraform show -json` plan written by
// testdata/make-plans.sh.
func readPlanFixture(t testing.TB, path string) *tfjson.Plan {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("opening plan fixture: %v (regenerate with internal/cost/testdata/make-plans.sh)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var plan tfjson.Plan
	if err := json.Unmarshal(data, &plan); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	return &plan
}

// TestGoldenCost prices the real plans of the example environments.
func TestGoldenCost(t *testing.T) {
	for _, env := range []string{"dev", "staging", "prod", "local"} {
		t.Run(env, func(t *testing.T) {
			plan := readPlanFixture(t, filepath.Join("testdata", "plans", env+".plan.json.gz"))
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
