package cli

import (
	"fmt"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/tfrun"
)

func newGraphCmd(app *App) *cobra.Command {
	var opts cluster.GraphOptions
	var out string
	cmd := &cobra.Command{
		Use:   "graph <env>",
		Short: "Draw the cluster's architecture (Graphviz DOT, SVG or PNG)",
		Long: `Draw the cluster as it is (--from state, after up) or as it will be (--from
plan, the default): registrar, Route 53 zone, the NLB's listeners, worker
pools and control plane, EFS and its mount targets, buckets, KMS and IAM
roles, grouped by VPC and availability zone. --format svg or png runs
Graphviz's dot (apt-get install graphviz). Without --out the drawing goes
to stdout (PNG only when stdout is not a terminal).`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Every flag checked before any cloud call.
			if err := opts.Check(); err != nil {
				return err
			}
			file, err := cluster.OutFile(out)
			if err != nil {
				return err
			}
			if f, ok := app.Stdout.(*os.File); out == "" && opts.Format == "png" && ok && isatty.IsTerminal(f.Fd()) {
				return UsageError("refusing to write PNG to a terminal: add --out %s.png", args[0])
			}
			ctx, stop := tfrun.HandleInterrupts(cmd.Context(), app.Stderr, args[0])
			defer stop()
			res, err := cluster.RunGraph(ctx, args[0], opts, app.clusterOptions())
			if err != nil {
				return err
			}
			if out == "" {
				_, err = app.Stdout.Write(res.Data)
				return err
			}
			if err := os.WriteFile(file, res.Data, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", file, err)
			}
			app.Notef("Wrote %s (%s, from the %s).\n", file, res.Format, res.From)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "dot", "dot, svg or png (svg and png need graphviz)")
	cmd.Flags().StringVar(&out, "out", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&opts.From, "from", "plan", "draw the plan (before up) or the state (after up)")
	cmd.Flags().StringVar(&opts.PlanFile, "plan", "", "draw this saved plan (binary, or JSON from terraform show -json) instead of planning")
	return cmd
}
