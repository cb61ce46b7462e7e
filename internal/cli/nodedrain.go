package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/node"
	"github.com/kforge/kforge/internal/nodelifecycle"
)

// Drain settings of the control-plane drainer.
const (
	// drainHeartbeatMargin is left of the hook's heartbeat timeout for
	// deleting the Node and completing the action after a drain.
	drainHeartbeatMargin = time.Minute
	// defaultHeartbeat is the hook's heartbeat when cluster.json names none.
	defaultHeartbeat = 10 * time.Minute
	// interruptionDrainTimeout and interruptionMargin fit the drain of an
	// interrupted Spot instance into EC2's two-minute warning.
	interruptionDrainTimeout = 90 * time.Second
	interruptionMargin       = 15 * time.Second
)

func newNodeDrainEventsCmd(app *App) *cobra.Command {
	var f nodeFlags
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
			"handled. Every two minutes it also looks for instances in Terminating:Wait the queue did not deliver.\n" +
			"See docs/OPERATIONS.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(false); err != nil {
				return err
			}
			if kubeconfig == "" {
				return UsageError("--kubeconfig must not be empty")
			}
			f.role = node.RoleController
			log := app.nodeLogger(f.role)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			cfg, err := awsx.Config(ctx, f.region, app.Endpoint)
			if err != nil {
				return err
			}
			cluster, err := app.nodeCluster(ctx, f, cfg)
			if err != nil {
				return err
			}
			if cluster.NodeEventsQueueURL == "" {
				log.Info("no node events queue in cluster.json; nothing to drain")
				return nil
			}
			rest, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return fmt.Errorf("reading kubeconfig %s: %w", kubeconfig, err)
			}
			kube, err := kubernetes.NewForConfig(rest)
			if err != nil {
				return fmt.Errorf("client for the Kubernetes API of %s: %w", kubeconfig, err)
			}
			heartbeat := defaultHeartbeat
			if s := cluster.LifecycleHookHeartbeatSeconds; s > 0 {
				heartbeat = time.Duration(s) * time.Second
			}
			d := &nodelifecycle.Drainer{
				Handler: &nodelifecycle.Handler{
					ASG:    autoscaling.NewFromConfig(cfg),
					Kube:   kube,
					Groups: cluster.WorkerGroupNames(),
					Hook:   cluster.LifecycleHookName,
					// A drain that overruns the heartbeat would find the
					// instance gone; the Node is deleted at the timeout anyway.
					DrainTimeout:  max(heartbeat-drainHeartbeatMargin, 15*time.Second),
					RetryInterval: 5 * time.Second,
					Log:           log,
				},
				SQS:                      sqs.NewFromConfig(cfg),
				QueueURL:                 cluster.NodeEventsQueueURL,
				InterruptionDrainTimeout: interruptionDrainTimeout,
				InterruptionMargin:       interruptionMargin,
				Wait:                     20 * time.Second,
				ScanEvery:                2 * time.Minute,
				ErrorBackoff:             10 * time.Second,
			}
			if !once {
				return d.Run(ctx)
			}
			d.Wait = time.Second
			outcomes, err := d.ReceiveOnce(ctx)
			if outcomes == nil {
				outcomes = []nodelifecycle.Outcome{}
			}
			enc := json.NewEncoder(app.Stdout)
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

// nodeCluster reads and checks cluster.json from the certs bucket.
func (app *App) nodeCluster(ctx context.Context, f nodeFlags, cfg aws.Config) (node.Cluster, error) {
	raw, err := node.S3Bucket{Client: awsx.S3Client(cfg, app.Endpoint), Name: f.bucket}.Get(ctx, f.configKey)
	if err != nil {
		if errors.Is(err, node.ErrNotFound) {
			return node.Cluster{}, fmt.Errorf("cluster configuration s3://%s/%s is missing; the root module writes it on apply: %w", f.bucket, f.configKey, err)
		}
		return node.Cluster{}, err
	}
	return node.ParseCluster(raw)
}
