package agentcmd

import (
	"context"
	"encoding/json"
	"errors"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/exitcode"
	"github.com/kforge/kforge/internal/node"
	"github.com/kforge/kforge/internal/nodelifecycle"
)

func newDrainEventsCmd(o *Options) *cobra.Command {
	var f flags
	var kubeconfig string
	var once bool
	cmd := &cobra.Command{
		Use:   "drain-events",
		Short: "Drain the nodes of terminating and interrupted worker instances, reading the node events queue (control plane; run by kforge-drain-events.service)",
		Long: "Long-polls the node events queue named in cluster.json (node_events_queue_url). A termination lifecycle\n" +
			"action: cordon, drain through the eviction API (PodDisruptionBudgets respected) for at most the hook's\n" +
			"heartbeat timeout less a minute, delete the Node, complete the action with CONTINUE. A Spot interruption\n" +
			"warning: the same within the two minutes, without an action to complete. A rebalance recommendation or an\n" +
			"AWS Health scheduled change: cordon. A terminated instance: delete its Node. A message is deleted only once\n" +
			"handled. Every two minutes it also looks for instances in Terminating:Wait the queue did not deliver, and,\n" +
			"on a control plane that restored a snapshot by itself, replaces the workers launched before the restore\n" +
			"that stay without a Node (their kubelet registered after the snapshot and never registers again).\n" +
			"See docs/OPERATIONS.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(false); err != nil {
				return err
			}
			if kubeconfig == "" {
				return exitcode.Usagef("--kubeconfig must not be empty")
			}
			f.role = node.RoleController
			w := o.wiring(f)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			d, err := node.NewDrainer(ctx, w, kubeconfig)
			if errors.Is(err, node.ErrNoEventsQueue) {
				w.Log.Info(err.Error())
				return nil
			}
			if err != nil {
				return err
			}
			// A snapshot request (kforge roll --control-plane) runs the
			// backup this node's timer runs, then records the request.
			d.Snapshot = func(ctx context.Context, request string) error {
				a, err := node.NewAgent(ctx, w)
				if err != nil {
					return err
				}
				return a.SnapshotOnRequest(ctx, request)
			}
			if !once {
				return d.Run(ctx)
			}
			d.Wait = time.Second
			outcomes, err := d.ReceiveOnce(ctx)
			if outcomes == nil {
				outcomes = []nodelifecycle.Outcome{}
			}
			enc := json.NewEncoder(o.Stdout)
			enc.SetIndent("", "  ")
			if encErr := enc.Encode(outcomes); encErr != nil {
				return errors.Join(err, encErr)
			}
			return err
		},
	}
	f.bind(cmd, false)
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "/etc/kubernetes/admin.conf", "kubeconfig of the cluster (the control plane's admin kubeconfig)")
	cmd.Flags().BoolVar(&once, "once", false, "receive one batch of events (waiting up to 1 s), handle it, print the outcomes as JSON and exit")
	return cmd
}
