package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/tfrun"
)

// costPlanFile is where cost and graph save the plan they read, apart from
// the plan `kforge plan` and `up` keep.
const costPlanFile = "kforge-report.tfplan"

// ReportPlan returns the plan the cost and graph reports describe: read
// from file when set (JSON, or a saved binary plan of the environment), else
// planned now. The Env is nil when the plan came from a JSON file; callers
// defer its ReleaseEmulator, errors or not.
func ReportPlan(ctx context.Context, envName, file string, o Options) (*tfjson.Plan, *Env, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, UsageError("--plan: %v", err)
		}
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
			// Validate the environment name all the same: a typo is exit 2.
			cfg, err := config.LoadEnv(o.EnvsDir, envName)
			if err != nil {
				return nil, nil, err
			}
			var plan tfjson.Plan
			if err := json.Unmarshal(data, &plan); err != nil {
				return nil, nil, UsageError("--plan %s: not a plan in terraform show -json format: %v", file, err)
			}
			if err := plan.Validate(); err != nil {
				return nil, nil, UsageError("--plan %s: %v", file, err)
			}
			if plan.PlannedValues == nil {
				return nil, nil, UsageError("--plan %s: the plan has no planned_values; fix: pass what `terraform show -json <plan file>` prints", file)
			}
			return &plan, nil, planOf(file, &plan, cfg.Environment, envName)
		}
		plan, e, err := showSavedPlan(ctx, envName, file, o)
		if err == nil {
			err = planOf(file, plan, e.Config.Environment, envName)
		}
		return plan, e, err
	}
	e, err := Open(ctx, envName, StartEmulator, o)
	if err != nil {
		return nil, nil, err
	}
	// From here on e is returned with errors too: the caller releases the
	// emulator this may have started.
	r, err := e.Prepare(ctx)
	if err != nil {
		return nil, e, err
	}
	res, err := r.Plan(ctx, costPlanFile, false)
	if err != nil {
		return nil, e, err
	}
	plan, err := r.FullPlan(ctx, res)
	if err != nil {
		return nil, e, err
	}
	return plan, e, nil
}

// planOf refuses a plan of another environment, which would be priced or
// drawn under this one's name.
func planOf(file string, plan *tfjson.Plan, environment, envName string) error {
	if v, ok := plan.Variables["environment"]; ok && v != nil && v.Value != environment {
		return UsageError("--plan %s is a plan of environment %v, not %s; fix: name its environment, or pass a plan of %s", file, v.Value, environment, envName)
	}
	return nil
}

// showSavedPlan renders a binary plan file as JSON in the environment's
// initialised work directory (the providers' schemas are needed).
func showSavedPlan(ctx context.Context, envName, file string, o Options) (*tfjson.Plan, *Env, error) {
	e, err := Open(ctx, envName, NeedEmulator, o)
	if err != nil {
		return nil, nil, err
	}
	r, err := e.InitRunner(ctx)
	if err != nil {
		return nil, nil, err
	}
	bin, _, err := tfrun.FindTerraform(ctx)
	if err != nil {
		return nil, nil, err
	}
	tf, err := tfexec.NewTerraform(r.Dir(), bin)
	if err != nil {
		return nil, nil, fmt.Errorf("preparing terraform in %s: %w", r.Dir(), err)
	}
	plan, err := tf.ShowPlanFile(ctx, file)
	if err != nil {
		return nil, nil, UsageError("--plan %s: terraform cannot read it as a saved plan of %s: %v", file, envName, err)
	}
	return plan, e, nil
}
