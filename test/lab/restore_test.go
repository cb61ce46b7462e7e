package lab

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/testutil/textlines"
)

// restoreSnapshot: `kforge roll --control-plane --restore-snapshot` takes
// the cluster back to a snapshot of the history on real nodes. A ConfigMap
// written before a backup is there after the roll; one written after it,
// which the snapshot the roll takes first still holds, is not; a worker
// that joined after the snapshot is replaced, so that it has a Node again;
// the restore request is gone, and the nodes are Ready.
func restoreSnapshot(t *testing.T) {
	scenario(t, "RestoreSnapshot")
	c := needReady(t)
	ctx := context.Background()
	start := time.Now()
	// The workers Ready now must be Ready again after the restore: they
	// joined before the chosen snapshot, so it holds their Nodes.
	oldID, oldNode, kc, port, workers := c.beforeControlPlaneRoll(t, ctx)
	cfg, err := awsx.Config(ctx, "us-east-1", c.Emulator.URL)
	if err != nil {
		t.Fatal(err)
	}
	s3c := awsx.S3Client(cfg, c.Emulator.URL)
	bucket := certsBucket(t, ctx, s3c)

	if _, err := c.kubectl(ctx, kc, "-n", "default", "create", "configmap", "kforge-lab-restore-kept"); err != nil {
		t.Fatal(err)
	}
	if out, err := oldNode.Exec(ctx, "systemctl", "start", "kforge-backup.service"); err != nil {
		t.Fatalf("backup: %v %s", err, out)
	}
	chosen := newestHistory(t, ctx, s3c, bucket)
	if _, err := c.kubectl(ctx, kc, "-n", "default", "create", "configmap", "kforge-lab-restore-lost"); err != nil {
		t.Fatal(err)
	}
	// A worker that joins after the chosen snapshot: the restored cluster
	// holds no Node of it, and its kubelet never registers again.
	size, err := c.groupInstances(ctx, workerGroup)
	if err != nil {
		t.Fatal(err)
	}
	lateID, lateNode := c.launchWorker(t, ctx)
	c.waitNodeReady(t, ctx, kc, lateID, lateNode)
	name := strings.TrimPrefix(chosen, certstore.EtcdHistoryPrefix)
	out, err := c.kforge(ctx, "roll", "local", "--control-plane", "--restore-snapshot", name, "--yes", "--tunnel-port", port)
	t.Logf("kforge roll local --control-plane --restore-snapshot %s:\n%s", name, textlines.Last(out, 25))
	if err != nil {
		t.Fatalf("kforge roll --restore-snapshot: %v", err)
	}
	if want := "the replacement restored " + name + " instead"; !strings.Contains(out, want) {
		t.Fatalf("the roll does not say %q (no snapshot taken before the termination?):\n%s", want, out)
	}
	newID, newNode := c.replacedController(t, ctx, oldID)
	if _, err := c.kubectl(ctx, kc, "-n", "default", "get", "configmap", "kforge-lab-restore-kept"); err != nil {
		t.Fatalf("the ConfigMap written before the chosen snapshot: %v, want it restored", err)
	}
	if got, err := c.kubectl(ctx, kc, "-n", "default", "get", "configmap", "kforge-lab-restore-lost", "--ignore-not-found", "-o", "name"); err != nil || strings.TrimSpace(got) != "" {
		t.Fatalf("the ConfigMap written after the chosen snapshot: %q, %v; want it gone with the restore", got, err)
	}
	_, err = s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(certstore.RestoreFromKey)})
	if missing := new(s3types.NotFound); !errors.As(err, &missing) {
		t.Fatalf("the restore request after the roll: %v, want it deleted by the replacement", err)
	}
	c.waitNodesReady(t, ctx, kc, "the replacement and the workers Ready", append(workers, nodeName(newNode.Spec))...)
	if want := lateID + " (has no Node in the restored cluster"; !strings.Contains(out, want) {
		t.Fatalf("the roll does not replace the worker that joined after the snapshot (%q):\n%s", want, out)
	}
	now, err := c.groupInstances(ctx, workerGroup)
	if err != nil {
		t.Fatal(err)
	}
	rejoined := newInstance(now, size, lateID)
	if slices.Contains(now, lateID) || rejoined == "" || c.Fleet.Nodes()[rejoined] == nil {
		t.Fatalf("%s after the roll holds %v: want %s replaced by a new instance", workerGroup, now, lateID)
	}
	c.waitNodeReady(t, ctx, kc, rejoined, c.Fleet.Nodes()[rejoined])
	t.Logf("restore of %s: %s -> %s, the later ConfigMap gone, the request deleted, worker %s (joined after the snapshot) replaced by %s, every Node Ready; %s",
		name, oldID, newID, lateID, rejoined, time.Since(start).Round(time.Second))
	c.scaleBackIn(t, ctx, len(size))
	if _, err := c.kubectl(ctx, kc, "-n", "default", "delete", "configmap", "kforge-lab-restore-kept"); err != nil {
		t.Logf("deleting the scenario's ConfigMap: %v", err)
	}
}

// certsBucket is the name of the cluster's certs bucket on the emulator.
func certsBucket(t *testing.T, ctx context.Context, s3c *s3.Client) string {
	t.Helper()
	out, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range out.Buckets {
		if strings.Contains(aws.ToString(b.Name), "-certs-") {
			return aws.ToString(b.Name)
		}
	}
	t.Fatalf("no certs bucket among %d buckets", len(out.Buckets))
	return ""
}

// newestHistory is the key of the newest snapshot in the history (the
// keys are named after their UTC time, so the newest sorts last).
func newestHistory(t *testing.T, ctx context.Context, s3c *s3.Client, bucket string) string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(certstore.EtcdHistoryPrefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if len(keys) == 0 {
		t.Fatalf("no snapshot under s3://%s/%s after a backup", bucket, certstore.EtcdHistoryPrefix)
	}
	return slices.Max(keys)
}
