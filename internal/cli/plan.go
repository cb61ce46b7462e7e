package cli

import (
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/tfrun"
)

func newPlanCmd(app *App) *cobra.Command {
	var out string
	var detailed, full bool
	cmd := &cobra.Command{
		Use:   "plan <env>",
		Short: "Show what `up` would change, grouped by module",
		Long: `Plan the environment's changes and print a summary grouped by module (to add,
change, destroy, replace). --full also prints Terraform's complete plan; --out
saves the plan to a file; --detailed-exitcode exits 0 when nothing would
change and 2 when something would, as terraform plan does (for drift checks).`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := cluster.OutFile(out)
			if err != nil {
				return err
			}
			opts := cluster.PlanOptions{Full: full && !app.JSON(), File: file}
			ctx, stop := tfrun.HandleInterrupts(cmd.Context(), app.Stderr, args[0])
			defer stop()
			e, err := app.openEnv(ctx, args[0], cluster.StartEmulator)
			if err != nil {
				return err
			}
			defer e.ReleaseEmulator()
			res, err := cluster.RunPlan(ctx, e, opts)
			if err != nil {
				return err
			}
			plan := res.Plan
			if app.JSON() {
				if err := app.PrintJSON(res); err != nil {
					return err
				}
			} else {
				if opts.Full {
					app.Printf("%s\n", res.Text)
				}
				app.printSummary(plan.Summary)
				app.Printf("%s", res.DisruptionNote())
				if out != "" {
					app.Printf("Plan saved to %s.\n", plan.File)
				}
				if note := e.EmulatorNote(); note != "" && !e.Local { // ReleaseEmulator speaks for a managed one
					app.Notef("%s\n", note)
				}
			}
			if detailed && plan.Changes {
				return &ExitError{Code: 2, Err: errChanges, Silent: true}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "save the plan to this file")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when there is no change, 2 when there are changes (1 on error)")
	cmd.Flags().BoolVar(&full, "full", false, "print Terraform's full plan, not only the summary")
	return cmd
}
