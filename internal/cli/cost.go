package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/cost"
	"github.com/kforge/kforge/internal/tfrun"
)

// costPlanFile is where cost and graph save the plan they read, apart from
// the plan `kforge plan` and `up` keep.
const costPlanFile = "kforge-report.tfplan"

func newCostCmd(app *App) *cobra.Command {
	var planPath string
	cmd := &cobra.Command{
		Use:   "cost <env>",
		Short: "Estimate the cluster's monthly on-demand AWS cost from its plan, with an EKS comparison",
		Long: `Plan the environment (or read --plan) and price what the plan would leave
running, per resource and in total, from the price table of the cluster's
region embedded in kforge (its date and source are printed). Auto Scaling
Groups are priced from their desired to their maximum size. Usage-based
items use stated assumptions; anything without a price is listed as such
and left out of the total. The same workers on EKS are shown for
comparison: EKS control-plane fee added, the control-plane node removed.

--plan takes a plan saved by ` + "`kforge plan --out FILE`" + ` or its JSON
(` + "`terraform show -json FILE`" + `); with JSON no Terraform and no cloud call runs.`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := tfrun.HandleInterrupts(cmd.Context(), app.Stderr, args[0])
			defer stop()
			plan, e, err := app.reportPlan(ctx, args[0], planPath)
			defer e.ReleaseEmulator()
			if err != nil {
				return err
			}
			est, err := cost.FromPlan(plan, cost.Options{})
			if err != nil {
				return err
			}
			if app.JSON() {
				return est.WriteJSON(app.Stdout)
			}
			return est.WriteText(app.Stdout)
		},
	}
	cmd.Flags().StringVar(&planPath, "plan", "", "price this saved plan (binary, or JSON from terraform show -json) instead of planning")
	return cmd
}

// reportPlan returns the plan cost and graph describe: read from file when
// set, else planned now. The Env is nil when the plan came from a JSON file;
// callers defer its ReleaseEmulator, errors or not.
func (app *App) reportPlan(ctx context.Context, envName, file string) (*tfjson.Plan, *Env, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, UsageError("--plan: %v", err)
		}
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
			// Validate the environment name all the same: a typo is exit 2.
			if _, err := app.LoadEnv(envName); err != nil {
				return nil, nil, err
			}
			var plan tfjson.Plan
			if err := json.Unmarshal(data, &plan); err != nil {
				return nil, nil, UsageError("--plan %s: not a plan in terraform show -json format: %v", file, err)
			}
			if err := plan.Validate(); err != nil {
				return nil, nil, UsageError("--plan %s: %v", file, err)
			}
			return &plan, nil, nil
		}
		return app.showSavedPlan(ctx, envName, file)
	}
	e, err := app.openEnv(ctx, envName, cluster.StartEmulator)
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

// showSavedPlan renders a binary plan file as JSON in the environment's
// initialised work directory (the providers' schemas are needed).
func (app *App) showSavedPlan(ctx context.Context, envName, file string) (*tfjson.Plan, *Env, error) {
	e, err := app.OpenEnv(ctx, envName)
	if err != nil {
		return nil, nil, err
	}
	r, err := e.Runner(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := r.Init(ctx, false); err != nil {
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
