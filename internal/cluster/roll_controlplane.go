package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/kubeadm"
	"github.com/kforge/kforge/internal/node"
	"github.com/kforge/kforge/internal/nodelifecycle"
)

// apiProbeInterval is how often a control-plane roll asks the API whether
// it is ready while it is down: the downtime's resolution.
const apiProbeInterval = time.Second

// apiReady asks the API server's /readyz through the admin kubeconfig,
// fetched afresh (the replacement may publish a new address).
func (e *Env) apiReady(ctx context.Context, out *Outputs, tunnelPort int) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client, _, err := e.kubeClient(ctx, out, tunnelPort)
	if err != nil {
		return false
	}
	body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err == nil && string(body) == "ok"
}

// requestSnapshot asks the control plane for an etcd snapshot now: a
// request on the node events queue, which the control plane's drainer
// serves with the backup its timer runs (snapshot, PKI and admin
// kubeconfig to the certs bucket), then records the request id under
// certstore.SnapshotRequestKey. It returns the id once recorded.
func (e *Env) requestSnapshot(ctx context.Context, out *Outputs, poll, timeout time.Duration) (string, error) {
	if out.NodeEventsQueueURL == "" {
		return "", Failure("the applied state names no node events queue (output node_events_queue_url): run `kforge up %s` first; the control plane's snapshot request goes there", e.Name)
	}
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	id := "roll-" + now.Format("20060102T150405.000000000Z")
	body, err := nodelifecycle.SnapshotRequest(id, now)
	if err != nil {
		return "", err
	}
	if _, err := sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(out.NodeEventsQueueURL), MessageBody: aws.String(string(body))}); err != nil {
		return "", fmt.Errorf("sending the snapshot request to %s: %w", out.NodeEventsQueueURL, err)
	}
	b := node.S3Bucket{Client: awsx.S3Client(cfg, e.Endpoint), Name: out.CertsBucket}
	deadline := time.Now().Add(timeout)
	for {
		got, err := b.Get(ctx, certstore.SnapshotRequestKey)
		switch {
		case err == nil && string(got) == id:
			return id, snapshotFitsQuota(ctx, b, certstore.EtcdSnapshotKey, e.Config.ControlPlane.EtcdQuotaGiB)
		case err != nil && !errors.Is(err, node.ErrNotFound):
			return "", fmt.Errorf("reading s3://%s/%s: %w", out.CertsBucket, certstore.SnapshotRequestKey, err)
		}
		if time.Now().After(deadline) {
			return "", Failure("the control plane did not serve snapshot request %s within %s (its drainer, kforge-drain-events.service, takes it from %s): nothing was terminated; see `journalctl -u kforge-drain-events` on the control plane", id, timeout, out.NodeEventsQueueURL)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(min(poll, 2*time.Second)):
		}
	}
}

// snapshotFitsQuota refuses, before the termination, a roll whose
// replacement would restore a database its etcd quota (the environment's
// controlPlane.etcdQuotaGiB, which kubeadm init on the replacement
// applies) does not hold: the snapshot at key is that database. A missing
// snapshot's error wraps HeadObject's *s3types.NotFound.
func snapshotFitsQuota(ctx context.Context, b node.S3Bucket, key string, quotaGiB int) error {
	head, err := b.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.Name), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("reading the size of s3://%s/%s: %w", b.Name, key, err)
	}
	return quotaHoldsSnapshot(key, quotaGiB, aws.ToInt64(head.ContentLength))
}

// quotaHoldsSnapshot: nil when a quota of quotaGiB holds the snapshot at
// key, of size bytes, otherwise why the roll stops and what to do.
func quotaHoldsSnapshot(key string, quotaGiB int, size int64) error {
	if kubeadm.EtcdQuotaHolds(quotaGiB, size) {
		return nil
	}
	return Failure("the etcd snapshot %s is %d MiB, and controlPlane.etcdQuotaGiB %d would not hold it on the replacement: nothing was terminated; "+
		"set controlPlane.etcdQuotaGiB to %d or more and run `kforge up`, or defragment etcd first (docs/OPERATIONS.md, \"etcd database space\")",
		key, size>>20, quotaGiB, size>>30+1)
}

// snapshotFirst has the control plane take an etcd snapshot right before
// its termination, so that nothing written before it is lost.
func (r *roller) snapshotFirst(ctx context.Context, rg RollGroup, step *RollStep, env string) error {
	if rg.Pool != ControlPlanePool || r.snapshot == nil {
		return nil
	}
	r.ui.Notef("%s: asking the control plane for an etcd snapshot before its termination\n", rg.Pool)
	id, err := r.snapshot(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return interrupted(ctx, env)
		}
		return err
	}
	step.SnapshotRequest = id
	r.ui.Notef("%s: snapshot %s uploaded to the certs bucket (controller/etcd/latest.db); terminating %s\n", rg.Pool, id, step.Old)
	return nil
}

// measureDowntime probes /readyz every second from the termination: the
// downtime runs from the old control plane's last answer to the first
// answer after the old instance has left its group (so that an old
// instance still shutting down is not taken for the replacement).
func (r *roller) measureDowntime(ctx context.Context, rg RollGroup, step *RollStep, t0 time.Time, env string) error {
	if rg.Pool != ControlPlanePool || r.probe == nil {
		return nil
	}
	lastUp, down := t0, false
	deadline := t0.Add(r.timeout())
	for {
		up := r.probe(ctx)
		now := time.Now()
		switch {
		case up && !down:
			lastUp = now
		case !up && !down:
			down = true
			r.ui.Notef("%s: Kubernetes API down (last answer %s after the termination)\n", rg.Pool, lastUp.Sub(t0).Round(time.Second))
		case up && down:
			gone, err := r.leftGroup(ctx, rg, step.Old)
			if err != nil {
				return err
			}
			if gone {
				d := now.Sub(lastUp)
				step.APIDowntime, step.APIDowntimeSecs = d.Round(time.Second).String(), int(d.Round(time.Second)/time.Second)
				r.ui.Notef("%s: Kubernetes API answers again: downtime %s (probed every %s)\n", rg.Pool, step.APIDowntime, r.probeEvery())
				return nil
			}
		}
		if now.After(deadline) {
			return Failure("the Kubernetes API did not answer again within %s of the control plane's termination; the roll stopped here and resumes with `kforge roll %s`", r.timeout(), env)
		}
		select {
		case <-ctx.Done():
			return interrupted(ctx, env)
		case <-time.After(r.probeEvery()):
		}
	}
}

func (r *roller) probeEvery() time.Duration {
	if r.probeInterval > 0 {
		return r.probeInterval
	}
	return apiProbeInterval
}

// deleteOldNode deletes the replaced control plane's Node once its
// replacement's Node is Ready. No drainer deleted it: the drainer ran on
// the instance that went, and the restored etcd snapshot still holds the
// Node. The old instance has left its group by then (waitGone), so the
// Node is that of an instance that no longer runs. A failure does not fail
// the roll: the new control plane's drainer deletes the Node of a gone
// instance on its periodic scan anyway, only minutes later.
func (r *roller) deleteOldNode(ctx context.Context, rg RollGroup, step *RollStep) {
	if rg.Pool != ControlPlanePool || !step.NodesReady {
		return
	}
	fallback := "the new control plane's drainer deletes it within minutes (its scan for NotReady Nodes of gone instances runs every two minutes)"
	k := r.api(ctx)
	if k == nil {
		r.ui.Notef("%s: warning: the Kubernetes API did not answer to delete the Node of terminated %s; %s\n", rg.Pool, step.Old, fallback)
		return
	}
	name, err := k.DeleteNode(ctx, step.Old)
	if err != nil {
		r.ui.Notef("%s: warning: the Node of terminated %s is still there (%v); %s\n", rg.Pool, step.Old, err, fallback)
		return
	}
	if name == "" {
		// The replacement deletes the restored Nodes of gone instances
		// before its CNI (node phase restored-nodes).
		r.ui.Notef("%s: no Node of terminated %s is left\n", rg.Pool, step.Old)
		return
	}
	step.Deleted = name
	r.ui.Notef("%s: Node %s of terminated %s deleted\n", rg.Pool, name, step.Old)
}
