package cli

import (
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/config"
)

func newUpgradeCmd(app *App) *cobra.Command {
	var o cluster.UpgradeOptions
	cmd := &cobra.Command{
		Use:   "upgrade <env> --to X.Y.Z",
		Short: "Upgrade the cluster's Kubernetes version: control plane first, then every worker pool",
		Long: `Check --to against the running version (one minor at a time, never down,
a supported release), record it as kubernetes.version in the environment's
file, apply it (cluster.json and every launch template name it), wait until
the control plane's agent has taken an etcd snapshot and run kubeadm
upgrade apply, then roll every worker pool (kforge roll). --dry-run prints
the plan and changes nothing. Run it again after an interruption.`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := interruptible(cmd)
			defer stop()
			e, err := app.OpenEnvChecked(ctx, args[0], func(cfg *config.Cluster) error {
				if err := cluster.ValidateUpgrade(cfg, o); err != nil || o.DryRun {
					return err
				}
				return app.confirmable("upgrade")
			})
			if err != nil {
				return err
			}
			o.Progress = app.progress
			if !app.JSON() && !o.DryRun {
				o.ShowPlan = app.printUpgradePlan
				o.Roll.ShowPlan = app.printRollPlan
			}
			res, err := cluster.RunUpgrade(ctx, e, o)
			if res == nil {
				return err
			}
			return app.report(res, err, func() {
				switch {
				case o.DryRun:
					app.printUpgradePlan(res)
				default:
					app.Printf("Done: %v\n", res.Done)
					if res.ControlPlane != "" {
						app.Printf("Control plane: %s\n", res.ControlPlane)
					}
					if res.Roll != nil {
						app.printRollSteps(res.Roll)
					}
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.To, "to", "", "the Kubernetes version to upgrade to (MAJOR.MINOR.PATCH)")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan; change nothing")
	f.BoolVar(&o.NoRoll, "no-roll", false, "upgrade the control plane and the launch templates only; roll the workers later with kforge roll")
	f.IntVar(&o.Roll.TunnelPort, "tunnel-port", 0, tunnelPortUsage)
	return cmd
}

// printUpgradePlan prints the versions and the steps.
func (app *App) printUpgradePlan(res *cluster.UpgradeResult) {
	for _, l := range res.PlanLines() {
		app.Printf("%s\n", l)
	}
}
