package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Two backups at once, the timer's and the drainer's for kforge roll
// --control-plane, run one after the other, each on a snapshot file of its
// own: etcdctl writes <path>.part without O_EXCL, so two runs on one path
// interleave the snapshot that becomes latest.db.
func TestConcurrentBackupsTakeTurns(t *testing.T) {
	_, h, a := controllerAt(t, "", "1.36.6")
	ctx := context.Background()
	mark := len(h.log)
	twiceAtOnce(t, func() error { return a.Backup(ctx) })
	save := regexp.MustCompile(`snapshot save (\S+)$`)
	var paths []string
	for _, l := range underLock(t, h.log[mark:], backupLock, func(l string) bool { return strings.HasPrefix(l, "run ") && save.MatchString(l) }) {
		paths = append(paths, save.FindStringSubmatch(l)[1])
	}
	if len(paths) != 2 || paths[0] == paths[1] {
		t.Errorf("snapshot paths %v, want two different ones", paths)
	}
	for _, p := range paths {
		if Exists(h, p) {
			t.Errorf("snapshot %s left on the node", p)
		}
	}
}

// ExecHost's lock is flock(2): a second holder, here another open file
// description as another process would have, waits until the first lets go.
func TestExecHostLockExcludes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "run", "kforge-backup.lock")
	unlock, err := ExecHost{}.Lock(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	waiting, cancel := context.WithTimeout(ctx, 3*lockPoll)
	defer cancel()
	if _, err := (ExecHost{}).Lock(waiting, path); err == nil {
		t.Fatal("a second Lock got the lock while the first held it")
	}
	unlock()
	again, err := ExecHost{}.Lock(ctx, path)
	if err != nil {
		t.Fatalf("Lock after the release: %v", err)
	}
	again()
}

// A restore interrupted after etcdutl began writing /var/lib/etcd (or
// after ctr left its container) is retried on the same instance: the retry
// clears both, since etcdutl refuses a data directory that is not empty.
func TestRestoreRetriesOverAnInterruptedAttempt(t *testing.T) {
	c := newCloud(t)
	c.bootstrapController(t, "first", "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", t0)
	second := newRecorder(t, "second")
	if err := second.WriteFile("/var/lib/etcd/member/wal/0000000000000000-0000000000000000.wal", []byte("half a restore"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.controller(second, "10.0.3.30", "i-0cccccccccccccccc", fixedClock(t0.Add(48*time.Hour))).Bootstrap(context.Background()); err != nil {
		t.Fatalf("bootstrap over an interrupted restore: %v", err)
	}
	if got := second.file(etcdDB); got != "etcd snapshot of first" {
		t.Errorf("etcd data after the retry: %q, want the first control plane's snapshot", got)
	}
	// The drainer replaces the workers launched before this time that the
	// restored cluster has no Node of.
	if at, err := RestoredAt(second); err != nil || !at.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("restored at %v, %v; want the restore's time %v", at, err, t0.Add(48*time.Hour))
	}
	second.assertOrder(t,
		"ctr -n k8s.io containers rm kforge-etcd-restore",
		"rm -rf /var/lib/etcd",
		"ctr -n k8s.io run --rm",
		"kubeadm init",
	)
}

// errSlowDown is S3's answer when it throttles an upload.
var errSlowDown = errors.New("operation error S3: PutObject, https response error StatusCode: 503, api error SlowDown")

// failingPuts refuses every upload under prefix, as S3 or KMS do in an
// outage or when throttling.
type failingPuts struct {
	Bucket
	prefix string
}

func (b failingPuts) Put(ctx context.Context, key string, data []byte) error {
	if strings.HasPrefix(key, b.prefix) {
		return errSlowDown
	}
	return b.Bucket.Put(ctx, key, data)
}

func (b failingPuts) Upload(ctx context.Context, key string, body io.ReadSeeker) (int64, error) {
	if strings.HasPrefix(key, b.prefix) {
		return 0, errSlowDown
	}
	return b.Bucket.Upload(ctx, key, body)
}

// A backup whose upload fails removes its snapshot, and the next backup
// removes what a killed one left (a whole snapshot or etcdctl's .part):
// snapshots live on the root volume etcd writes to, one per run.
func TestFailedBackupsLeaveNoSnapshotOnTheNode(t *testing.T) {
	_, h, a := controllerAt(t, "", "1.36.6")
	ctx := context.Background()
	killed := snapshotDir + "/" + snapshotPrefix + "1700000000-ABCDEFGH.db.part"
	for _, p := range []string{killed, etcdDB} {
		if err := h.WriteFile(p, []byte("data"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	uploads := a.Bucket
	a.Bucket = failingPuts{Bucket: uploads, prefix: EtcdSnapshotKey}
	for range 3 {
		if err := a.Backup(ctx); err == nil {
			t.Fatal("Backup succeeded with every snapshot upload failing")
		}
	}
	a.Bucket = uploads
	if err := a.Backup(ctx); err != nil {
		t.Fatal(err)
	}
	var left []string
	for p := range h.files {
		if strings.HasPrefix(p, snapshotDir+"/"+snapshotPrefix) {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		t.Errorf("left on the node after three failed backups and one good one: %v", left)
	}
	if !Exists(h, etcdDB) {
		t.Errorf("the sweep removed etcd's own database %s", etcdDB)
	}
}

// The history's copy of a snapshot is made by S3 from latest.db: the same
// bytes, under SSE-KMS with the cluster key (the bucket policy refuses any
// other write), and the snapshot is uploaded once.
func TestBackupCopiesTheSnapshotIntoTheHistory(t *testing.T) {
	c, _, a := controllerAt(t, "", "1.36.6")
	ctx := context.Background()
	puts := &recordingPuts{Bucket: a.Bucket}
	a.Bucket = puts
	if err := a.Backup(ctx); err != nil {
		t.Fatal(err)
	}
	for _, key := range puts.keys {
		if strings.HasPrefix(key, etcdHistoryPrefix) {
			t.Errorf("the snapshot was uploaded again to %s", key)
		}
	}
	list, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.bucket.Name), Prefix: aws.String(etcdHistoryPrefix)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) == 0 {
		t.Fatalf("no snapshot under %s after a backup", etcdHistoryPrefix)
	}
	history := aws.ToString(list.Contents[len(list.Contents)-1].Key)
	latest, err := c.bucket.Get(ctx, EtcdSnapshotKey)
	if err != nil {
		t.Fatal(err)
	}
	copied, err := c.bucket.Get(ctx, history)
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) == 0 || string(copied) != string(latest) {
		t.Errorf("%s holds %d bytes, latest.db %d: want the same snapshot", history, len(copied), len(latest))
	}
	head, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.bucket.Name), Key: aws.String(history)})
	if err != nil {
		t.Fatal(err)
	}
	if head.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(head.SSEKMSKeyId) != c.bucket.KMSKeyID {
		t.Errorf("%s encrypted with %s %s, want aws:kms with %s", history, head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId), c.bucket.KMSKeyID)
	}
}

// Two backups within one second keep two snapshots in the history, each
// named after its time in UTC to the millisecond. Named to the second,
// the second backup replaced the first one's snapshot: a roll's snapshot
// taken right after a scheduled backup could replace the very snapshot an
// operator had chosen to restore.
func TestBackupsWithinOneSecondKeepTwoSnapshots(t *testing.T) {
	c, _, a := controllerAt(t, "", "1.36.6")
	ctx := context.Background()
	first, second := t0.Add(time.Hour+250*time.Millisecond), t0.Add(time.Hour+750*time.Millisecond)
	for _, at := range []time.Time{first, second} {
		a.Now = fixedClock(at)
		if err := a.Backup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	list, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.bucket.Name), Prefix: aws.String(etcdHistoryPrefix + "20260301T130000")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 2 {
		t.Errorf("%d history snapshots of the second 13:00:00, want 2 (one per backup)", len(list.Contents))
	}
	for _, want := range []string{"20260301T130000.250Z.db", "20260301T130000.750Z.db"} {
		if _, err := c.bucket.Get(ctx, etcdHistoryPrefix+want); err != nil {
			t.Errorf("history snapshot %s: %v", want, err)
		}
	}
}

// recordingPuts records the keys of the uploads it passes on.
type recordingPuts struct {
	Bucket
	keys []string
}

func (b *recordingPuts) Put(ctx context.Context, key string, data []byte) error {
	b.keys = append(b.keys, key)
	return b.Bucket.Put(ctx, key, data)
}

func (b *recordingPuts) Upload(ctx context.Context, key string, body io.ReadSeeker) (int64, error) {
	b.keys = append(b.keys, key)
	return b.Bucket.Upload(ctx, key, body)
}

// A snapshot goes from a file on the node to the bucket and back as a
// stream (ExecHost's Open and Create, S3Bucket's Upload and Download), the
// same bytes under the cluster key; the downloaded copy is readable by root
// alone even where an earlier attempt left a file with a wider mode.
func TestSnapshotStreamsThroughTheBucket(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "snapshot.db"), filepath.Join(dir, "restore", "etcd-snapshot.db")
	want, f := randomSnapshot(t, src, 9<<20+7)
	if n, err := c.bucket.Upload(ctx, EtcdSnapshotKey, f); err != nil || n != int64(len(want)) {
		t.Fatalf("Upload: %d bytes, %v; want %d", n, err, len(want))
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte("an interrupted download, longer than nothing"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := ExecHost{}.Create(dst, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.bucket.Download(ctx, EtcdSnapshotKey, w)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("Download: %d bytes, %v; want %d", n, err, len(want))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("downloaded %d bytes that differ from the %d uploaded", len(got), len(want))
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("downloaded snapshot mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := c.bucket.Download(ctx, etcdHistoryPrefix+"none.db", io.Discard); !errors.Is(err, ErrNotFound) {
		t.Errorf("Download of a missing key: %v, want ErrNotFound", err)
	}
}

// A control plane replaced after an operator named a history snapshot in
// RestoreFromKey restores that one, not the latest (which the running
// control plane's backups kept replacing), and deletes the request once
// etcd is restored, so that the next replacement restores its own latest.
// A request that names no history snapshot fails the restore and is kept.
func TestRestoreTakesTheChosenSnapshot(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	c.bootstrapController(t, "first", "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", t0)
	older := etcdHistoryPrefix + "20261130T080000Z.db"
	if err := c.bucket.Put(ctx, older, []byte("etcd snapshot of an older day")); err != nil {
		t.Fatal(err)
	}

	for _, bad := range []string{etcdHistoryPrefix + "20261101T000000Z.db", EtcdSnapshotKey, "workers/join.json"} {
		if err := c.bucket.Put(ctx, RestoreFromKey, []byte(bad+"\n")); err != nil {
			t.Fatal(err)
		}
		h := newRecorder(t, "refused")
		err := c.controller(h, "10.0.3.30", "i-0cccccccccccccccc", fixedClock(t0.Add(time.Hour))).Bootstrap(ctx)
		if err == nil || !strings.Contains(err.Error(), RestoreFromKey) {
			t.Errorf("restore from %s: %v, want a failure naming %s", bad, err, RestoreFromKey)
		}
		if slices.ContainsFunc(h.commands(), func(l string) bool { return strings.HasPrefix(l, "kubeadm init") }) {
			t.Errorf("restore from %s went on to kubeadm init", bad)
		}
		if _, err := c.bucket.Get(ctx, RestoreFromKey); err != nil {
			t.Errorf("after a failed restore from %s: the request is gone (%v), want it kept", bad, err)
		}
	}

	if err := c.bucket.Put(ctx, RestoreFromKey, []byte(older+"\n")); err != nil {
		t.Fatal(err)
	}
	second := c.bootstrapController(t, "second", "10.0.2.20", "i-0bbbbbbbbbbbbbbbb", t0.Add(2*time.Hour))
	if got := second.file(etcdDB); got != "etcd snapshot of an older day" {
		t.Errorf("etcd data of the replacement: %q, want the chosen snapshot", got)
	}
	if _, err := c.bucket.Get(ctx, RestoreFromKey); !errors.Is(err, ErrNotFound) {
		t.Errorf("the request after its restore: %v, want it deleted", err)
	}
	if Exists(second, restoreChosen) || Exists(second, restorePending) {
		t.Error("the restore left its markers on the node")
	}
	// The roll that chose the snapshot replaces the workers without a Node.
	if at, err := RestoredAt(second); err != nil || !at.IsZero() {
		t.Errorf("a chosen snapshot's restore marked restored at %v, %v; want no marker", at, err)
	}

	// A retry on a node that lost power after the request was deleted,
	// before the restore was marked done, restores the same snapshot.
	third := newRecorder(t, "third")
	for path, data := range map[string]string{restoreChosen: older + "\n", restorePending: "2026-11-30T10:00:00Z\n"} {
		if err := third.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.controller(third, "10.0.3.30", "i-0cccccccccccccccc", fixedClock(t0.Add(3*time.Hour))).Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if got := third.file(etcdDB); got != "etcd snapshot of an older day" {
		t.Errorf("etcd data after the retry: %q, want the chosen snapshot again", got)
	}

	// A replacement that restored the chosen snapshot and then failed its
	// kubeadm init, before its first backup, leaves the chosen snapshot as
	// the latest: the next replacement restores it, not what the roll took
	// before the termination.
	if err := c.bucket.Put(ctx, RestoreFromKey, []byte(older+"\n")); err != nil {
		t.Fatal(err)
	}
	failing := newRecorder(t, "init-fails")
	failing.fail = map[string]error{"kubeadm init": errors.New("timed out waiting for the condition")}
	if err := c.controller(failing, "10.0.4.40", "i-0dddddddddddddddd", fixedClock(t0.Add(4*time.Hour))).Bootstrap(ctx); err == nil {
		t.Fatal("bootstrap with a failing kubeadm init succeeded")
	}
	if latest, err := c.bucket.Get(ctx, EtcdSnapshotKey); err != nil || string(latest) != "etcd snapshot of an older day" {
		t.Errorf("%s after a chosen restore whose init failed: %q, %v; want the chosen snapshot", EtcdSnapshotKey, latest, err)
	}
}
