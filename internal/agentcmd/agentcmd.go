// Package agentcmd is the node agent's command surface, `kforge node ...`:
// its flags, their checks (exit code 2 before any cloud call) and its
// output. What the commands do is internal/node's, wired by node.NewAgent
// and node.NewDrainer; internal/cli mounts the tree as `node`.
package agentcmd

import (
	"context"
	"io"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/exitcode"
	"github.com/kforge/kforge/internal/node"
)

// Options are what the agent's commands share.
type Options struct {
	Stdout, Stderr io.Writer
	// Endpoint points at the global --endpoint flag, read when a command
	// runs (empty: AWS itself).
	Endpoint *string
	// Host is the machine the agent acts on; nil means this one
	// (node.ExecHost). Backoff overrides node.BootstrapBackoff.
	Host    node.Host
	Backoff *node.Backoff
}

// New returns the `node` command tree.
func New(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "The node agent that runs on cluster instances (started by user data and systemd units)",
		Long: "The node agent turns an Amazon Linux 2023 instance into a control-plane node or a worker.\n" +
			"User data installs its systemd units and starts kforge-bootstrap.service, which runs it at\n" +
			"every boot and retries a failure; timers run the token refresh, backups and add-ons.\n" +
			"It needs root, the instance role and the instance metadata service; see docs/NODES.md.",
	}
	cmd.AddCommand(newInstallUnitsCmd(o), newBootstrapCmd(o), newDrainEventsCmd(o))
	for _, t := range controllerTasks {
		cmd.AddCommand(newControllerTaskCmd(o, t.use, t.short, t.run))
	}
	cmd.AddCommand(newRenewCertsCmd(o))
	return cmd
}

// flags are the settings user data passes to the agent on an instance.
type flags struct {
	role, pool, bucket, configKey, region string
}

func (f *flags) bind(cmd *cobra.Command, withRole bool) {
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
func (f *flags) check(withRole bool) error {
	if withRole {
		switch f.role {
		case node.RoleController:
			if f.pool != "" {
				return exitcode.Usagef("--pool is for workers; the controller takes none (got %q)", f.pool)
			}
		case node.RoleWorker:
			if f.pool == "" {
				return exitcode.Usagef("--pool is required for --role worker")
			}
		default:
			return exitcode.Usagef("--role must be %q or %q, not %q", node.RoleController, node.RoleWorker, f.role)
		}
	}
	if f.bucket == "" {
		return exitcode.Usagef("--bucket is required (the certs bucket)")
	}
	if f.region == "" {
		return exitcode.Usagef("--region is required")
	}
	if f.configKey == "" {
		return exitcode.Usagef("--config-key must not be empty")
	}
	return nil
}

func (f *flags) options() node.Options {
	return node.Options{Role: f.role, Pool: f.pool, Bucket: f.bucket, ConfigKey: f.configKey, Region: f.region}
}

func (o *Options) host() node.Host {
	if o.Host != nil {
		return o.Host
	}
	return node.ExecHost{}
}

func (o *Options) backoff() node.Backoff {
	if o.Backoff != nil {
		return *o.Backoff
	}
	return node.BootstrapBackoff
}

func (o *Options) logger(role string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(o.Stderr, nil)).With("agent", "kforge-node", "role", role)
}

// wiring is what node.NewAgent and node.NewDrainer build the agent from.
func (o *Options) wiring(f flags) node.Wiring {
	w := node.Wiring{Options: f.options(), Host: o.host(), Log: o.logger(f.role)}
	if o.Endpoint != nil {
		w.Endpoint = *o.Endpoint
	}
	return w
}

func newInstallUnitsCmd(o *Options) *cobra.Command {
	var f flags
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
			return node.InstallUnits(cmd.Context(), o.host(), f.options(), o.logger(f.role))
		},
	}
	f.bind(cmd, true)
	return cmd
}

func newBootstrapCmd(o *Options) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Bring this instance into the cluster (idempotent: finished phases are skipped)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(true); err != nil {
				return err
			}
			w := o.wiring(f)
			// A stop (systemctl stop, a reboot) ends the attempt through its
			// context, so that what it must undo (the join's token files)
			// is undone before the process exits.
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			// Reading the configuration is part of the attempt: a failure
			// there is retried, and counts toward the ready deadline, too.
			return node.Attempt(ctx, w.Host, w.Log, o.backoff(),
				func(ctx context.Context) error {
					a, err := node.NewAgent(ctx, w)
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

// controllerTasks are the control plane's periodic tasks, each run by a
// systemd timer (internal/node/units) as `kforge node <use>`.
var controllerTasks = []struct {
	use, short string
	run        func(*node.Agent, context.Context) error
}{
	{"refresh-token", "Rotate the bootstrap token when it nears expiry and rewrite workers/join.json (control plane)",
		func(a *node.Agent, ctx context.Context) error {
			_, err := a.RefreshToken(ctx)
			return err
		}},
	{"backup", "Upload the PKI, an etcd snapshot and the admin kubeconfig to controller/ (control plane)",
		(*node.Agent).Backup},
	{"addons", "Apply the cluster add-ons unless this exact set was applied already (control plane; run by kforge-addons.timer)",
		(*node.Agent).ApplyAddons},
	{"approve-csrs", "Approve pending kubelet CSRs of nodes that are running instances of this cluster: joining workers' client certificates and every node's serving certificate (control plane; run by kforge-approve-csrs.timer)",
		(*node.Agent).ApproveCSRs},
	{"upgrade-control-plane", "Take an etcd snapshot and run kubeadm upgrade apply when cluster.json names a newer Kubernetes version (control plane; run by kforge-upgrade.timer)",
		(*node.Agent).UpgradeControlPlane},
}

// newRenewCertsCmd is the control plane's certificate renewal, run daily
// by kforge-renew-certs.timer; --now renews whatever the expiry.
func newRenewCertsCmd(o *Options) *cobra.Command {
	var now bool
	cmd := newControllerTaskCmd(o, "renew-certs",
		"Renew kubeadm's certificates within 90 days of expiry and restart the control plane on them (control plane; run by kforge-renew-certs.timer)",
		func(a *node.Agent, ctx context.Context) error {
			if now {
				return a.RenewCertificatesWithin(ctx, node.RenewNow)
			}
			return a.RenewCertificates(ctx)
		})
	cmd.Flags().BoolVar(&now, "now", false, "renew whatever the certificates' expiry")
	return cmd
}

// newControllerTaskCmd is a control-plane task run by a systemd timer: the
// node flags without --role, an agent wired to this machine, and run.
func newControllerTaskCmd(o *Options, use, short string, run func(*node.Agent, context.Context) error) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(false); err != nil {
				return err
			}
			f.role = node.RoleController
			a, err := node.NewAgent(cmd.Context(), o.wiring(f))
			if err != nil {
				return err
			}
			return run(a, cmd.Context())
		},
	}
	f.bind(cmd, false)
	return cmd
}
