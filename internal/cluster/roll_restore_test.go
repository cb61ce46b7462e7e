package cluster

import (
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/testutil/kubeapi"
)

func TestValidateRestore(t *testing.T) {
	cfg := &config.Cluster{Environment: "dev"}
	for _, tc := range []struct {
		o    RollOptions
		want string // "" when valid
	}{
		{RollOptions{ControlPlane: true, RestoreSnapshot: "20261130T080000Z.db"}, ""},
		{RollOptions{ControlPlane: true, RestoreSnapshot: certstore.EtcdHistoryPrefix + "20261130T080000Z.db"}, ""},
		{RollOptions{RestoreSnapshot: "20261130T080000Z.db"}, "add --control-plane"},
		{RollOptions{ControlPlane: true, RestoreSnapshot: certstore.EtcdHistoryPrefix}, "name a snapshot under " + certstore.EtcdHistoryPrefix},
		{RollOptions{ControlPlane: true, RestoreSnapshot: "controller/etcd/latest.db"}, "name a snapshot under"},
	} {
		err := ValidateRoll(cfg, tc.o)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.o, err)
		case tc.want != "" && (exitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want exit 2 naming %q", tc.o, err, tc.want)
		}
	}
}

// A control-plane roll with --restore-snapshot, on the emulator: a
// snapshot missing from the history stops it before anything changes; an
// existing one replaces the control plane although its launch template is
// current, and names the snapshot in the restore request, under the
// cluster key, while the old instance still runs; the replacement is not
// replaced again.
func TestControlPlaneRollRestoresTheChosenSnapshot(t *testing.T) {
	f := newRollFixture(t)
	ctx := context.Background()
	const group, bucket = "kforge-test-controller", "kforge-test-certs"
	f.group(t, group, 1, 1)
	_, before, _ := f.versions(t, group)
	var oldID string
	for id := range before {
		oldID = id
	}
	s3c := awsx.S3Client(f.cfg, f.url)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	key, err := kms.NewFromConfig(f.cfg).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	chosen := certstore.EtcdHistoryPrefix + "20261130T080000Z.db"
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(chosen), Body: strings.NewReader(strings.Repeat("e", 4096))}); err != nil {
		t.Fatal(err)
	}
	e, err := Open(ctx, "local", NeedEmulator, Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), Endpoint: f.url, UI: &recordingUI{}})
	if err != nil {
		t.Fatal(err)
	}
	out := &Outputs{CertsBucket: bucket, KMSKeyARN: aws.ToString(key.KeyMetadata.Arn), ControllerASGName: group}
	targets := map[string]string{ControlPlanePool: group}

	r := f.roller(&recordingUI{})
	r.opts.ControlPlane, r.opts.RestoreSnapshot = true, "20261101T000000Z.db"
	if err := e.prepareRestore(ctx, r, out); exitCodeOf(err) != ExitFailure || !strings.Contains(err.Error(), "20261101T000000Z.db does not exist") {
		t.Errorf("a snapshot not in the history: %v, want a failure naming it", err)
	}

	ui := &recordingUI{}
	r = f.roller(ui)
	r.opts.ControlPlane, r.opts.RestoreSnapshot = true, "20261130T080000Z.db"
	if err := e.prepareRestore(ctx, r, out); err != nil {
		t.Fatal(err)
	}
	write, oldRan := r.requestRestore, false
	r.requestRestore = func(ctx context.Context) error {
		_, live, _ := f.versions(t, group)
		_, oldRan = live[oldID]
		return write(ctx)
	}
	plan, err := r.plan(ctx, targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Groups) != 1 || len(plan.Groups[0].Replace) != 1 || plan.Groups[0].Replace[0].Reason != "restores etcd snapshot 20261130T080000Z.db" ||
		!strings.HasSuffix(plan.Groups[0].StrategyWhy, "the replacement restores etcd snapshot 20261130T080000Z.db") {
		t.Fatalf("plan %+v, want the current control plane replaced to restore the snapshot", plan.Groups)
	}
	if err := r.execute(ctx, plan); err != nil {
		t.Fatalf("execute: %v\nnotes: %s", err, strings.Join(ui.notes, ""))
	}
	if len(plan.Steps) != 1 || plan.Steps[0].Old != oldID || len(plan.Steps[0].New) != 1 {
		t.Errorf("steps %+v, want one replacement of %s", plan.Steps, oldID)
	}
	if !oldRan {
		t.Error("the restore request was written after the old control plane had gone")
	}
	got, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(certstore.RestoreFromKey)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if strings.TrimSpace(string(body)) != chosen || aws.ToString(got.SSEKMSKeyId) != aws.ToString(key.KeyMetadata.Arn) {
		t.Errorf("restore request %q under key %q, want %s under the cluster key", body, aws.ToString(got.SSEKMSKeyId), chosen)
	}
}

// A restoring roll's plan and steps say that the writes since the chosen
// snapshot are lost, not those since the snapshot taken before the
// termination.
func TestRestoreNotes(t *testing.T) {
	step := RollStep{Pool: ControlPlanePool, Old: "i-0a1", SnapshotRequest: "roll-1"}
	plain := &RollResult{ControlPlane: true, Pending: 1, BackupInterval: "15m"}
	restoring := &RollResult{ControlPlane: true, Pending: 1, RestoreSnapshot: "20261130T080000Z.db"}
	for _, tc := range []struct{ got, want string }{
		{plain.DowntimeNote(), "restored the latest etcd snapshot"},
		{plain.SnapshotNote(step), "(nothing written before it is lost)"},
		{restoring.DowntimeNote(), "restored etcd snapshot 20261130T080000Z.db and the PKI"},
		{restoring.DowntimeNote(), "Every write since that snapshot is lost"},
		{restoring.SnapshotNote(step), "the replacement restored 20261130T080000Z.db instead"},
		{(&RollResult{Pending: 2}).DowntimeNote(), ""},
		{plain.SnapshotNote(RollStep{}), ""},
	} {
		if tc.want == "" && tc.got != "" || !strings.Contains(tc.got, tc.want) {
			t.Errorf("note %q, want it to say %q", tc.got, tc.want)
		}
	}
}

// After the restore, the roll replaces the worker the restored cluster
// holds no Node of (it registered after the snapshot: its kubelet would
// never register again), the way a pool roll does, and leaves the worker
// whose Node the snapshot holds. Groups on the emulator, Nodes in a real
// kube-apiserver.
func TestRestoreReplacesWorkersWithoutANode(t *testing.T) {
	kube := kubeapi.StartServer(t)
	ctx := context.Background()
	bindClusterAdmins(t, kube.Admin, "cluster-admin")
	f := newRollFixture(t)
	const controlPlane, workers = "kforge-test-controller", "kforge-test-general"
	f.group(t, controlPlane, 1, 1)
	f.group(t, workers, 2, 3)
	_, cps, _ := f.versions(t, controlPlane)
	_, ws, _ := f.versions(t, workers)
	oldCP, ids := slices.Collect(maps.Keys(cps)), slices.Sorted(maps.Keys(ws))
	if len(oldCP) != 1 || len(ids) != 2 {
		t.Fatalf("groups hold %v and %v, want one control plane and two workers", oldCP, ids)
	}
	kept, late := ids[0], ids[1]
	nodes := kubeapi.NewDrainFixture(t, kube.Admin, "apps")
	nodes.Node("ip-10-40-0-5.ec2.internal", "us-east-1a", oldCP[0])
	nodes.Node("ip-10-40-1-7.ec2.internal", "us-east-1a", kept)

	ui := &recordingUI{}
	r := f.roller(ui)
	k := kubeNodes{client: kube.Operator}
	r.kube, r.reconnect = k, func(context.Context) nodeChecker { return k }
	r.opts.ControlPlane = true
	// As prepareRestore leaves it, with the request written nowhere.
	r.restoreKey, r.requestRestore = certstore.EtcdHistoryPrefix+"20261130T080000.000Z.db", func(context.Context) error { return nil }
	r.forced = map[string]string{oldCP[0]: "restores etcd snapshot 20261130T080000.000Z.db"}
	r.workers, r.rejoinGrace = map[string]string{"general": workers}, 300*time.Millisecond
	plan, err := r.plan(ctx, map[string]string{ControlPlanePool: controlPlane})
	if err != nil {
		t.Fatal(err)
	}
	kctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	kubelets := make(chan error, 2)
	go func() {
		kubelets <- registerReplacement(kctx, f.asg, kube.Admin, controlPlane, oldCP, "ip-10-40-0-9.ec2.internal")
	}()
	go func() {
		kubelets <- registerReplacement(kctx, f.asg, kube.Admin, workers, ids, "ip-10-40-1-9.ec2.internal")
	}()
	err = r.execute(ctx, plan)
	cancel()
	notes := strings.Join(ui.notes, "")
	for range 2 {
		if kerr := <-kubelets; kerr != nil {
			t.Fatalf("registering a replacement's Node: %v\nnotes: %s", kerr, notes)
		}
	}
	if err != nil {
		t.Fatalf("execute: %v\nnotes: %s", err, notes)
	}
	if !slices.Equal(plan.Rejoined, []string{late}) || plan.Pending != 2 || len(plan.Steps) != 2 {
		t.Fatalf("rejoined %v, pending %d, steps %+v; want %s replaced after the control plane", plan.Rejoined, plan.Pending, plan.Steps, late)
	}
	if s := plan.Steps[1]; s.Pool != "general" || s.Old != late || s.Strategy != StrategySurge || !s.NodesReady || len(s.New) != 1 {
		t.Errorf("worker step %+v, want a surge replacing %s with its replacement's Node Ready", s, late)
	}
	if !strings.Contains(notes, "has no Node in the restored cluster: it registered after etcd snapshot 20261130T080000.000Z.db") {
		t.Errorf("notes do not say why %s goes:\n%s", late, notes)
	}
	desired, after, _ := f.versions(t, workers)
	if _, ok := after[kept]; !ok || desired != 2 || len(after) != 2 {
		t.Errorf("worker group after the roll: desired %d, %v; want 2 instances, %s among them", desired, slices.Sorted(maps.Keys(after)), kept)
	}
	if _, ok := after[late]; ok {
		t.Errorf("worker %s without a Node is still in its group", late)
	}
}

// Without a Kubernetes API after the restore, the roll cannot tell which
// workers lack a Node: it says what to do instead of replacing any.
func TestRestoreWithoutAnAPINamesTheWorkersStep(t *testing.T) {
	ui := &recordingUI{}
	r := &roller{ui: ui, restoreKey: certstore.EtcdHistoryPrefix + "20261130T080000.000Z.db", workers: map[string]string{"general": "g"},
		terminatedAt: time.Now(), forced: map[string]string{}}
	if err := r.rejoinWorkers(context.Background(), &RollResult{Env: "dev"}); err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(ui.notes, ""); !strings.Contains(notes, "which workers joined after etcd snapshot 20261130T080000.000Z.db") || !strings.Contains(notes, "terminate them") {
		t.Errorf("notes %q, want the workers' manual step", notes)
	}
}
