package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/graph"
	"github.com/kforge/kforge/internal/tfrun"
)

func newGraphCmd(app *App) *cobra.Command {
	var format, out, from, planPath string
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
			format = strings.ToLower(format)
			if !slices.Contains(graph.Formats, format) {
				return UsageError("--format must be one of %s, not %q", strings.Join(graph.Formats, ", "), format)
			}
			if from != "plan" && from != "state" {
				return UsageError("--from must be plan or state, not %q", from)
			}
			if from == "state" && planPath != "" {
				return UsageError("--plan and --from state exclude each other")
			}
			if err := graph.CheckRenderer(format); err != nil {
				return UsageError("%v", err)
			}
			if out == "" && format == "png" {
				if f, ok := app.Stdout.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
					return UsageError("refusing to write PNG to a terminal: add --out %s.png", args[0])
				}
			}
			ctx, stop := tfrun.HandleInterrupts(cmd.Context(), app.Stderr, args[0])
			defer stop()

			var src string
			var e *Env
			opts := graph.Options{}
			if from == "state" {
				var err error
				if e, err = app.OpenEnv(ctx, args[0]); err != nil {
					return err
				}
				r, err := e.InitRunner(ctx)
				if err != nil {
					return err
				}
				state, err := r.State(ctx)
				if err != nil {
					return err
				}
				if state.Values == nil {
					return &ExitError{Code: ExitFailure, Err: fmt.Errorf("environment %q has nothing applied: run `kforge up %s`, or draw the plan (--from plan)", args[0], args[0])}
				}
				opts = app.graphOptions(e)
				if src, err = graph.FromState(state, opts); err != nil {
					return err
				}
			} else {
				var plan *tfjson.Plan
				var err error
				plan, e, err = app.reportPlan(ctx, args[0], planPath)
				defer e.ReleaseEmulator()
				if err != nil {
					return err
				}
				opts = app.graphOptions(e)
				if src, err = graph.FromPlan(plan, opts); err != nil {
					return err
				}
			}
			data, err := graph.Render(ctx, src, format)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = app.Stdout.Write(data)
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			abs, _ := filepath.Abs(out)
			app.Notef("Wrote %s (%s, from the %s).\n", abs, format, from)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "dot", "dot, svg or png (svg and png need graphviz)")
	cmd.Flags().StringVar(&out, "out", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&from, "from", "plan", "draw the plan (before up) or the state (after up)")
	cmd.Flags().StringVar(&planPath, "plan", "", "draw this saved plan (binary, or JSON from terraform show -json) instead of planning")
	return cmd
}

// graphOptions adds what only the CLI knows: the registrar and the state
// bucket (e is nil when the plan came from a JSON file).
func (app *App) graphOptions(e *Env) graph.Options {
	var opts graph.Options
	if e == nil {
		return opts
	}
	switch e.Config.DNS.Registrar {
	case "porkbun":
		opts.Registrar = "Porkbun"
	case "route53":
		opts.Registrar = "parent Route 53 zone"
	default:
		opts.Registrar = "your registrar (by hand)"
	}
	opts.StateBucket = e.KnownStateBucket()
	return opts
}
