package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
)

func newStatusCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "status <env>",
		Short: "Show the cluster's outputs and live facts: ASG capacity, NLB target health, control-plane instance, node images, cluster key, EFS backups",
		Args:  envArg,
		RunE: app.onEnv(func(ctx context.Context, e *Env, args []string) error {
			st, err := cluster.RunStatus(ctx, e)
			if err != nil {
				return err
			}
			if app.JSON() {
				return app.PrintJSON(st)
			}
			for i, rows := range st.Tables() {
				if i > 0 {
					app.Printf("\n")
				}
				app.Table(rows)
			}
			for _, m := range st.Messages() {
				app.Notef("%s\n", m)
			}
			if st.Note != "" {
				app.Printf("\n%s\n", st.Note)
			}
			return nil
		}),
	}
}
