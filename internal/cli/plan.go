package cli

import (
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/tfrun"
)

// defaultPlanFile is where plan and up save their plan, in the root module.
const defaultPlanFile = "kforge.tfplan"

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
			ctx, stop := tfrun.HandleInterrupts(cmd.Context(), app.Stderr, args[0])
			defer stop()
			e, err := app.openEnv(ctx, args[0], startEmulator)
			if err != nil {
				return err
			}
			defer e.releaseEmulator()
			r, err := e.prepare(ctx)
			if err != nil {
				return err
			}
			planFile := defaultPlanFile
			if out != "" {
				if planFile, err = filepath.Abs(out); err != nil {
					return err
				}
			}
			plan, err := r.Plan(ctx, planFile, false)
			if err != nil {
				return err
			}
			if app.JSON() {
				err = app.PrintJSON(struct {
					Env     string        `json:"environment"`
					Changes bool          `json:"changes"`
					Summary tfrun.Summary `json:"summary"`
					File    string        `json:"plan_file"`
				}{e.Name, plan.Changes, plan.Summary, plan.File})
			} else {
				if full {
					text, err := r.ShowPlan(ctx, plan.File)
					if err != nil {
						return err
					}
					app.Printf("%s\n", text)
				}
				app.printSummary(plan.Summary)
				if out != "" {
					app.Printf("Plan saved to %s.\n", plan.File)
				}
				if note := e.emulatorNote(); note != "" && !e.Local { // releaseEmulator speaks for a managed one
					app.Notef("%s\n", note)
				}
			}
			if err != nil {
				return err
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
