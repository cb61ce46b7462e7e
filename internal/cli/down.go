package cli

import (
	"fmt"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/backend"
	"github.com/kforge/kforge/internal/sweep"
	"github.com/kforge/kforge/internal/tfrun"
)

func newDownCmd(app *App) *cobra.Command {
	var purge bool
	cmd := &cobra.Command{
		Use:   "down <env>",
		Short: "Destroy the cluster's infrastructure",
		Long: `Destroy everything the environment's Terraform state holds, after you type the
cluster's name (or --yes). --purge-state then deletes the state bucket with
every object version. For a local environment the emulator kforge started is
stopped afterwards. A cluster that is already gone is not an error.`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			ctx, stop := tfrun.HandleInterrupts(cmd.Context(), app.Stderr, args[0])
			defer stop()
			e, err := app.openEnv(ctx, args[0], optionalEmulator)
			if err != nil {
				return err
			}
			result := downResult{Env: e.Name}
			if e.EmulatorGone {
				result.AlreadyDestroyed = true
				result.Message = fmt.Sprintf("Nothing to destroy: the local emulator of %s is not running, so its cluster and state are already gone.", e.Name)
				return app.printDown(result)
			}
			exists, err := e.stateBucketExists(ctx)
			if err != nil {
				return err
			}
			var r *tfrun.Runner
			count := 0
			if exists {
				if r, err = e.Runner(ctx); err != nil {
					return err
				}
				if err := r.Init(ctx, false); err != nil {
					return err
				}
				st, err := r.State(ctx)
				if err != nil {
					return err
				}
				count = managedResources(st)
			}
			if count == 0 {
				result.AlreadyDestroyed = true
				result.Message = fmt.Sprintf("Nothing to destroy: environment %s has no resources in its state (already destroyed).", e.Name)
			} else {
				if !app.JSON() {
					app.Printf("Environment %s: %d resources of cluster %s will be destroyed.\n", e.Name, count, e.Config.Name)
				}
				if err := app.Confirm(fmt.Sprintf("destroy cluster %s", e.Config.Name), e.Config.Name); err != nil {
					return err
				}
				if err := r.Destroy(ctx, count, app.progressPrinter("destroy")); err != nil {
					return err
				}
				result.Destroyed = count
				result.Message = fmt.Sprintf("Destroyed %d resources of cluster %s.", count, e.Config.Name)
			}
			// What the state never held (ASG instances, a killed apply's
			// orphans) is found by the cluster tag.
			if result.Swept, err = app.sweepLeftovers(ctx, e, exists, count > 0); err != nil {
				return err
			}
			if purge && exists {
				bucket, err := e.StateBucket(ctx)
				if err != nil {
					return err
				}
				cfg, err := awsx.Config(ctx, e.StateRegion(), e.Endpoint)
				if err != nil {
					return err
				}
				deleted, err := backend.Delete(ctx, awsx.S3Client(cfg, e.Endpoint), bucket)
				if err != nil {
					return err
				}
				result.StatePurged = deleted
				result.StateBucket = bucket
			}
			if e.Local {
				if err := e.StopEmulator(); err != nil {
					return err
				}
				result.EmulatorStopped = true
			}
			result.Elapsed = time.Since(start).Truncate(time.Second).String()
			return app.printDown(result)
		},
	}
	cmd.Flags().BoolVar(&purge, "purge-state", false, "also delete the state bucket and every version of every object in it")
	return cmd
}

type downResult struct {
	Env              string           `json:"environment"`
	AlreadyDestroyed bool             `json:"already_destroyed"`
	Destroyed        int              `json:"destroyed"`
	StatePurged      bool             `json:"state_purged"`
	StateBucket      string           `json:"state_bucket,omitempty"`
	Swept            []sweep.Resource `json:"swept,omitempty"`
	EmulatorStopped  bool             `json:"emulator_stopped"`
	Elapsed          string           `json:"elapsed,omitempty"`
	Message          string           `json:"message"`
}

func (app *App) printDown(r downResult) error {
	if app.JSON() {
		return app.PrintJSON(r)
	}
	app.Printf("%s\n", r.Message)
	if len(r.Swept) > 0 {
		app.Printf("Swept %d leftover resources tagged for the cluster.\n", len(r.Swept))
	}
	if r.StatePurged {
		app.Printf("State bucket %s deleted with all object versions.\n", r.StateBucket)
	}
	if r.EmulatorStopped {
		app.Printf("Local emulator stopped.\n")
	}
	return nil
}

// managedResources counts the managed resources in a state, all modules.
func managedResources(st *tfjson.State) int {
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return 0
	}
	var count func(m *tfjson.StateModule) int
	count = func(m *tfjson.StateModule) int {
		n := 0
		for _, r := range m.Resources {
			if r.Mode == tfjson.ManagedResourceMode {
				n++
			}
		}
		for _, c := range m.ChildModules {
			n += count(c)
		}
		return n
	}
	return count(st.Values.RootModule)
}
