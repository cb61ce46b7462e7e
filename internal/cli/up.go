package cli

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/tfrun"
)

var errChanges = errors.New("the plan has changes")

func newUpCmd(app *App) *cobra.Command {
	var allowDisruption, allowDowngrade bool
	cmd := &cobra.Command{
		Use:   "up <env>",
		Short: "Create or update the cluster's infrastructure (plan, confirm, apply)",
		Long: `Plan the environment, show the summary, ask for confirmation (--yes to skip;
refused without a terminal) and apply the saved plan, printing progress from
Terraform's JSON stream and a table of the outputs at the end. The state
bucket is created and terraform init run first when needed. Ctrl-C asks
Terraform to stop cleanly (state saved, lock released).`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if app.Nodes && app.Endpoint != "" {
				return UsageError("--nodes runs the emulator inside the lab itself; drop --endpoint %s", app.Endpoint)
			}
			start := time.Now()
			ctx, stop := tfrun.HandleInterrupts(cmd.Context(), app.Stderr, args[0])
			defer stop()
			// Bad input first, then the refusal when nobody can confirm.
			e, err := app.openEnvChecked(ctx, args[0], cluster.StartEmulator, func(*config.Cluster) error {
				return app.confirmable("apply")
			})
			if err != nil {
				return err
			}
			opts := cluster.UpOptions{Progress: app.progress, AllowDisruption: allowDisruption, AllowDowngrade: allowDowngrade}
			if !app.JSON() {
				opts.Preview = func(p cluster.UpPreview) {
					app.Printf("Cluster %s, environment %s, region %s, account %s\n", e.Config.Name, e.Name, e.Config.Region, p.Account)
					app.printSummary(p.Summary)
					app.Printf("%s", cluster.DisruptionText("Disruptions, allowed by --allow-disruption:", p.Disruptions))
					app.Printf("%s\n", p.Cost())
					if note := e.EmulatorNote(); note != "" {
						app.Printf("%s\n", note)
					}
				}
			}
			res, err := cluster.RunUp(ctx, e, opts)
			if err != nil {
				return err
			}
			elapsed := time.Since(start).Truncate(time.Second)
			res.Elapsed = elapsed.String()
			if app.JSON() {
				return app.PrintJSON(res)
			}
			if res.Applied {
				app.Printf("\nApplied %d changes in %s.\n\n", res.Summary.Total(), elapsed)
			} else {
				app.Printf("\nNothing to apply (%s).\n\n", elapsed)
			}
			app.Table(res.Outputs.Rows())
			app.Printf("\n")
			cluster.DelegationNextStep(ctx, e, &res.Outputs, app.Stdout, cluster.DefaultDNSDeps())
			if e.Local {
				app.Printf("\nThe cluster lives in the local emulator (pid %d): its data is gone when that process stops. Tear down with: kforge down %s\n", e.Emulator.PID, e.Name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&allowDisruption, "allow-disruption", false, "apply a plan that replaces or destroys what the running cluster needs (listed by kforge plan)")
	cmd.Flags().BoolVar(&allowDowngrade, "allow-downgrade", false, "apply although a newer kforge release made the last apply (its agent and cluster.json are replaced by this release's)")
	cmd.Flags().BoolVar(&app.Nodes, "nodes", false, "local environments: run the emulator inside a lab on this machine and boot every instance as a real node (root; docs/LAB.md)")
	return cmd
}
