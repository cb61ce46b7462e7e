package cli

import (
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/config"
)

func newRollCmd(app *App) *cobra.Command {
	var o cluster.RollOptions
	cmd := &cobra.Command{
		Use:   "roll <env>",
		Short: "Replace the nodes whose launch template version is outdated, one at a time per pool",
		Long: `Find the instances whose launch template version (new agent build, AMI,
instance type) differs from their group's, and replace them one at a time
per pool: raise the desired capacity by one, wait for the replacement, then
cordon and drain the old node (PodDisruptionBudgets respected, at most
--drain-timeout), then terminate the old instance (the termination lifecycle
hook deletes its Node). A drain that does not finish stops the roll before
the termination; run it again to resume. A pool whose max leaves no room is replaced
terminate-first. --dry-run prints the plan and changes nothing. Run it
again after an interruption: instances already current are skipped.

--control-plane replaces the control plane instead: the Kubernetes API is
down until the replacement has restored the latest etcd snapshot, and
writes since that snapshot (up to controlPlane.backupInterval) are lost.

--ami latest first moves the pinned image to the latest Amazon Linux 2023
release (an up replacing the AMI record; refused when amiID pins it), then
rolls as above.`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Ctrl-C cancels the context: the roll stops between calls.
			ctx, stop := interruptible(cmd)
			defer stop()
			// Bad choices are exit code 2 before the emulator or AWS is asked.
			e, err := app.OpenEnvChecked(ctx, args[0], func(cfg *config.Cluster) error { return cluster.ValidateRoll(cfg, o) })
			if err != nil {
				return err
			}
			o.Progress = app.progress
			if !app.JSON() && !o.DryRun {
				o.ShowPlan = app.printRollPlan
			}
			res, err := cluster.RunRoll(ctx, e, o)
			if res == nil {
				return err
			}
			return app.report(res, err, func() {
				switch {
				case o.DryRun || res.Pending == 0:
					app.printRollPlan(res)
				default:
					app.printRollSteps(res)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Pool, "pool", "", "roll this worker pool only (default: every worker pool)")
	f.BoolVar(&o.ControlPlane, "control-plane", false, "roll the control plane (API downtime; writes since the last etcd snapshot are lost)")
	f.BoolVar(&o.DryRun, "dry-run", false, "print what would be replaced and why; change nothing")
	f.DurationVar(&o.DrainTimeout, "drain-timeout", 0, "give up draining an old node after this long (default 15m): the roll stops there, nothing terminated, the node cordoned")
	f.StringVar(&o.AMI, "ami", "", "latest: first move the pinned image to the latest Amazon Linux 2023 release (an up), then roll")
	f.IntVar(&o.TunnelPort, "tunnel-port", 0, tunnelPortUsage)
	f.StringVar(&o.RestoreSnapshot, "restore-snapshot", "", "with --control-plane: replace it even when current, restoring this snapshot of controller/etcd/history/ (writes since it are lost)")
	return cmd
}

// printRollPlan prints each group's instances to replace, with the reason
// and the strategy.
func (app *App) printRollPlan(res *cluster.RollResult) {
	for _, l := range res.AMILines() {
		app.Printf("%s\n", l)
	}
	for _, g := range res.Groups {
		app.Printf("%s (%s): launch template %s version %s; min %d desired %d max %d\n", g.Pool, g.ASG, g.LaunchTemplate, g.Version, g.Min, g.Desired, g.Max)
		if len(g.Replace) == 0 {
			app.Printf("  up to date: %d instance(s)\n", len(g.UpToDate))
			continue
		}
		app.Table(g.ReplaceRows())
		app.Printf("  up to date: %d instance(s); strategy: %s (%s)\n", len(g.UpToDate), g.Strategy, g.StrategyWhy)
		if g.Resuming != "" {
			app.Printf("  resuming: an earlier roll raised the capacity for %s\n", g.Resuming)
		}
	}
	if note := res.DowntimeNote(); note != "" {
		app.Printf("\n%s\n", note)
	}
	if res.DryRun {
		app.Printf("\n%d instance(s) to replace. Dry run: nothing changed.\n", res.Pending)
	} else {
		app.Printf("\n%d instance(s) to replace now.\n", res.Pending)
	}
}

// printRollSteps prints the replacements made.
func (app *App) printRollSteps(res *cluster.RollResult) {
	if len(res.Steps) > 0 {
		app.Table(res.StepRows())
	}
	for _, s := range res.Steps {
		if note := res.SnapshotNote(s); note != "" {
			app.Printf("%s\n", note)
		}
		if s.APIDowntime != "" {
			app.Printf("%s: Kubernetes API downtime measured: %s (/readyz probed every second, from the last answer of %s to the first of its replacement)\n", s.Pool, s.APIDowntime, s.Old)
		}
	}
	app.Printf("\n%d of %d instance(s) replaced.\n", len(res.Steps), res.Pending)
}
