package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
)

// tunnelPortUsage is the --tunnel-port help of every command that talks to
// the API server.
const tunnelPortUsage = "reach the API server through this local port, forwarded to the control plane's 6443 (an SSM port forward; the lab's loopback forward on the emulator)"

func newValidateCmd(app *App) *cobra.Command {
	var waitFor, interval time.Duration
	var tunnelPort int
	cmd := &cobra.Command{
		Use:   "validate <env>",
		Short: "Check that every node is Ready, every NLB target healthy and etcd well under its quota, waiting up to --wait",
		Args:  envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := cluster.ValidateOptions{Wait: waitFor, Interval: interval, TunnelPort: tunnelPort}
			if err := opts.Check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			e, err := app.OpenEnv(ctx, args[0])
			if err != nil {
				return err
			}
			r, err := cluster.RunValidate(ctx, e, opts)
			if r == nil {
				return err
			}
			if err := app.report(r, err, func() {
				for _, line := range r.Lines() {
					app.Printf("%s\n", line)
				}
			}); err != nil {
				return err
			}
			app.Notef("cluster %s is valid\n", args[0])
			return nil
		},
	}
	cmd.Flags().DurationVar(&waitFor, "wait", 0, "keep checking for this long (for example 10m) before failing")
	cmd.Flags().DurationVar(&interval, "interval", 15*time.Second, "time between checks while waiting")
	cmd.Flags().IntVar(&tunnelPort, "tunnel-port", 0, tunnelPortUsage)
	return cmd
}
