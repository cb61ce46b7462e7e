package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/node"
)

// A replacement control plane restores the latest etcd snapshot, which
// kforge-backup.timer uploads every controlPlane.backupInterval. Backups
// that keep failing (the instance role or the key policy changed, the
// unit stuck, the bucket refusing) show nowhere on a working cluster:
// nodes stay Ready and pods run until the control plane is lost, and its
// replacement then restores a state days old. So validate reads the
// snapshot's age.

// EtcdBackup is the latest etcd snapshot in the certs bucket.
type EtcdBackup struct {
	Key string `json:"key"`
	// Taken is when S3 last wrote it; zero when the bucket holds none.
	Taken time.Time `json:"taken,omitzero"`
	Bytes int64     `json:"bytes,omitempty"`
	// Interval is the environment's controlPlane.backupInterval.
	Interval time.Duration `json:"-"`
}

// latestEtcdBackup reads the latest snapshot's time and size with
// HeadObject: the body is not read, so no KMS decryption takes place.
func latestEtcdBackup(ctx context.Context, b node.S3Bucket, interval time.Duration) (EtcdBackup, error) {
	bk := EtcdBackup{Key: certstore.EtcdSnapshotKey, Interval: interval}
	head, err := b.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.Name), Key: aws.String(bk.Key)})
	var missing *s3types.NotFound
	switch {
	case errors.As(err, &missing):
		return bk, nil
	case err != nil:
		// S3 answers a missing key with 403 to a caller without
		// s3:ListBucket, so a refusal may be either.
		return bk, fmt.Errorf("reading the age of the etcd backup s3://%s/%s (needs s3:GetObject on it): %w", b.Name, bk.Key, err)
	}
	bk.Taken, bk.Bytes = aws.ToTime(head.LastModified), aws.ToInt64(head.ContentLength)
	return bk, nil
}

// etcdBackupSlack is what a backup may take beyond its interval before it
// counts as missed: the upload of a snapshot as large as etcd's quota.
const etcdBackupSlack = 30 * time.Minute

// Problem is why the backup would fail a restore, or "". A snapshot is
// stale once two intervals and the slack have passed: one late or failed
// run is not yet a problem, two in a row are.
func (bk EtcdBackup) Problem(now time.Time) string {
	fix := "see `journalctl -u kforge-backup` on the control plane and docs/OPERATIONS.md, \"Backups\""
	if bk.Taken.IsZero() {
		return fmt.Sprintf("no etcd backup in the certs bucket (%s): the control plane takes its first at the end of its bootstrap, and a replacement would start with an empty cluster; %s", bk.Key, fix)
	}
	age := now.Sub(bk.Taken)
	if age <= 2*bk.Interval+etcdBackupSlack {
		return ""
	}
	return fmt.Sprintf("the latest etcd backup (%s) is %s old, and backups run every %s (controlPlane.backupInterval; a new interval takes effect when the control plane boots): a replacement would restore that state; %s",
		bk.Key, toMinutes(age), toMinutes(bk.Interval), fix)
}

// Line is the backup as validate prints it.
func (bk EtcdBackup) Line(now time.Time) string {
	if bk.Taken.IsZero() {
		return "etcd backup none"
	}
	return fmt.Sprintf("etcd backup %s taken %s ago (%d MiB; every %s)", bk.Key, toMinutes(now.Sub(bk.Taken)), bk.Bytes>>20, toMinutes(bk.Interval))
}

// toMinutes prints d to the minute: 0m, 7m, 2h30m, 49h.
func toMinutes(d time.Duration) string {
	d = d.Round(time.Minute)
	if d == 0 {
		return "0m"
	}
	s := strings.TrimSuffix(d.String(), "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
