package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
)

func newUnlockCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock <env> <lock-id>",
		Short: "Release a stale state lock left by a run that was killed (terraform force-unlock)",
		Long: `Release the state lock a killed kforge or terraform run left behind. The lock
id is printed by the run that found the state locked. Only do this when no
other run is active: two runs writing the same state corrupt it.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return UsageError("unlock takes an environment and a lock id (kforge unlock <env> <lock-id>), got %d arguments", len(args))
			}
			return nil
		},
		RunE: app.onEnv(func(ctx context.Context, e *Env, args []string) error {
			if err := app.Confirm(ctx, fmt.Sprintf("release lock %s on the state of %s", args[1], e.Name), "yes"); err != nil {
				return err
			}
			if err := cluster.RunUnlock(ctx, e, args[1]); err != nil {
				return err
			}
			if app.JSON() {
				return app.PrintJSON(map[string]any{"environment": e.Name, "lock_id": args[1], "released": true})
			}
			app.Printf("Lock %s on the state of %s released.\n", args[1], e.Name)
			return nil
		}),
	}
}
