package cli

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/tfrun"
)

func newDownCmd(app *App) *cobra.Command {
	var purge bool
	cmd := &cobra.Command{
		Use:   "down <env>",
		Short: "Destroy the cluster's infrastructure",
		Long: `Destroy everything the environment's Terraform state holds, after you type the
cluster's name (or --yes). --purge-state then deletes the environment's
state with every version, and the state bucket once no other environment's
state is in it. For a local environment the emulator kforge started is
stopped afterwards. A cluster that is already gone is not an error.

With certsBucketForceDestroy: false the certs bucket (PKI and etcd backups),
the log bucket and the cluster's KMS key with its alias are kept, so the
backups stay readable; the next up adopts them (docs/OPERATIONS.md).`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			ctx, stop := tfrun.HandleInterrupts(cmd.Context(), app.Stderr, args[0])
			defer stop()
			e, err := app.openEnv(ctx, args[0], cluster.OptionalEmulator)
			if err != nil {
				return err
			}
			r, err := cluster.RunDown(ctx, e, cluster.DownOptions{PurgeState: purge, Progress: app.progress})
			if err != nil {
				return err
			}
			if !e.EmulatorGone {
				r.Elapsed = time.Since(start).Truncate(time.Second).String()
			}
			return app.printDown(r)
		},
	}
	cmd.Flags().BoolVar(&purge, "purge-state", false, "also delete the environment's state (every version), and the state bucket when nothing else is in it")
	return cmd
}

func (app *App) printDown(r *cluster.DownResult) error {
	if app.JSON() {
		return app.PrintJSON(r)
	}
	app.Printf("%s\n", r.Message)
	if len(r.Swept) > 0 {
		app.Printf("Swept %d resources of the cluster that the state never held (EFS CSI access points, leftovers).\n", len(r.Swept))
	}
	if len(r.Kept) > 0 {
		app.Printf("Kept (certsBucketForceDestroy: false): %s. The backups in the bucket stay readable with the key; the next `kforge up %s` adopts them. To delete them too, set certsBucketForceDestroy: true and run `kforge down %s` again.\n", strings.Join(cluster.DescribeKept(r.Kept), ", "), r.Env, r.Env)
	}
	switch {
	case r.StatePurged && r.StateBucketDeleted:
		app.Printf("State of %s deleted with every version; state bucket %s deleted, as nothing else was in it.\n", r.Env, r.StateBucket)
	case r.StatePurged:
		app.Printf("State of %s deleted with every version; state bucket %s kept: it holds other state (%s).\n", r.Env, r.StateBucket, strings.Join(r.StateBucketKeptFor, ", "))
	}
	if r.EmulatorStopped {
		app.Printf("Local emulator stopped.\n")
	}
	return nil
}
