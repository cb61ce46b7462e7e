package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kforge/kforge/internal/testutil/fixture"
)

// A JSON plan is priced without Terraform and without a cloud call, the
// same estimate internal/cost makes of it.
func TestRunCostFromAJSONPlan(t *testing.T) {
	fixturePath := filepath.Join("..", "cost", "testdata", "plans", "dev.plan.json.gz")
	file := filepath.Join(t.TempDir(), "dev.plan.json")
	if err := os.WriteFile(file, fixture.Gunzip(t, fixturePath), 0o600); err != nil {
		t.Fatal(err)
	}
	est, err := RunCost(context.Background(), "dev", CostOptions{PlanFile: file}, Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), UI: &recordingUI{}})
	if err != nil {
		t.Fatal(err)
	}
	if est.Total.Low <= 0 || est.Total.High < est.Total.Low || len(est.Lines) == 0 {
		t.Errorf("estimate of dev: total %+v, %d lines", est.Total, len(est.Lines))
	}
	if _, err := RunCost(context.Background(), "dev", CostOptions{PlanFile: filepath.Join(t.TempDir(), "missing.json")}, Options{EnvsDir: repoEnvs(t)}); !isUsage(err) {
		t.Errorf("a missing plan file: %v, want exit 2", err)
	}
}

func isUsage(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee) && ee.Code == ExitUsage
}
