package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/kforge/kforge/internal/nodelifecycle"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// kubeNodes finds an instance's Node by spec.providerID
// (aws:///<az>/<instance-id>) through client-go.
type kubeNodes struct {
	client kubernetes.Interface
	// retryDelay is how long a failed drain waits before it asks the API
	// server whether to drain again (drainRetryDelay when zero).
	retryDelay time.Duration
	// unreachableWait is how long a drain of a Node whose kubelet stopped
	// reporting waits for an evicted pod (nodelifecycle.UnreachablePodWait
	// when zero).
	unreachableWait time.Duration
}

// NodeReady reports whether the instance's Node exists and is Ready.
func (k kubeNodes) NodeReady(ctx context.Context, instanceID string) (bool, error) {
	n, err := k.node(ctx, instanceID)
	if err != nil || n == nil {
		return false, err
	}
	return nodelifecycle.Ready(*n), nil
}

// DeleteNode deletes the instance's Node if it still has one, and returns
// its name; "" when there was none left to delete.
func (k kubeNodes) DeleteNode(ctx context.Context, instanceID string) (string, error) {
	n, err := k.node(ctx, instanceID)
	if err != nil || n == nil {
		return "", err
	}
	deleted, err := nodelifecycle.DeleteNode(ctx, k.client, n.Name)
	if !deleted {
		return "", err
	}
	return n.Name, nil
}

// nodeChecker connects to the cluster's API with the admin kubeconfig the
// control plane backs up. It returns nil and says why when no API answers
// (always so on the emulator, where no instance boots): the roll then
// waits for InService only.
func (e *Env) nodeChecker(ctx context.Context, out *Outputs, tunnelPort int) (nodeChecker, string) {
	client, host, err := e.kubeClient(ctx, out, tunnelPort)
	if err != nil {
		return nil, fmt.Sprintf("%v: the roll waits for each replacement to be InService in its group, not for its Node to be Ready", err)
	}
	return kubeNodes{client: client}, fmt.Sprintf("Kubernetes API at %s reachable: each replacement's Node must be Ready before the old instance goes", host)
}

// kubeClient is a client-go client for the cluster's API through the admin
// kubeconfig in the certs bucket, checked to answer; the error says why not.
// A tunnelPort other than 0 points it at that local port (TLS still
// verified against api.<domain>), as validate --tunnel-port does.
func (e *Env) kubeClient(ctx context.Context, out *Outputs, tunnelPort int) (kubernetes.Interface, string, error) {
	kc, err := e.fetchKubeconfig(ctx, out, tunnelPort == 0)
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes API not reachable (%v)", err)
	}
	if tunnelPort != 0 {
		if err := pointAtTunnel(kc, out.APIDNSName, tunnelPort); err != nil {
			return nil, "", err
		}
	}
	raw, err := yaml.Marshal(kc)
	if err != nil {
		return nil, "", fmt.Errorf("admin kubeconfig not usable (%v)", err)
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(raw)
	if err != nil {
		return nil, "", fmt.Errorf("admin kubeconfig not usable (%v)", err)
	}
	rc.Timeout = 15 * time.Second
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, "", fmt.Errorf("admin kubeconfig not usable (%v)", err)
	}
	if _, err := client.Discovery().ServerVersion(); err != nil {
		return nil, "", fmt.Errorf("kubernetes API at %s not reachable (%v)", rc.Host, err)
	}
	return client, rc.Host, nil
}
