package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
)

func newStatusCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "status <env>",
		Short: "Show the cluster's outputs and live facts: ASG capacity, NLB target health, control-plane instance",
		Args:  envArg,
		RunE: app.onEnv(func(ctx context.Context, e *Env, args []string) error {
			st, err := cluster.RunStatus(ctx, e)
			if err != nil {
				return err
			}
			if app.JSON() {
				return app.PrintJSON(st)
			}
			app.printStatus(st)
			return nil
		}),
	}
}

func (app *App) printStatus(st *cluster.Status) {
	app.Table(outputRows(&st.Outputs))
	app.Printf("\n")
	rows := [][]string{{"POOL", "ASG", "MIN", "DESIRED", "MAX", "IN SERVICE"}}
	for _, p := range append([]cluster.PoolStatus{st.ControlPlane}, st.Pools...) {
		rows = append(rows, []string{p.Pool, p.ASG, fmt.Sprint(p.Min), fmt.Sprint(p.Desired), fmt.Sprint(p.Max), fmt.Sprint(p.InService)})
	}
	app.Table(rows)
	app.Printf("\n")
	rows = [][]string{{"CONTROL-PLANE INSTANCE", "STATE", "LIFECYCLE", "HEALTH"}}
	for _, c := range st.Controllers {
		rows = append(rows, []string{c.ID, c.State, c.Lifecycle, c.Health})
	}
	if len(st.Controllers) == 0 {
		rows = append(rows, []string{"(none)", "", "", ""})
	}
	app.Table(rows)
	app.Printf("\n")
	rows = [][]string{{"TARGET GROUP", "TARGETS", "HEALTH"}}
	for _, tg := range st.TargetGroups {
		var parts []string
		for _, s := range slices.Sorted(maps.Keys(tg.States)) {
			parts = append(parts, fmt.Sprintf("%s=%d", s, tg.States[s]))
		}
		rows = append(rows, []string{tg.Name, fmt.Sprint(tg.Targets), strings.Join(parts, " ")})
	}
	app.Table(rows)
	if st.Note != "" {
		app.Printf("\n%s\n", st.Note)
	}
}
