package cli

import (
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/tfrun"
)

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
			est, err := cluster.RunCost(ctx, args[0], cluster.CostOptions{PlanFile: planPath}, app.clusterOptions())
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
