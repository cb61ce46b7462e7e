package cli

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
)

func newOutputCmd(app *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "output <env>",
		Short: "Print the cluster's outputs (NLB DNS name, name servers, API endpoint, buckets...)",
		Args:  envArg,
		RunE: app.onEnv(func(ctx context.Context, e *Env, _ []string) error {
			out, err := e.AppliedOutputs(ctx)
			if err != nil {
				return err
			}
			if asJSON || app.JSON() {
				return app.PrintJSON(out)
			}
			app.Table(outputRows(out))
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outputs as JSON (same as --output json)")
	return cmd
}

// outputRows renders the outputs as a two-column table.
func outputRows(o *cluster.Outputs) [][]string {
	rows := [][]string{
		{"OUTPUT", "VALUE"},
		{"cluster", o.ClusterName + " (" + o.Environment + ", " + o.Region + ")"},
		{"API endpoint", o.APIEndpoint},
		{"NLB DNS name", o.NLBDNSName},
		{"name servers", strings.Join(o.NameServers, " ")},
		{"hosted zone", o.ZoneID},
		{"certs bucket", o.CertsBucket},
		{"VPC", o.VPCID},
		{"EFS", o.EFSID},
		{"KMS key", o.KMSKeyARN},
		{"control-plane ASG", o.ControllerASGName},
	}
	for _, pool := range slices.Sorted(maps.Keys(o.WorkerASGNames)) {
		rows = append(rows, []string{"worker ASG " + pool, o.WorkerASGNames[pool]})
	}
	if o.Emulated {
		rows = append(rows, []string{"emulated", "yes (local emulator; its data lives only as long as its process)"})
	}
	return rows
}
