package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/config"
)

// Env is an environment resolved for a command (see cluster.Env).
type Env = cluster.Env

// OpenEnvChecked is OpenEnv that first checks the command's own input
// against the valid configuration (cluster.OpenChecked).
func (app *App) OpenEnvChecked(ctx context.Context, name string, check func(*config.Cluster) error) (*Env, error) {
	return app.openEnvChecked(ctx, name, cluster.NeedEmulator, check)
}

// OpenEnv loads and validates the environment (no cloud call when that
// fails) and resolves its endpoint: --endpoint, or a local emulator for an
// `emulator: true` environment or --local, or real AWS.
func (app *App) OpenEnv(ctx context.Context, name string) (*Env, error) {
	return app.openEnv(ctx, name, cluster.NeedEmulator)
}

func (app *App) openEnv(ctx context.Context, name string, mode cluster.EmulatorMode) (*Env, error) {
	return app.openEnvChecked(ctx, name, mode, nil)
}

func (app *App) openEnvChecked(ctx context.Context, name string, mode cluster.EmulatorMode, check func(*config.Cluster) error) (*Env, error) {
	return cluster.OpenChecked(ctx, name, mode, app.clusterOptions(), check)
}

// clusterOptions are the global flags as the application layer takes them.
func (app *App) clusterOptions() cluster.Options {
	return cluster.Options{
		EnvsDir:     app.EnvsDir,
		WorkDir:     app.WorkDir,
		Endpoint:    app.Endpoint,
		Local:       app.Local,
		AgentBinary: app.AgentBinary,
		PluginDir:   app.PluginDir,
		Nodes:       app.Nodes,
		UI:          app,
		Version:     Version,
	}
}

// onEnv is the RunE of a command on one running environment (args[0]): it
// opens the environment and hands it to run.
func (app *App) onEnv(run func(ctx context.Context, e *Env, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := app.OpenEnv(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return run(cmd.Context(), e, args)
	}
}
