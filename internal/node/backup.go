package node

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/kubeadm"
)

var errNotExist = fs.ErrNotExist

const pkiDir = "/etc/kubernetes/pki"

// historyTimeFormat names a history snapshot after its backup's time, in
// UTC to the millisecond; the names sort in time order.
const historyTimeFormat = "20060102T150405.000Z"

// pkiFiles are the long-lived secrets a replacement control plane needs to
// keep the cluster's identity; every other certificate kubeadm re-issues
// from these CAs.
var pkiFiles = []string{
	"ca.crt", "ca.key",
	"sa.key", "sa.pub",
	"front-proxy-ca.crt", "front-proxy-ca.key",
	"etcd/ca.crt", "etcd/ca.key",
}

// optionalPKIFiles are backed up and restored with pkiFiles when present:
// the Secrets encryption key (absent from backups of control planes that
// predate it, which then start encrypting with a new key).
var optionalPKIFiles = []string{"encryption-config.yaml"}

// PackPKI makes a deterministic tar.gz of pkiFiles (and optionalPKIFiles
// that exist) from h.
func PackPKI(h Host) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range append(append([]string(nil), pkiFiles...), optionalPKIFiles...) {
		data, err := h.ReadFile(path.Join(pkiDir, name))
		if errors.Is(err, errNotExist) && slices.Contains(optionalPKIFiles, name) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("backing up PKI file %s: %w", name, err)
		}
		hdr := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("packing %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("packing %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing PKI archive: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("closing PKI archive: %w", err)
	}
	return buf.Bytes(), nil
}

// UnpackPKI writes the archive's files under pkiDir on h, accepting only
// the names PackPKI writes (no path traversal from a tampered object).
func UnpackPKI(h Host, archive []byte) error {
	allowed := map[string]bool{}
	for _, n := range pkiFiles {
		allowed[n] = true
	}
	optional := map[string]bool{}
	for _, n := range optionalPKIFiles {
		allowed[n], optional[n] = true, true
	}
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return fmt.Errorf("opening PKI archive: %w", err)
	}
	tr := tar.NewReader(gz)
	seen := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading PKI archive: %w", err)
		}
		if !allowed[hdr.Name] {
			return fmt.Errorf("PKI archive holds unexpected entry %q", hdr.Name)
		}
		data, err := io.ReadAll(io.LimitReader(tr, 1<<20))
		if err != nil {
			return fmt.Errorf("reading %s from PKI archive: %w", hdr.Name, err)
		}
		perm := fs.FileMode(0o600)
		if strings.HasSuffix(hdr.Name, ".crt") || strings.HasSuffix(hdr.Name, ".pub") {
			perm = 0o644
		}
		if err := h.WriteFile(path.Join(pkiDir, hdr.Name), data, perm); err != nil {
			return err
		}
		if !optional[hdr.Name] {
			seen++
		}
	}
	if seen != len(pkiFiles) {
		return fmt.Errorf("PKI archive holds %d of %d expected files", seen, len(pkiFiles))
	}
	return nil
}

// etcdRestoreRevisionBump is added to the snapshot's revision on restore.
// It must exceed the revisions written after the snapshot was taken; a
// billion is far above an hour of writes of any cluster this size, and
// leaves 2^63 nowhere near reach.
const etcdRestoreRevisionBump = 1_000_000_000

// restore brings back the CA, service-account keys and etcd data of a
// previous control plane, when the bucket holds them; a first control
// plane finds nothing and kubeadm creates a new CA.
func (a *Agent) restore(ctx context.Context) error {
	archive, err := a.Bucket.Get(ctx, PKIBackupKey)
	if errors.Is(err, ErrNotFound) {
		a.logger().Info("no PKI backup in the bucket; this is a new cluster")
		return nil
	}
	if err != nil {
		return err
	}
	// Whatever happens next, the published join material belongs to the
	// previous control plane: rotate it once this one is up.
	if err := a.Host.WriteFile(rotateAfterRestore, []byte(a.now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		return err
	}
	// Until etcd is back too the restore is not done: the phase's check
	// (ca.crt) alone would let a retry after a failed etcd restore go on
	// to kubeadm init with an empty etcd under the old CA.
	if err := a.Host.WriteFile(restorePending, []byte(a.now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		return err
	}
	if err := UnpackPKI(a.Host, archive); err != nil {
		return err
	}
	a.logger().Info("PKI restored from the bucket", "key", PKIBackupKey)
	snapPath := stateDir + "/etcd-snapshot.db"
	source, chosen, err := a.restoreSource(ctx)
	if err != nil {
		return err
	}
	size, err := a.downloadSnapshot(ctx, source, snapPath)
	if errors.Is(err, ErrNotFound) && !chosen {
		a.logger().Warn("PKI restored but no etcd snapshot; the cluster state starts empty")
		if err := a.markRestored(); err != nil {
			return err
		}
		return a.runAll(ctx, Cmd("rm", "-f", snapPath), Cmd("rm", "-f", restorePending))
	} else if err != nil {
		if chosen {
			return fmt.Errorf("restoring the snapshot s3://%s/%s names: %w; name another one there, or delete it to restore the latest", a.Cluster.Bucket, RestoreFromKey, err)
		}
		return err
	}
	images, err := a.kubeadmImages(ctx)
	if err != nil {
		return err
	}
	etcdImage, err := kubeadm.Image(images, "etcd")
	if err != nil {
		return err
	}
	peer := fmt.Sprintf("https://%s:2380", a.Instance.PrivateIP)
	// etcdutl from kubeadm's own etcd image rebuilds the data directory as
	// a one-member cluster named after this node. Revisions are bumped past
	// any the previous cluster handed out and the old ones marked compacted,
	// so watchers (kubelets, controllers, informer caches) that saw a newer
	// revision than the snapshot's re-list instead of waiting for
	// revisions that will never come (etcd's disaster-recovery guide;
	// etcd-io/etcd#16028).
	// Pulled only when containerd does not hold it yet, so a restore does
	// not depend on the registry when the image is already there.
	present, err := a.run(ctx, "ctr", "-n", "k8s.io", "images", "ls", "-q", "name=="+etcdImage)
	if err != nil {
		return err
	}
	if strings.TrimSpace(present) == "" {
		if _, err := a.run(ctx, "ctr", "-n", "k8s.io", "images", "pull", etcdImage); err != nil {
			return err
		}
	}
	// A retry starts clean: etcdutl refuses a data directory an
	// interrupted attempt left files in, and ctr a container id an
	// interrupted `ctr run --rm` left behind. Nothing else has used
	// /var/lib/etcd yet: kubeadm init waits for the restore.
	if out, err := a.Host.Run(ctx, Cmd("ctr", "-n", "k8s.io", "containers", "rm", etcdRestoreContainer)); err != nil && !strings.Contains(err.Error()+out, "not found") {
		return fmt.Errorf("removing the container of an interrupted etcd restore: %w", err)
	}
	if err := a.runAll(ctx,
		Cmd("rm", "-rf", "/var/lib/etcd"),
		Cmd("ctr", "-n", "k8s.io", "run", "--rm", "--mount", "type=bind,src=/var/lib,dst=/var/lib,options=rbind:rw",
			etcdImage, etcdRestoreContainer, "etcdutl", "snapshot", "restore", snapPath,
			"--data-dir", "/var/lib/etcd", "--name", a.Instance.Hostname,
			"--initial-cluster", a.Instance.Hostname+"="+peer, "--initial-advertise-peer-urls", peer,
			"--bump-revision", strconv.Itoa(etcdRestoreRevisionBump), "--mark-compacted"),
		Cmd("rm", "-f", snapPath),
	); err != nil {
		return err
	}
	// The chosen snapshot is restored: from now on the latest one is this
	// control plane's, and a later replacement must restore that. Until
	// this one's first backup, the latest is the chosen snapshot: latest.db
	// still holds what the roll took before the termination (kept in the
	// history), which a replacement of this control plane before that
	// backup, one whose init failed, would restore instead.
	if chosen {
		if err := a.Bucket.Copy(ctx, source, EtcdSnapshotKey, size); err != nil {
			return fmt.Errorf("making the restored snapshot %s the latest: %w", source, err)
		}
		if err := a.Bucket.Delete(ctx, RestoreFromKey); err != nil {
			return err
		}
		a.logger().Info("restored the chosen etcd snapshot; its request is deleted", "key", source)
	} else if err := a.markRestored(); err != nil {
		return err
	}
	return a.runAll(ctx, Cmd("rm", "-f", restorePending), Cmd("rm", "-f", restoreChosen))
}

// RestoredMarker holds the time this control plane restored the cluster
// from the latest snapshot (or from none) by itself, as a replacement of a
// control plane that died. Workers that registered after that snapshot
// have no Node in the restored cluster, and a kubelet registers its Node
// only when it starts: the drainer replaces the workers launched before
// this time that stay without a Node (nodelifecycle's
// ReplaceWorkersWithoutNode). A chosen snapshot writes no marker: the
// `kforge roll --restore-snapshot` that chose it replaces those workers.
const RestoredMarker = stateDir + "/restored-at"

func (a *Agent) markRestored() error {
	return a.Host.WriteFile(RestoredMarker, []byte(a.now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

// RestoredAt reads RestoredMarker: the zero time when this control plane
// restored nothing by itself.
func RestoredAt(h Host) (time.Time, error) {
	raw, err := h.ReadFile(RestoredMarker)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	at, err := time.Parse(time.RFC3339, strings.TrimSpace(string(raw)))
	if err != nil {
		return time.Time{}, fmt.Errorf("reading %s: %w", RestoredMarker, err)
	}
	return at, nil
}

// restoreChosen keeps the snapshot an operator chose while its restore is
// pending: a retry after RestoreFromKey was deleted restores the same one.
const restoreChosen = stateDir + "/restore-chosen"

// restoreSource is the snapshot a restore takes: the history snapshot an
// operator named in RestoreFromKey (chosen), or else the latest one.
func (a *Agent) restoreSource(ctx context.Context) (key string, chosen bool, err error) {
	if Exists(a.Host, restoreChosen) {
		kept, err := a.Host.ReadFile(restoreChosen)
		if err != nil {
			return "", false, err
		}
		return strings.TrimSpace(string(kept)), true, nil
	}
	named, err := a.Bucket.Get(ctx, RestoreFromKey)
	switch {
	case errors.Is(err, ErrNotFound):
		return EtcdSnapshotKey, false, nil
	case err != nil:
		return "", false, err
	}
	key = strings.TrimSpace(string(named))
	if !certstore.IsHistorySnapshot(key) {
		return "", false, fmt.Errorf("s3://%s/%s names %q, not a snapshot under %s; name one of those, or delete it to restore the latest", a.Cluster.Bucket, RestoreFromKey, key, etcdHistoryPrefix)
	}
	if err := a.Host.WriteFile(restoreChosen, []byte(key+"\n"), 0o600); err != nil {
		return "", false, err
	}
	a.logger().Info("restoring the etcd snapshot an operator chose instead of the latest", "key", key, "request", RestoreFromKey)
	return key, true, nil
}

// downloadSnapshot streams the etcd snapshot at key into path: it
// never sits in the agent's memory whole. An interrupted download leaves a
// partial file that the restore's retry overwrites; etcdutl only ever reads
// a whole one.
func (a *Agent) downloadSnapshot(ctx context.Context, key, path string) (int64, error) {
	f, err := a.Host.Create(path, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := a.Bucket.Download(ctx, key, f)
	if closeErr := f.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("writing %s: %w", path, closeErr)
	}
	if err != nil {
		return 0, err
	}
	a.logger().Info("etcd snapshot downloaded", "key", key, "bytes", n)
	return n, nil
}

// etcdRestoreContainer is the id of the container etcdutl restores in.
const etcdRestoreContainer = "kforge-etcd-restore"

// restorePending marks a restore that has put the PKI back but not yet etcd.
const restorePending = stateDir + "/restore-pending"

// restoreDone: the CA is in place and no restore is half done.
func (a *Agent) restoreDone(context.Context) (bool, error) {
	return Exists(a.Host, caCert) && !Exists(a.Host, restorePending), nil
}

// SnapshotOnRequest takes a backup now and then records the request id
// (the control plane's drainer serves a `kforge roll --control-plane`
// request with it, right before the termination).
func (a *Agent) SnapshotOnRequest(ctx context.Context, request string) error {
	if err := a.Backup(ctx); err != nil {
		return err
	}
	// Written after the snapshot's upload: whoever asked waits for it.
	return a.Bucket.Put(ctx, SnapshotRequestKey, []byte(request))
}

// backupLock serialises Backup between the timer's process and the
// drainer's (a kforge roll --control-plane request): two etcdctl runs
// writing one snapshot at once interleave it, and an older snapshot
// uploaded last would replace the newer latest.db a roll waits for.
const backupLock = "/run/kforge-backup.lock"

// Backups write their snapshot into etcd's data directory, the one path
// both the etcd container and the host see; each run's file starts with
// snapshotPrefix.
const (
	snapshotDir    = "/var/lib/etcd"
	snapshotPrefix = "kforge-snapshot-"
)

// Backup uploads the PKI archive, the admin kubeconfig and a fresh etcd
// snapshot to the controller prefix (run by kforge-backup.timer).
func (a *Agent) Backup(ctx context.Context) error {
	unlock, err := lock(ctx, a.Host, backupLock)
	if err != nil {
		return fmt.Errorf("waiting for another backup to finish: %w", err)
	}
	defer unlock()
	// A run that failed or was killed after etcdctl wrote its file left a
	// whole snapshot (or its .part) on the root volume: without this, a
	// day of failing uploads fills the disk etcd writes to.
	if _, err := a.run(ctx, "find", snapshotDir, "-maxdepth", "1", "-name", snapshotPrefix+"*", "-delete"); err != nil {
		return fmt.Errorf("removing snapshots earlier backups left: %w", err)
	}
	archive, err := PackPKI(a.Host)
	if err != nil {
		return err
	}
	if err := a.Bucket.Put(ctx, PKIBackupKey, archive); err != nil {
		return err
	}
	if err := a.backupAdmin(ctx); err != nil {
		return err
	}
	// A name of its own per run: etcdctl writes <path>.part without
	// O_EXCL, so two runs on one path would corrupt each other's snapshot
	// even if a lock were bypassed (a host that cannot lock).
	snapInPod := fmt.Sprintf("%s/%s%d-%s.db", snapshotDir, snapshotPrefix, a.now().Unix(), rand.Text()[:8])
	// Removed however the run ends; the next run's sweep catches what a
	// killed process leaves.
	defer func() {
		if _, err := a.run(context.WithoutCancel(ctx), "rm", "-f", snapInPod); err != nil {
			a.logger().Warn("snapshot left on the node", "path", snapInPod, "error", err)
		}
	}()
	if _, err := a.Host.Run(ctx, a.kubectl("-n", "kube-system", "exec", "etcd-"+a.Instance.Hostname, "--",
		"etcdctl", "--endpoints=https://127.0.0.1:2379",
		"--cacert=/etc/kubernetes/pki/etcd/ca.crt",
		"--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
		"--key=/etc/kubernetes/pki/etcd/healthcheck-client.key",
		"snapshot", "save", snapInPod)); err != nil {
		return err
	}
	// Streamed from the file: a snapshot can be as large as etcd's quota.
	snap, err := a.Host.Open(snapInPod)
	if err != nil {
		return fmt.Errorf("opening the etcd snapshot: %w", err)
	}
	defer snap.Close()
	size, err := a.Bucket.Upload(ctx, EtcdSnapshotKey, snap)
	if err != nil {
		return err
	}
	// The history's copy is made by S3 from the object just written: the
	// snapshot crosses the network once. Backups take turns (backupLock),
	// so latest.db is still this run's; and each takes far longer than a
	// millisecond, so names to the millisecond never repeat (names to the
	// second did, and a second backup replaced the first one's snapshot).
	history := etcdHistoryPrefix + a.now().UTC().Format(historyTimeFormat) + ".db"
	if err := a.Bucket.Copy(ctx, EtcdSnapshotKey, history, size); err != nil {
		return err
	}
	a.logger().Info("backup uploaded", "pki", PKIBackupKey, "etcd", EtcdSnapshotKey, "bytes", size)
	return nil
}
