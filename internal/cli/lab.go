package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/lab"
)

// newLabCmd is the process that holds a lab while the environment lives
// (started by `up <env> --nodes`, stopped by `down <env>`).
func newLabCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "lab", Short: "Real nodes on this machine for a local environment (started by up --nodes)", Hidden: true}
	var vpc, clusterName, region, ready string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the lab: emulator and resolver in its VPC, a node for every instance",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			prefix, err := netip.ParsePrefix(vpc)
			if err != nil {
				return UsageError("--vpc: %v", err)
			}
			if clusterName == "" || region == "" || ready == "" {
				return UsageError("--cluster, --region and --ready-file are required")
			}
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			lc, err := lab.StartCluster(ctx, lab.ClusterOptions{VPC: prefix, Cluster: clusterName, Region: region,
				EmulatorEnv: []string{"MOTO_IAM_LOAD_MANAGED_POLICIES=true"}, Options: lab.Options{Log: app.Stderr}})
			if err != nil {
				return err
			}
			data, _ := json.Marshal(cluster.LabReady{URL: lc.Emulator.URL, LabID: lc.ID})
			if err := os.WriteFile(ready, data, 0o600); err != nil {
				return errors.Join(fmt.Errorf("writing %s: %w", ready, err), lc.Close(context.Background()))
			}
			fmt.Fprintf(app.Stderr, "lab %s serving: emulator at %s (inside the VPC at %s)\n", lc.ID, lc.Emulator.URL, lc.Emulator.VPCURL)
			<-ctx.Done()
			fmt.Fprintf(app.Stderr, "lab %s stopping\n", lc.ID)
			return lc.Close(context.Background())
		},
	}
	f := serve.Flags()
	f.StringVar(&vpc, "vpc", "", "the environment's VPC CIDR")
	f.StringVar(&clusterName, "cluster", "", "cluster name (kforge.io/cluster tag of its instances)")
	f.StringVar(&region, "region", "", "AWS region")
	f.StringVar(&ready, "ready-file", "", "file written with the emulator's loopback URL once it serves")
	sweep := &cobra.Command{
		Use:   "sweep",
		Short: "Remove what a killed lab left: its processes, mounts and namespaces",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := lab.Sweep(c.Context(), ""); err != nil {
				return err
			}
			left, err := lab.Inventory("", nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "lab leftovers: %s\n", left)
			if left.Count() > 0 {
				return fmt.Errorf("%d lab leftovers remain", left.Count())
			}
			return nil
		},
	}
	cmd.AddCommand(serve, sweep)
	return cmd
}
