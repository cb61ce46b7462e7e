package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/node"
)

// nodeFlags are the settings user data passes to the agent on an instance.
type nodeFlags struct {
	role, pool, bucket, configKey, region string
}

func (f *nodeFlags) bind(cmd *cobra.Command, withRole bool) {
	fl := cmd.Flags()
	if withRole {
		fl.StringVar(&f.role, "role", "", "node role: controller or worker")
		fl.StringVar(&f.pool, "pool", "", "worker pool name (workers only; empty for the controller)")
	}
	fl.StringVar(&f.bucket, "bucket", "", "certs bucket holding bootstrap/, workers/ and controller/")
	fl.StringVar(&f.configKey, "config-key", certstore.ConfigKey, "key of the cluster configuration in the bucket")
	fl.StringVar(&f.region, "region", "", "AWS region of the cluster")
}

// check validates the flags before any cloud call (exit code 2).
func (f *nodeFlags) check(withRole bool) error {
	if withRole {
		switch f.role {
		case node.RoleController:
			if f.pool != "" {
				return UsageError("--pool is for workers; the controller takes none (got %q)", f.pool)
			}
		case node.RoleWorker:
			if f.pool == "" {
				return UsageError("--pool is required for --role worker")
			}
		default:
			return UsageError("--role must be %q or %q, not %q", node.RoleController, node.RoleWorker, f.role)
		}
	}
	if f.bucket == "" {
		return UsageError("--bucket is required (the certs bucket)")
	}
	if f.region == "" {
		return UsageError("--region is required")
	}
	if f.configKey == "" {
		return UsageError("--config-key must not be empty")
	}
	return nil
}

func newNodeCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "The node agent that runs on cluster instances (started by user data and systemd units)",
		Long: "The node agent turns an Amazon Linux 2023 instance into a control-plane node or a worker.\n" +
			"User data installs its systemd units and starts kforge-bootstrap.service, which runs it at\n" +
			"every boot and retries a failure; timers run the token refresh, backups and add-ons.\n" +
			"It needs root, the instance role and the instance metadata service; see docs/NODES.md.",
	}
	cmd.AddCommand(newNodeInstallUnitsCmd(app), newNodeBootstrapCmd(app), newNodeRefreshTokenCmd(app),
		newNodeBackupCmd(app), newNodeAddonsCmd(app), newNodeApproveCSRsCmd(app), newNodeDrainEventsCmd(app))
	return cmd
}

func (app *App) nodeHost() node.Host {
	if app.NodeHost != nil {
		return app.NodeHost
	}
	return node.ExecHost{}
}

func (app *App) nodeBackoff() node.Backoff {
	if app.NodeBackoff != nil {
		return *app.NodeBackoff
	}
	return node.BootstrapBackoff
}

func (app *App) nodeLogger(role string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(app.Stderr, nil)).With("agent", "kforge-node", "role", role)
}

func newNodeInstallUnitsCmd(app *App) *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "install-units",
		Short: "Write /etc/kforge/node.env and the systemd units, and enable the bootstrap unit (no cloud call)",
		Long: "Run by user data before it starts kforge-bootstrap.service: the unit then owns the bootstrap\n" +
			"and its retries, on this boot and every later one.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(true); err != nil {
				return err
			}
			opts := node.Options{Role: f.role, Pool: f.pool, Bucket: f.bucket, ConfigKey: f.configKey, Region: f.region}
			return node.InstallUnits(cmd.Context(), app.nodeHost(), opts, app.nodeLogger(f.role))
		},
	}
	f.bind(cmd, true)
	return cmd
}

func newNodeBootstrapCmd(app *App) *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Bring this instance into the cluster (idempotent: finished phases are skipped)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(true); err != nil {
				return err
			}
			// Reading the configuration is part of the attempt: a failure
			// there is retried, and counts toward the ready deadline, too.
			return node.Attempt(cmd.Context(), app.nodeHost(), app.nodeLogger(f.role), app.nodeBackoff(),
				func(ctx context.Context) error {
					a, err := app.nodeAgent(ctx, f)
					if err != nil {
						return err
					}
					return a.Bootstrap(ctx)
				})
		},
	}
	f.bind(cmd, true)
	return cmd
}

func newNodeRefreshTokenCmd(app *App) *cobra.Command {
	return newControllerTaskCmd(app, "refresh-token",
		"Rotate the bootstrap token when it nears expiry and rewrite workers/join.json (control plane)",
		func(a *node.Agent, ctx context.Context) error {
			_, err := a.RefreshToken(ctx)
			return err
		})
}

func newNodeAddonsCmd(app *App) *cobra.Command {
	return newControllerTaskCmd(app, "addons",
		"Apply the cluster add-ons unless this exact set was applied already (control plane; run by kforge-addons.timer)",
		(*node.Agent).ApplyAddons)
}

func newNodeApproveCSRsCmd(app *App) *cobra.Command {
	return newControllerTaskCmd(app, "approve-csrs",
		"Approve pending kubelet serving CSRs of nodes that are running instances of this cluster (control plane; run by kforge-approve-csrs.timer)",
		(*node.Agent).ApproveServingCSRs)
}

func newNodeBackupCmd(app *App) *cobra.Command {
	return newControllerTaskCmd(app, "backup",
		"Upload the PKI, an etcd snapshot and the admin kubeconfig to controller/ (control plane)",
		(*node.Agent).Backup)
}

// newControllerTaskCmd is a control-plane task run by a systemd timer: the
// node flags without --role, an agent wired to this machine, and run.
func newControllerTaskCmd(app *App, use, short string, run func(*node.Agent, context.Context) error) *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(false); err != nil {
				return err
			}
			f.role = node.RoleController
			a, err := app.nodeAgent(cmd.Context(), f)
			if err != nil {
				return err
			}
			return run(a, cmd.Context())
		},
	}
	f.bind(cmd, false)
	return cmd
}

// nodeAgent wires the agent to this machine and the cluster's AWS account:
// the instance role's credentials, IMDSv2, the bucket and Route 53.
func (app *App) nodeAgent(ctx context.Context, f nodeFlags) (*node.Agent, error) {
	log := app.nodeLogger(f.role)
	cfg, err := awsx.Config(ctx, f.region, app.Endpoint)
	if err != nil {
		return nil, err
	}
	cluster, err := app.nodeCluster(ctx, f, cfg)
	if err != nil {
		return nil, err
	}
	inst, err := node.ReadInstance(ctx, imds.NewFromConfig(cfg))
	if err != nil {
		return nil, err
	}
	log.Info("agent starting", "instance", inst.ID, "zone", inst.AvailabilityZone, "cluster", cluster.ClusterName, "kubernetes", cluster.KubernetesVersion)
	return &node.Agent{
		Host:     app.nodeHost(),
		Bucket:   node.S3Bucket{Client: awsx.S3Client(cfg, app.Endpoint), Name: f.bucket, KMSKeyID: cluster.KMSKeyARN},
		DNS:      node.Route53DNS{Client: awsx.Route53Client(cfg)},
		Instance: inst,
		Cluster:  cluster,
		Options:  node.Options{Role: f.role, Pool: f.pool, Bucket: f.bucket, ConfigKey: f.configKey, Region: f.region},
		Log:      log,
		Backoff:  node.Backoff{Initial: 5 * time.Second, Max: 2 * time.Minute},
		Nodes:    node.EC2NodeFinder{Client: awsx.EC2Client(cfg), Cluster: cluster.ClusterName},
	}, nil
}
