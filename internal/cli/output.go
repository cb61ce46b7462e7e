package cli

import (
	"context"

	"github.com/spf13/cobra"
)

func newOutputCmd(app *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "output <env>",
		Short: "Print the cluster's outputs (NLB DNS name, name servers, API endpoint, buckets...)",
		Args:  envArg,
		RunE: app.onEnv(func(ctx context.Context, e *Env, _ []string) error {
			out, err := e.AppliedOutputs(ctx)
			if err != nil {
				return err
			}
			if asJSON || app.JSON() {
				return app.PrintJSON(out)
			}
			app.Table(out.Rows())
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outputs as JSON (same as --output json)")
	return cmd
}
