package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/sweep"
)

// Orphans are cluster resources the Terraform state does not know. Terraform
// saves remote state at most every 20 s and records a resource only when its
// create returns, so a killed apply leaves them behind: named ones make the
// next apply fail with "already exists", unnamed ones would be created twice.

func newOrphansCmd(app *App) *cobra.Command {
	var del bool
	cmd := &cobra.Command{
		Use:   "orphans <env>",
		Short: "List (or --delete) the cluster's AWS resources its Terraform state does not know",
		Long: `List every AWS resource tagged kforge.io/cluster=<cluster> (or named after the
cluster, or inside one of its VPCs) that appears nowhere in the Terraform
state: what a killed apply created before it could save the state. Run-time
children of resources in the state (instances of its ASGs, their network
interfaces and volumes, records in its zone, EFS access points) are not
orphans, and neither are the certs bucket, log bucket and key an earlier
down kept (certsBucketForceDestroy: false), which the next up adopts.
--delete removes the orphans in dependency order while holding the state
lock; ` + "`kforge up`" + ` does the same before it plans.`,
		Args: envArg,
		RunE: app.onEnv(func(ctx context.Context, e *Env, args []string) error {
			res, err := cluster.RunOrphans(ctx, e, cluster.OrphansOptions{Delete: del, Show: app.printOrphans})
			if err != nil {
				return err
			}
			if app.JSON() {
				return app.PrintJSON(res)
			}
			switch {
			case len(res.Orphans) == 0:
				app.Printf("No orphans: every resource of cluster %s is in the Terraform state of %s.\n", e.Config.Name, e.Name)
			case res.Deleted != nil:
				app.Printf("Deleted %d orphaned resources of cluster %s.\n", len(res.Deleted.Deleted), e.Config.Name)
			default:
				app.printOrphans(res.Orphans)
				app.Printf("%d resources of cluster %s are not in the Terraform state of %s (an apply was interrupted after creating them). Delete them with: kforge orphans %s --delete\n", len(res.Orphans), e.Config.Name, e.Name, e.Name)
			}
			if len(res.Kept) > 0 {
				app.Printf("Kept by an earlier down, not orphans (the next `kforge up %s` adopts them): %s.\n", e.Name, strings.Join(cluster.DescribeKept(res.Kept), ", "))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&del, "delete", false, "delete the orphans (asks for confirmation unless --yes)")
	return cmd
}

func (app *App) printOrphans(rs []sweep.Resource) {
	if app.JSON() { // the JSON result lists them; stdout holds only it
		return
	}
	rows := [][]string{{"KIND", "ID", "NAME", "MATCHED BY"}}
	for _, r := range rs {
		rows = append(rows, []string{r.Kind, r.ID, r.Name, r.Why})
	}
	app.Table(rows)
}
