package cluster

import (
	"context"
	"slices"
	"strings"

	"github.com/kforge/kforge/internal/graph"
)

// GraphOptions choose what `kforge graph` draws and how.
type GraphOptions struct {
	// Format is one of graph.Formats (dot, svg, png); case does not matter.
	Format string
	// From is "plan" (the cluster as it will be) or "state" (as it is).
	From string
	// PlanFile draws this saved plan (binary, or JSON from terraform show
	// -json) instead of planning; only with From "plan".
	PlanFile string
}

// Check normalises the options and refuses bad ones with exit code 2,
// before any cloud call: an unknown format or source, a plan file with the
// state, a format whose renderer (Graphviz's dot) is missing.
func (o *GraphOptions) Check() error {
	o.Format = strings.ToLower(o.Format)
	if !slices.Contains(graph.Formats, o.Format) {
		return UsageError("--format must be one of %s, not %q", strings.Join(graph.Formats, ", "), o.Format)
	}
	if o.From != "plan" && o.From != "state" {
		return UsageError("--from must be plan or state, not %q", o.From)
	}
	if o.From == "state" && o.PlanFile != "" {
		return UsageError("--plan and --from state exclude each other")
	}
	if err := graph.CheckRenderer(o.Format); err != nil {
		return UsageError("%v", err)
	}
	return nil
}

// GraphResult is a drawing of the cluster.
type GraphResult struct {
	Data   []byte // in Format
	Format string
	From   string
}

// RunGraph draws environment envName from its state (after up) or its plan
// (planned now, or read from opts.PlanFile). An emulator it started for the
// plan is stopped before it returns.
func RunGraph(ctx context.Context, envName string, opts GraphOptions, o Options) (*GraphResult, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	var src string
	if opts.From == "state" {
		e, err := Open(ctx, envName, NeedEmulator, o)
		if err != nil {
			return nil, err
		}
		r, err := e.InitRunner(ctx)
		if err != nil {
			return nil, err
		}
		state, err := r.State(ctx)
		if err != nil {
			return nil, err
		}
		if state.Values == nil {
			return nil, Failure("environment %q has nothing applied: run `kforge up %s`, or draw the plan (--from plan)", envName, envName)
		}
		if src, err = graph.FromState(state, graphOptions(e)); err != nil {
			return nil, err
		}
	} else {
		plan, e, err := ReportPlan(ctx, envName, opts.PlanFile, o)
		defer e.ReleaseEmulator()
		if err != nil {
			return nil, err
		}
		if src, err = graph.FromPlan(plan, graphOptions(e)); err != nil {
			return nil, err
		}
	}
	data, err := graph.Render(ctx, src, opts.Format)
	if err != nil {
		return nil, err
	}
	return &GraphResult{Data: data, Format: opts.Format, From: opts.From}, nil
}

// graphOptions adds what the drawing cannot read from the plan or state:
// the registrar and the state bucket (e is nil when the plan came from a
// JSON file).
func graphOptions(e *Env) graph.Options {
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
