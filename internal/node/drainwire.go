package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

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

// ErrNoEventsQueue: cluster.json names no node events queue, so there is
// nothing to drain.
var ErrNoEventsQueue = errors.New("no node events queue in cluster.json; nothing to drain")

// NewDrainer wires the control plane's drainer: cluster.json's queue, hook
// and worker groups, the instance role's SQS and Auto Scaling clients, and
// the Kubernetes API through kubeconfig. It fails with ErrNoEventsQueue
// when cluster.json names no queue.
func NewDrainer(ctx context.Context, w Wiring, kubeconfig string) (*nodelifecycle.Drainer, error) {
	cfg, cluster, err := w.Load(ctx)
	if err != nil {
		return nil, err
	}
	if cluster.NodeEventsQueueURL == "" {
		return nil, ErrNoEventsQueue
	}
	rest, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", kubeconfig, err)
	}
	kube, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return nil, fmt.Errorf("client for the Kubernetes API of %s: %w", kubeconfig, err)
	}
	restoredAt, err := RestoredAt(w.Host)
	if err != nil {
		return nil, err
	}
	heartbeat := defaultHeartbeat
	if s := cluster.LifecycleHookHeartbeatSeconds; s > 0 {
		heartbeat = time.Duration(s) * time.Second
	}
	return &nodelifecycle.Drainer{
		Handler: &nodelifecycle.Handler{
			ASG:    autoscaling.NewFromConfig(cfg),
			Kube:   kube,
			Groups: cluster.WorkerGroupNames(),
			// A pool added by a later up is in the cluster.json it writes.
			ReloadGroups: func(ctx context.Context) ([]string, error) {
				c, err := w.readCluster(ctx, cfg)
				return c.WorkerGroupNames(), err
			},
			Hook: cluster.LifecycleHookName,
			// A drain that overruns the heartbeat would find the
			// instance gone; the Node is deleted at the timeout anyway.
			DrainTimeout:  max(heartbeat-drainHeartbeatMargin, 15*time.Second),
			RetryInterval: 5 * time.Second,
			RejoinGrace:   nodelifecycle.DefaultRejoinGrace,
			Log:           w.Log,
		},
		RestoredAt:               restoredAt,
		SQS:                      sqs.NewFromConfig(cfg),
		EC2:                      ec2.NewFromConfig(cfg),
		QueueURL:                 cluster.NodeEventsQueueURL,
		InterruptionDrainTimeout: interruptionDrainTimeout,
		InterruptionMargin:       interruptionMargin,
		Wait:                     20 * time.Second,
		ScanEvery:                2 * time.Minute,
		ErrorBackoff:             10 * time.Second,
	}, nil
}
