package cli

import (
	"fmt"
	"net/netip"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/lab"
)

// newLabCmd is the process that holds a lab while the environment lives
// (started by `up <env> --nodes`, stopped by `down <env>`).
func newLabCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "lab", Short: "Real nodes on this machine for a local environment (started by up --nodes)", Hidden: true}
	var vpc string
	opts := lab.ServeOptions{Log: app.Stderr}
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the lab: emulator and resolver in its VPC, a node for every instance",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var err error
			if opts.VPC, err = netip.ParsePrefix(vpc); err != nil {
				return UsageError("--vpc: %v", err)
			}
			if opts.Cluster == "" || opts.Region == "" || opts.ReadyFile == "" {
				return UsageError("--cluster, --region and --ready-file are required")
			}
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return lab.Serve(ctx, opts)
		},
	}
	f := serve.Flags()
	f.StringVar(&vpc, "vpc", "", "the environment's VPC CIDR")
	f.StringVar(&opts.Cluster, "cluster", "", "cluster name (kforge.io/cluster tag of its instances)")
	f.StringVar(&opts.Region, "region", "", "AWS region")
	f.StringVar(&opts.ReadyFile, "ready-file", "", "file written with the emulator's loopback URL once it serves")
	f.StringVar(&opts.Kubernetes, "kubernetes-version", "", "the Kubernetes release the nodes install from the lab's package source (built once, cached)")
	sweep := &cobra.Command{
		Use:   "sweep",
		Short: "Remove what a killed lab left: its processes, mounts and namespaces",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			left, err := lab.SweepAll(c.Context())
			if err == nil || left.Count() > 0 {
				fmt.Fprintf(app.Stdout, "lab leftovers: %s\n", left)
			}
			return err
		},
	}
	cmd.AddCommand(serve, sweep)
	return cmd
}
