// Package cli holds kforge's cobra commands: they parse flags, ask for
// confirmation and print. What a command does lives in internal/cluster as
// a workflow, RunX(ctx, env, opts), that returns a result.
//
// To add a command: write internal/cli/<name>.go with
//
//	func new<Name>Cmd(app *App) *cobra.Command
//
// and add it to the list in NewRootCmd below. Use app.OpenEnv for the
// environment (a *cluster.Env) to pass to a workflow (an invalid
// configuration is exit code 2 by itself), app.OpenEnvChecked when the
// command's flags must also be checked against that configuration,
// app.Print / app.PrintJSON for results (honour app.JSON()), and UsageError
// for bad input (exit code 2). Write results to app.Stdout and notes to
// app.Stderr.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/agentcmd"
	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/node"
)

// Version is the kforge version, set at build time with
// -ldflags "-X github.com/kforge/kforge/internal/cli.Version=v1.2.3".
var Version = "dev"

// Exit codes.
const (
	ExitOK          = cluster.ExitOK
	ExitFailure     = cluster.ExitFailure
	ExitUsage       = cluster.ExitUsage
	ExitInterrupted = cluster.ExitInterrupted
)

// App is what every command shares: where it writes, the global flags.
type App struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// Global flags.
	Output      string // text or json
	Endpoint    string // AWS-compatible endpoint; kforge neither starts nor stops it
	PluginDir   string // Terraform provider mirror (-plugin-dir)
	EnvsDir     string // where <env>.yaml files live
	WorkDir     string // where .kforge/<env>/ work directories live
	Yes         bool   // answer yes to confirmations
	Local       bool   // use a local emulator whatever the config says
	AgentBinary string // linux kforge binary uploaded for nodes
	Nodes       bool   // up: run the local emulator in a lab that boots real nodes

	// NodeHost is the machine `kforge node` acts on; nil means this one
	// (node.ExecHost). NodeBackoff overrides node.BootstrapBackoff. See
	// internal/agentcmd, the node agent's commands.
	NodeHost    node.Host
	NodeBackoff *node.Backoff

	// ran is set once a command's RunE starts: errors before it are usage errors.
	ran bool
}

// ExitError carries the process exit code of a failure.
type ExitError = cluster.ExitError

// UsageError is invalid input from the user: exit code 2.
var UsageError = cluster.UsageError

// NewRootCmd builds the kforge command tree for app.
func NewRootCmd(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:           "kforge",
		Short:         "Bring up and run a self-managed Kubernetes cluster on AWS (or on a local AWS emulator)",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if app.Output != "text" && app.Output != "json" {
				return UsageError("--output must be text or json, not %q", app.Output)
			}
			if app.Local && app.Endpoint != "" {
				return UsageError("--local and --endpoint exclude each other: --local starts an emulator, --endpoint uses one already running")
			}
			app.ran = true
			return nil
		},
	}
	root.SetIn(app.Stdin)
	root.SetOut(app.Stdout)
	root.SetErr(app.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: ExitUsage, Err: err} })

	f := root.PersistentFlags()
	f.StringVarP(&app.Output, "output", "o", "text", "output format of results: text or json")
	f.StringVar(&app.Endpoint, "endpoint", os.Getenv("KFORGE_ENDPOINT"), "use this running AWS-compatible endpoint (moto, LocalStack) for every service; kforge neither starts nor stops it (env KFORGE_ENDPOINT)")
	f.StringVar(&app.PluginDir, "plugin-dir", os.Getenv("KFORGE_PLUGIN_DIR"), "Terraform provider mirror directory passed to terraform init -plugin-dir (env KFORGE_PLUGIN_DIR); remembered per environment once given")
	f.StringVar(&app.EnvsDir, "envs-dir", cmp.Or(os.Getenv("KFORGE_ENVS_DIR"), "envs"), "directory holding <env>.yaml files (env KFORGE_ENVS_DIR)")
	f.StringVar(&app.WorkDir, "workdir", cmp.Or(os.Getenv("KFORGE_WORKDIR"), ".kforge"), "work directory: staged Terraform, plans, logs, emulator state per environment (env KFORGE_WORKDIR)")
	f.BoolVarP(&app.Yes, "yes", "y", false, "answer yes to confirmation prompts")
	f.BoolVar(&app.Local, "local", false, "run against a local AWS emulator (moto_server) that kforge starts, whatever the environment's config says")
	f.StringVar(&app.AgentBinary, "agent-binary", os.Getenv("KFORGE_AGENT_BINARY"), "linux kforge binaries uploaded for the nodes, comma-separated, one per architecture the nodes run (amd64, arm64); default: this executable when it is a linux binary, and kforge-linux-<arch> next to it (env KFORGE_AGENT_BINARY)")

	// Commands. Add new ones here (see the package comment).
	root.AddCommand(
		newInitCmd(app),
		withDocPage(newPlanCmd(app), "docs/OPERATIONS.md"),
		withDocPage(newUpCmd(app), "docs/OPERATIONS.md"),
		withDocPage(newDownCmd(app), "docs/OPERATIONS.md"),
		withDocPage(newRollCmd(app), "docs/OPERATIONS.md"),
		withDocPage(newUpgradeCmd(app), "docs/OPERATIONS.md"),
		newStatusCmd(app),
		newOutputCmd(app),
		newUnlockCmd(app),
		newOrphansCmd(app),
		newVersionCmd(app),
		newCompletionCmd(app),
		withDocPage(group(newDNSCmd(app)), "docs/DNS.md"),
		withDocPage(newCostCmd(app), "docs/COST.md"),
		newGraphCmd(app),
		withDocPage(group(agentcmd.New(&agentcmd.Options{Stdout: app.Stdout, Stderr: app.Stderr,
			Endpoint: &app.Endpoint, Host: app.NodeHost, Backoff: app.NodeBackoff})), "docs/NODES.md"),
		newKubeconfigCmd(app),
		withDocPage(newValidateCmd(app), "docs/OPERATIONS.md"),
		group(newLabCmd(app)),
	)
	return root
}

// Execute runs kforge with args and returns the process exit code.
func Execute(ctx context.Context, app *App, args []string) int {
	root := NewRootCmd(app)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	if code == ExitFailure && !app.ran {
		code = ExitUsage // unknown command, bad arguments, flag errors
	}
	if ee := (*ExitError)(nil); errors.As(err, &ee) && ee.Silent {
		return code
	}
	fmt.Fprintf(app.Stderr, "Error: %v\n", err)
	if hint := helpHint(cmd, err, code, app.ran); hint != "" {
		fmt.Fprintln(app.Stderr, hint)
	}
	if code == ExitUsage && slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--detailed-exitcode") }) {
		return ExitFailure // 2 says "changes" there, as in terraform plan
	}
	return code
}

// ExitCode maps an error to kforge's exit codes (see cluster.ExitCode).
var ExitCode = cluster.ExitCode

// interruptible is cmd's context, cancelled by Ctrl-C or SIGTERM: a
// workflow stops between calls.
func interruptible(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

// group makes a group command refuse an unknown subcommand (exit code 2).
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args, cmd.RunE = cobra.NoArgs, func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}

// envArg is the Args validator of commands taking exactly one environment.
func envArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return UsageError("%s takes one environment name (for example: %s local), got %d arguments", cmd.CommandPath(), cmd.CommandPath(), len(args))
	}
	return nil
}
