package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/node"
)

// A control-plane roll with --restore-snapshot goes back to an older etcd
// snapshot: it replaces the control plane even when its launch template is
// current, and right before the termination names the snapshot in
// certstore.RestoreFromKey, which the replacement's agent restores instead
// of the latest (and then deletes). The snapshot the roll has the control
// plane take first still lands in the history, so the state before the
// restore can be restored in turn.

// validateRestore refuses a --restore-snapshot without --control-plane or
// one that names no history object (exit code 2).
func validateRestore(o RollOptions) error {
	if o.RestoreSnapshot == "" {
		return nil
	}
	if !o.ControlPlane {
		return UsageError("--restore-snapshot replaces the control plane: add --control-plane")
	}
	if !certstore.IsHistorySnapshot(certstore.EtcdHistoryPrefix + restoreName(o.RestoreSnapshot)) {
		return UsageError("--restore-snapshot %q: name a snapshot under %s in the certs bucket, such as 20261130T080000.000Z.db (`aws s3 ls s3://<certs-bucket>/%s`)",
			o.RestoreSnapshot, certstore.EtcdHistoryPrefix, certstore.EtcdHistoryPrefix)
	}
	return nil
}

// restoreName is the snapshot's name under the history prefix, given with
// or without it.
func restoreName(s string) string {
	return strings.TrimPrefix(s, certstore.EtcdHistoryPrefix)
}

// prepareRestore checks that the chosen snapshot exists and that the
// environment's etcd quota holds it, before anything changes; then it marks
// the control plane's instances of now for replacement and gives r the
// request to write before the termination.
func (e *Env) prepareRestore(ctx context.Context, r *roller, out *Outputs) error {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return err
	}
	bucket := node.S3Bucket{Client: awsx.S3Client(cfg, e.Endpoint), Name: out.CertsBucket, KMSKeyID: out.KMSKeyARN}
	name := restoreName(r.opts.RestoreSnapshot)
	key := certstore.EtcdHistoryPrefix + name
	err = snapshotFitsQuota(ctx, bucket, key, e.Config.ControlPlane.EtcdQuotaGiB)
	if missing := (*s3types.NotFound)(nil); errors.As(err, &missing) {
		return Failure("--restore-snapshot %s: s3://%s/%s does not exist (the history keeps controlPlane.backupInterval's snapshots for etcd_snapshot_retention_days); list them with `aws s3 ls s3://%s/%s`",
			name, out.CertsBucket, key, out.CertsBucket, certstore.EtcdHistoryPrefix)
	}
	if err != nil {
		return err
	}
	g, err := r.describe(ctx, out.ControllerASGName)
	if err != nil {
		return err
	}
	r.forced = map[string]string{}
	for _, i := range g.Instances {
		if !leaving(i.LifecycleState) {
			r.forced[aws.ToString(i.InstanceId)] = "restores etcd snapshot " + name
		}
	}
	r.restoreKey, r.workers = key, out.WorkerASGNames
	r.requestRestore = func(ctx context.Context) error {
		// Under SSE-KMS with the cluster key, as the bucket policy wants of
		// every upload that names an encryption.
		return bucket.Put(ctx, certstore.RestoreFromKey, []byte(key+"\n"))
	}
	r.cancelRestore = func(ctx context.Context) error {
		return bucket.Delete(ctx, certstore.RestoreFromKey)
	}
	return nil
}

// nameRestore writes the restore request right before the control plane's
// termination, after the snapshot it took for the roll.
func (r *roller) nameRestore(ctx context.Context, rg RollGroup) error {
	if rg.Pool != ControlPlanePool || r.requestRestore == nil {
		return nil
	}
	if err := r.requestRestore(ctx); err != nil {
		return err
	}
	r.ui.Notef("%s: the replacement restores %s (named in %s), not the latest snapshot\n", rg.Pool, r.restoreKey, certstore.RestoreFromKey)
	return nil
}

// withdrawRestore deletes the restore request when the control plane's
// termination failed: only a replacement's agent deletes it, after its
// restore, so the next replacement of the control plane, for whatever
// reason and months later, would restore that older snapshot instead of
// the latest. cause is the termination's error.
func (r *roller) withdrawRestore(ctx context.Context, rg RollGroup, cause error) error {
	if rg.Pool != ControlPlanePool || r.cancelRestore == nil {
		return cause
	}
	if err := r.cancelRestore(ctx); err != nil {
		return fmt.Errorf("%w; the restore request %s could not be deleted (%v): delete it before the control plane is next replaced, or that replacement restores %s instead of the latest snapshot", cause, certstore.RestoreFromKey, err, r.restoreKey)
	}
	r.ui.Notef("%s: the control plane was not terminated; the restore request %s is deleted again\n", rg.Pool, certstore.RestoreFromKey)
	return cause
}

// DowntimeNote is what a control-plane roll's plan says of the API's
// downtime and of the writes it loses; "" for a roll of worker pools.
func (res *RollResult) DowntimeNote() string {
	switch {
	case !res.ControlPlane || res.Pending == 0:
		return ""
	case res.RestoreSnapshot != "":
		return fmt.Sprintf("Downtime: the Kubernetes API is unavailable from the termination until the replacement has booted, restored etcd snapshot %s and the PKI from the certs bucket, and run kubeadm init; the roll measures it. Workloads on the workers keep running. "+
			"Every write since that snapshot is lost; when the API answers, the snapshot the control plane takes right before its termination keeps the state of now in %s. "+
			"Workers that registered after the snapshot have no Node in the restored cluster: the roll replaces them next, one at a time per pool, as a pool roll does.", res.RestoreSnapshot, certstore.EtcdHistoryPrefix)
	}
	return fmt.Sprintf("Downtime: the Kubernetes API is unavailable from the termination until the replacement has booted, restored the latest etcd snapshot and PKI from the certs bucket, and run kubeadm init; the roll measures it. Workloads on the workers keep running. "+
		"RPO: when the API answers, the control plane takes an etcd snapshot right before its termination, so only writes after that snapshot are lost; when it does not, writes after the latest scheduled snapshot are lost (backup interval %s).", res.BackupInterval)
}

// SnapshotNote is what a step says of the snapshot the control plane took
// right before its termination; "" when it took none.
func (res *RollResult) SnapshotNote(s RollStep) string {
	switch {
	case s.SnapshotRequest == "":
		return ""
	case res.RestoreSnapshot != "":
		return fmt.Sprintf("%s: etcd snapshot %s taken right before %s was terminated, kept in %s; the replacement restored %s instead", s.Pool, s.SnapshotRequest, s.Old, certstore.EtcdHistoryPrefix, res.RestoreSnapshot)
	}
	return fmt.Sprintf("%s: etcd snapshot %s taken right before %s was terminated (nothing written before it is lost)", s.Pool, s.SnapshotRequest, s.Old)
}

// defaultRejoinGrace is how long, once the restored control plane's Node is
// Ready, a worker launched before the termination may take to register
// its Node before the roll replaces it: a kubelet or kubeadm join that was
// waiting for the API retries every few seconds.
const defaultRejoinGrace = time.Minute

// rejoinWorkers, after a restore, replaces the workers the restored
// cluster holds no Node of. They registered after the chosen snapshot, and
// a kubelet registers its Node once, when it starts: without a Node the
// scheduler never places a pod there, and the pods the kubelet ran are
// gone from the API. Each goes the way a pool roll replaces an instance
// (a surge where the group has room), so the group keeps its size.
// Instances launched after the termination join the restored control plane
// on their own and are left alone.
func (r *roller) rejoinWorkers(ctx context.Context, res *RollResult) error {
	if r.restoreKey == "" || len(r.workers) == 0 || r.terminatedAt.IsZero() {
		return nil
	}
	k := r.api(ctx)
	if k == nil {
		r.ui.Notef("warning: the Kubernetes API does not answer, so the roll cannot tell which workers joined after etcd snapshot %s: those have no Node in the restored cluster: `kforge validate %s` names them once the API answers; terminate them, and their groups launch replacements that join (docs/OPERATIONS.md, \"Instances without a Node\")\n", restoreName(r.restoreKey), res.Env)
		return nil
	}
	// Drains and Node checks of the replacements go to the new control plane.
	r.kube = k
	// The restore is done: a stop from here on must not lead the operator
	// to run the roll with --restore-snapshot again, which goes back again.
	stopped := func(err error) error {
		r.ui.Notef("workers: the control plane restored etcd snapshot %s; the roll stopped while replacing the workers without a Node. "+
			"Do not run it with --restore-snapshot again (that would go back to the snapshot again): `kforge roll %s` finishes a surge in progress, "+
			"and `kforge validate %s` names the workers still without a Node (docs/OPERATIONS.md, \"Instances without a Node\")\n", restoreName(r.restoreKey), res.Env, res.Env)
		return err
	}
	nodeless, unread, err := r.nodelessWorkers(ctx, k, res.Env)
	if err != nil {
		return stopped(err)
	}
	if len(unread) > 0 {
		r.ui.Notef("workers: warning: the Node of %v could not be read within the grace; they are left as they are: `kforge validate %s` names any without a Node\n", unread, res.Env)
	}
	if len(nodeless) == 0 {
		if len(unread) == 0 {
			r.ui.Notef("workers: every worker has its Node in the restored cluster\n")
		}
		return nil
	}
	reason := fmt.Sprintf("has no Node in the restored cluster: it registered after etcd snapshot %s, and a kubelet registers its Node only when it starts", restoreName(r.restoreKey))
	for _, pool := range slices.Sorted(maps.Keys(nodeless)) {
		for _, id := range nodeless[pool] {
			r.forced[id] = reason
			res.Rejoined = append(res.Rejoined, id)
			res.Pending++
		}
	}
	for _, pool := range slices.Sorted(maps.Keys(nodeless)) {
		for _, id := range nodeless[pool] {
			if err := interrupted(ctx, res.Env); err != nil {
				return stopped(err)
			}
			g, err := r.describe(ctx, r.workers[pool])
			if err != nil {
				return stopped(err)
			}
			rg, err := r.planGroup(ctx, pool, g)
			if err != nil {
				return stopped(err)
			}
			i := slices.IndexFunc(rg.Replace, func(it RollInstance) bool { return it.ID == id })
			if i < 0 {
				r.ui.Notef("%s: %s left its group meanwhile: nothing to replace\n", pool, id)
				continue
			}
			step, err := r.replace(ctx, rg, g, rg.Replace[i], res.Env)
			if err != nil {
				return stopped(err)
			}
			res.Steps = append(res.Steps, step)
		}
	}
	return nil
}

// nodelessWorkers lists, by pool, the in-service workers launched before
// the control plane's termination that have no Node, once they have had
// the grace to register one. When the Nodes could not be read by the end
// of the grace, it returns every such worker as unread instead.
func (r *roller) nodelessWorkers(ctx context.Context, k nodeChecker, env string) (nodeless map[string][]string, unread []string, err error) {
	grace := r.rejoinGrace
	if grace == 0 {
		grace = defaultRejoinGrace
	}
	deadline := time.Now().Add(grace)
	for {
		launched := map[string][]string{}
		for pool, asg := range r.workers {
			if launched[pool], err = r.launchedBefore(ctx, asg, r.terminatedAt); err != nil {
				return nil, nil, err
			}
		}
		withNode, listErr := k.InstancesWithNodes(ctx)
		nodeless, unread = map[string][]string{}, nil
		for _, pool := range slices.Sorted(maps.Keys(launched)) {
			for _, id := range launched[pool] {
				switch {
				case listErr != nil:
					// An API that answers badly replaces nothing.
					unread = append(unread, id)
				case !withNode[id]:
					nodeless[pool] = append(nodeless[pool], id)
				}
			}
		}
		if listErr != nil {
			r.ui.Notef("workers: reading the Nodes: %v (retrying)\n", listErr)
		}
		if len(nodeless) == 0 && len(unread) == 0 || time.Now().After(deadline) {
			return nodeless, unread, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, interrupted(ctx, env)
		case <-time.After(r.poll()):
		}
	}
}

// launchedBefore lists the group's in-service instances launched before t.
func (r *roller) launchedBefore(ctx context.Context, asg string, t time.Time) ([]string, error) {
	g, err := r.describe(ctx, asg)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, i := range g.Instances {
		if i.LifecycleState == asgtypes.LifecycleStateInService {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	return awsx.LaunchedBefore(ctx, r.ec2, ids, t)
}
