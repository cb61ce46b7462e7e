package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/cni"
	"github.com/kforge/kforge/internal/kubeadm"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/testutil/golden"
)

const region = "eu-west-1"

// cloud is one emulator with the certs bucket, the cluster key and the zone.
type cloud struct {
	url    string
	s3     *s3.Client
	r53    *route53.Client
	bucket S3Bucket
	zoneID string
	cfg    aws.Config
	// workerIdentity proves the worker instance's identity with its role's
	// session, as EC2 names it (assumed-role/demo-worker/<instance id>).
	workerIdentity IdentityProver
}

const (
	workerRoleARN    = "arn:aws:iam::123456789012:role/demo-worker"
	workerInstanceID = "i-0bbbbbbbbbbbbbbbb"
)

func newCloud(t *testing.T, env ...string) *cloud {
	t.Helper()
	cfg, emu := localawstest.ConfigForTest(t, region, env...)
	ctx := context.Background()
	c := &cloud{url: emu.URL(), cfg: cfg, s3: awsx.S3Client(cfg, emu.URL()), r53: route53.NewFromConfig(cfg)}
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("demo cluster key")})
	if err != nil {
		t.Fatal(err)
	}
	name := "demo-certs"
	if _, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}}); err != nil {
		t.Fatal(err)
	}
	c.bucket = S3Bucket{Client: c.s3, Name: name, KMSKeyID: *key.KeyMetadata.Arn}
	zone, err := c.r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("dev.example.com"), CallerReference: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	c.zoneID = strings.TrimPrefix(*zone.HostedZone.Id, "/hostedzone/")
	c.workerIdentity = c.instanceRoleProver(t, workerRoleARN, workerInstanceID)
	return c
}

// instanceRoleProver signs proofs with a session of role named after the
// instance, as EC2 hands an instance its role's credentials.
func (c *cloud) instanceRoleProver(t *testing.T, role, instanceID string) IdentityProver {
	t.Helper()
	out, err := sts.NewFromConfig(c.cfg).AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(instanceID)})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	return STSIdentityProver{
		Credentials: credentials.NewStaticCredentialsProvider(aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), aws.ToString(cr.SessionToken)),
		Region:      region, Endpoint: c.url,
	}
}

func (c *cloud) cluster() Cluster {
	return Cluster{
		ClusterName: "demo", Environment: "dev", Region: region, Domain: "dev.example.com",
		APIDNSName: "api.dev.example.com", KubernetesVersion: "1.36.6", PodCIDR: "10.244.0.0/16",
		ServiceCIDR: "10.96.0.0/12", Bucket: c.bucket.Name, KMSKeyARN: c.bucket.KMSKeyID, ZoneID: c.zoneID,
		EFSID: "fs-0123456789abcdef0", ACMEEmail: "ops@example.com", HTTPNodePort: 30080, HTTPSNodePort: 30443,
		WorkerPools:       map[string]Pool{"general": {Labels: map[string]string{"tier": "apps"}, Taints: []string{}}},
		ControllerASGName: "demo-controller", EtcdQuotaGiB: 2, WorkerRoleARN: workerRoleARN,
	}
}

func (c *cloud) controller(h Host, ip, id string, now func() time.Time) *Agent {
	return &Agent{
		Host: h, Bucket: c.bucket, DNS: Route53DNS{Client: c.r53}, Cluster: c.cluster(), Now: now,
		Instance: Instance{ID: id, InstanceType: "t3.medium", AvailabilityZone: "eu-west-1a", Region: region, PrivateIP: ip, Hostname: "ip-" + strings.ReplaceAll(ip, ".", "-") + ".eu-west-1.compute.internal"},
		Options:  Options{Role: RoleController, Bucket: c.bucket.Name, ConfigKey: "bootstrap/cluster.json", Region: region},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		CNI:      cniOf(h),
	}
}

// controllerWithPKI is a control-plane agent at t0 whose host holds the
// cluster PKI but has not bootstrapped: enough to create and publish join
// tokens.
func controllerWithPKI(t *testing.T) (*cloud, *recorder, *Agent) {
	t.Helper()
	c := newCloud(t)
	h := newRecorder(t, "controller")
	writePKI(t, h)
	return c, h, c.controller(h, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0))
}

// bootstrapController boots a control plane at ip as instance id, at
// now, on a new recorder named name, and returns the recorder.
func (c *cloud) bootstrapController(t *testing.T, name, ip, id string, now time.Time) *recorder {
	t.Helper()
	h := newRecorder(t, name)
	if err := c.controller(h, ip, id, fixedClock(now)).Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

// publishJoin publishes join material valid for an hour from t0, as a
// control plane would.
func (c *cloud) publishJoin(t *testing.T) {
	t.Helper()
	jm := JoinMaterial{APIEndpoint: "api.dev.example.com:6443", Token: "abcdef.0123456789abcdef",
		CACertHashes: []string{"sha256:" + strings.Repeat("0f", 32)}, Expires: t0.Add(time.Hour)}
	if err := PublishJoin(context.Background(), c.bucket, jm); err != nil {
		t.Fatal(err)
	}
}

// cniOf returns the test host's CNI stand-in (the recorder's), or nil.
func cniOf(h Host) CNIInstaller {
	if r, ok := h.(CNIInstaller); ok {
		return r
	}
	return nil
}

func (c *cloud) worker(h Host, now func() time.Time, bo Backoff, log *slog.Logger) *Agent {
	return &Agent{
		Host: h, Bucket: c.bucket, Cluster: c.cluster(), Now: now, Backoff: bo, Log: log, Identity: c.workerIdentity,
		Instance: Instance{ID: workerInstanceID, InstanceType: "m7g.large", AvailabilityZone: "eu-west-1b", Region: region, PrivateIP: "10.0.2.20", Hostname: "ip-10-0-2-20.eu-west-1.compute.internal"},
		Options:  Options{Role: RoleWorker, Pool: "general", Bucket: c.bucket.Name, ConfigKey: "bootstrap/cluster.json", Region: region},
	}
}

func (c *cloud) apiRecord(t *testing.T) string {
	t.Helper()
	out, err := c.r53.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(c.zoneID)})
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range out.ResourceRecordSets {
		if rr.Type == r53types.RRTypeA && strings.TrimSuffix(*rr.Name, ".") == "api.dev.example.com" {
			return *rr.ResourceRecords[0].Value
		}
	}
	return ""
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestControllerBootstrapPublishesUnderKMSAndIsIdempotent(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	h := newRecorder(t, "controller")
	a := c.controller(h, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0))
	if err := a.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	h.assertOrder(t,
		"systemctl enable kforge-bootstrap.service",
		"modprobe br_netfilter",
		"dnf install -y --disableexcludes=kubernetes kubelet-1.36.6 kubeadm-1.36.6 kubectl-1.36.6",
		"kubeadm config images list --kubernetes-version v1.36.6",
		"systemctl restart containerd",
		"kubeadm init --config /etc/kubernetes/kforge-kubeadm.yaml",
		"helm-sdk install-or-upgrade kube-system/cilium --kubeconfig /etc/kubernetes/admin.conf --set k8sServiceHost=api.dev.example.com",
		"kubeadm token create",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system exec etcd-ip-10-0-1-10.eu-west-1.compute.internal",
		"systemctl enable --now kforge-refresh-token.timer kforge-backup.timer kforge-upgrade.timer kforge-renew-certs.timer",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --force-conflicts -f /var/lib/kforge/addons/cert-manager.yaml",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf -n cert-manager wait",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --force-conflicts -f /var/lib/kforge/addons/kforge-issuers.yaml",
		"systemctl enable --now kforge-addons.timer",
	)
	if !strings.Contains(h.file("/etc/containerd/config.toml"), "SystemdCgroup = true") {
		t.Error("containerd not switched to the systemd cgroup driver")
	}
	if got := h.file("/etc/hosts"); !strings.Contains(got, "10.0.1.10 api.dev.example.com") {
		t.Errorf("/etc/hosts: %q", got)
	}
	if h.perms[kubeadmConfPath] != 0o600 {
		t.Errorf("kubeadm config mode %o", h.perms[kubeadmConfPath])
	}
	if got := c.apiRecord(t); got != "10.0.1.10" {
		t.Errorf("api record = %q, want the controller's private IP", got)
	}

	// Join material is readable back and stored under SSE-KMS with the cluster key.
	jm, err := ReadJoin(ctx, c.bucket)
	if err != nil {
		t.Fatal(err)
	}
	wantHash, _ := CACertHash([]byte(h.file(caCert)))
	if jm.APIEndpoint != "api.dev.example.com:6443" || jm.CACertHashes[0] != wantHash || !jm.Expires.Equal(t0.Add(TokenTTL)) {
		t.Errorf("join material %+v", jm)
	}
	for _, key := range []string{JoinKey, PKIBackupKey, EtcdSnapshotKey, AdminConfKey} {
		head, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.bucket.Name), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if head.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(head.SSEKMSKeyId) != c.bucket.KMSKeyID {
			t.Errorf("%s: encryption %s key %s", key, head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId))
		}
	}

	// A reboot re-runs the agent: nothing is installed, initialised or rotated again.
	before := len(h.commands())
	a.Now = fixedClock(t0.Add(time.Hour))
	if err := a.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	second := h.commands()[before:]
	for _, forbidden := range []string{"dnf install", "kubeadm init", "kubeadm token create", "helm-sdk install-or-upgrade", "systemctl enable kforge-bootstrap", "apply --server-side --force-conflicts -f /var/lib/kforge/addons/"} {
		for _, cmd := range second {
			if strings.Contains(cmd, forbidden) {
				t.Errorf("second run repeated %q", cmd)
			}
		}
	}
	if jm2, _ := ReadJoin(ctx, c.bucket); jm2.Token != jm.Token {
		t.Error("second run rotated a fresh token")
	}
}

// The drainer runs on the control plane when the cluster has a node events
// queue, and is stopped and disabled when it has none (a queue removed
// from the configuration).
func TestDrainerEnabledOnlyWithAQueue(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		queue, want string
	}{
		{"https://sqs.eu-west-1.amazonaws.com/123456789012/demo-node-events", "systemctl enable --now kforge-drain-events.service"},
		{"", "systemctl disable --now kforge-drain-events.service"},
	} {
		h := newRecorder(t, "controller")
		a := &Agent{Host: h, Cluster: Cluster{NodeEventsQueueURL: tc.queue, LifecycleHookName: "kforge-drain"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if err := a.enableDrainer(ctx); err != nil {
			t.Fatal(err)
		}
		if got := h.commands(); len(got) != 1 || got[0] != tc.want {
			t.Errorf("queue %q: ran %v, want [%s]", tc.queue, got, tc.want)
		}
	}
	var names []string
	for _, p := range (&Agent{}).controllerPhases() {
		names = append(names, p.name)
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "timers node-events-drainer node-ready") {
		t.Errorf("controller phases %s: want the drainer enabled with the timers, before the node waits for Ready", got)
	}
}

func TestWorkerStartedBeforeControlPlaneWaitsThenJoins(t *testing.T) {
	c := newCloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var waits atomic.Int32
	var delays []time.Duration
	waiting := make(chan struct{}, 100)
	bo := Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, Sleep: func(ctx context.Context, d time.Duration) error {
		delays = append(delays, d)
		waits.Add(1)
		waiting <- struct{}{}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}}
	wh := newRecorder(t, "worker")
	var logs bytes.Buffer
	w := c.worker(wh, fixedClock(t0), bo, slog.New(slog.NewTextHandler(&logs, nil)))
	done := make(chan error, 1)
	go func() { done <- w.Bootstrap(ctx) }()

	// The worker is polling an empty prefix; only then does the control plane come up.
	for range 3 {
		select {
		case <-waiting:
		case err := <-done:
			t.Fatalf("worker finished before any join material existed: %v", err)
		case <-ctx.Done():
			t.Fatal("worker never polled")
		}
	}
	if wh.ran("kubeadm join") {
		t.Fatal("worker joined without join material")
	}
	ch := newRecorder(t, "controller")
	if err := c.controller(ch, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0)).Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range waiting {
		}
	}()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	if waits.Load() < 3 || delays[0] != 10*time.Millisecond || delays[1] != 20*time.Millisecond || delays[2] != 40*time.Millisecond {
		t.Errorf("backoff not exponential up to the cap: %v", delays)
	}
	if !strings.Contains(logs.String(), "no join material yet") {
		t.Error("the wait was not logged")
	}
	wh.assertOrder(t, "dnf install -y --disableexcludes=kubernetes kubelet-1.36.6", "kubeadm join --config /etc/kubernetes/kforge-join.yaml", "rm -f /etc/kubernetes/kforge-join.yaml")
	// The join config held the published token and the labels; it is removed after the join.
	var joinCfg string
	for _, l := range wh.log {
		if l == "write "+joinConfPath {
			joinCfg = "written"
		}
	}
	if joinCfg == "" || wh.perms[joinConfPath] != 0o600 {
		t.Fatal("join config was not written root-only")
	}
	if _, err := wh.ReadFile(joinConfPath); err == nil {
		t.Error("join config (with the token) left on disk")
	}

	// Re-running after a reboot does not join again.
	before := len(wh.commands())
	if err := w.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range wh.commands()[before:] {
		if strings.HasPrefix(cmd, "kubeadm join") || strings.HasPrefix(cmd, "dnf install") {
			t.Errorf("second worker run repeated %q", cmd)
		}
	}

	// A reboot after kforge upgrade moved cluster.json to the next minor
	// (the worker not rolled yet): the host setup runs again, but the
	// kubelet stays on the version the node joined with, undrained nodes
	// are not upgraded in place.
	w.Cluster.KubernetesVersion = "1.37.1"
	before = len(wh.commands())
	if err := w.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	rerun := wh.commands()[before:]
	if !slices.Contains(rerun, "sysctl --system") {
		t.Errorf("the host setup did not run again for the new version: %v", rerun)
	}
	for _, cmd := range rerun {
		if strings.Contains(cmd, "kubelet-") || strings.HasPrefix(cmd, "kubeadm join") {
			t.Errorf("a joined worker's reboot ran %q", cmd)
		}
	}
}

func TestWorkerJoinConfigCarriesTokenLabelsAndProviderID(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	c.publishJoin(t)
	h := &captureJoin{recorder: newRecorder(t, "worker")}
	if err := c.worker(h, fixedClock(t0), Backoff{}, slog.New(slog.NewTextHandler(io.Discard, nil))).Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"token: abcdef.0123456789abcdef", "apiServerEndpoint: api.dev.example.com:6443",
		"value: aws:///eu-west-1b/i-0bbbbbbbbbbbbbbbb",
		"kforge.io/pool=general,node.kubernetes.io/instance-type=m7g.large,tier=apps,topology.kubernetes.io/region=eu-west-1,topology.kubernetes.io/zone=eu-west-1b",
	} {
		if !strings.Contains(h.joinConfig, want) {
			t.Errorf("join config lacks %q:\n%s", want, h.joinConfig)
		}
	}
}

// captureJoin keeps the join config as kubeadm would read it.
type captureJoin struct {
	*recorder
	joinConfig string
}

func (c *captureJoin) Run(ctx context.Context, cmd Command) (string, error) {
	if cmd.Name == "kubeadm" && len(cmd.Args) > 0 && cmd.Args[0] == "join" {
		c.joinConfig = c.file(joinConfPath)
	}
	return c.recorder.Run(ctx, cmd)
}

func TestExpiredTokenIsRefreshed(t *testing.T) {
	c, h, a := controllerWithPKI(t)
	ctx := context.Background()
	old := JoinMaterial{APIEndpoint: "api.dev.example.com:6443", Token: "oldtok.0000000000000000",
		CACertHashes: []string{"sha256:" + strings.Repeat("0f", 32)}, Expires: t0.Add(-time.Hour)}
	if err := PublishJoin(ctx, c.bucket, old); err != nil {
		t.Fatal(err)
	}
	rotated, err := a.RefreshToken(ctx)
	if err != nil || !rotated {
		t.Fatalf("expired token not rotated: %v %v", rotated, err)
	}
	jm, err := ReadJoin(ctx, c.bucket)
	if err != nil {
		t.Fatal(err)
	}
	if jm.Token == old.Token || !jm.Expires.Equal(t0.Add(TokenTTL)) {
		t.Errorf("join material after refresh: %+v", jm)
	}
	// A worker may be inside `kubeadm join` with the old token: it is kept
	// for the grace period, then deleted by the first refresh after it.
	if h.ran("kubeadm token delete") {
		t.Error("the previous token was deleted at once; a worker joining with it would fail")
	}
	if TokenGrace <= kubeadm.JoinTimeout {
		t.Errorf("token grace %s does not outlast a join (%s)", TokenGrace, kubeadm.JoinTimeout)
	}
	a.Now = fixedClock(t0.Add(TokenGrace - time.Minute))
	if _, err := a.RefreshToken(ctx); err != nil || h.ran("kubeadm token delete") {
		t.Fatalf("token deleted inside the grace period (err %v)", err)
	}
	a.Now = fixedClock(t0.Add(TokenGrace))
	if _, err := a.RefreshToken(ctx); err != nil || !h.ran("kubeadm token delete --kubeconfig /etc/kubernetes/admin.conf oldtok") {
		t.Fatalf("the previous token was not deleted after the grace period (err %v)", err)
	}
	before := len(h.commands())
	a.Now = fixedClock(t0.Add(2 * TokenGrace))
	if _, err := a.RefreshToken(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range h.commands()[before:] {
		if strings.HasPrefix(c, "kubeadm token delete") {
			t.Errorf("deleted twice: %s", c)
		}
	}

	cases := []struct {
		name   string
		at     time.Time
		rotate bool
	}{
		{"fresh", t0.Add(TokenTTL - RefreshBefore - time.Minute), false},
		{"inside the refresh window", t0.Add(TokenTTL - RefreshBefore + time.Minute), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.Now = fixedClock(tc.at)
			got, err := a.RefreshToken(ctx)
			if err != nil || got != tc.rotate {
				t.Fatalf("rotated=%v err=%v, want rotated=%v", got, err, tc.rotate)
			}
		})
	}
}

func TestReplacementControlPlaneRestoresTheSameCA(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	first := c.bootstrapController(t, "first", "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", t0)
	firstJoin, _ := ReadJoin(ctx, c.bucket)

	// The ASG replaces the instance: a new machine, a new address, the same bucket.
	second := c.bootstrapController(t, "second", "10.0.3.30", "i-0cccccccccccccccc", t0.Add(48*time.Hour))
	for _, name := range append(append([]string(nil), pkiFiles...), optionalPKIFiles...) {
		if first.file(pkiDir+"/"+name) != second.file(pkiDir+"/"+name) {
			t.Errorf("%s differs on the replacement", name)
		}
	}
	// The replacement reads the restored Secrets with the first key.
	if !strings.Contains(second.file(kubeadm.EncryptionConfigPath), "secretbox") {
		t.Error("the replacement has no Secrets encryption config")
	}
	second.assertOrder(t,
		"ctr -n k8s.io images pull registry.k8s.io/etcd:3.6.5-0",
		"ctr -n k8s.io containers rm kforge-etcd-restore",
		"rm -rf /var/lib/etcd",
		"ctr -n k8s.io run --rm --mount type=bind,src=/var/lib,dst=/var/lib,options=rbind:rw registry.k8s.io/etcd:3.6.5-0 kforge-etcd-restore etcdutl snapshot restore /var/lib/kforge/etcd-snapshot.db --data-dir /var/lib/etcd --name ip-10-0-3-30.eu-west-1.compute.internal --initial-cluster ip-10-0-3-30.eu-west-1.compute.internal=https://10.0.3.30:2380 --initial-advertise-peer-urls https://10.0.3.30:2380 --bump-revision 1000000000 --mark-compacted",
		"kubeadm init",
	)
	if !strings.Contains(second.file(kubeadmConfPath), "DirAvailable--var-lib-etcd") {
		t.Error("kubeadm init on restored etcd does not skip the data-dir preflight")
	}
	// cluster.json's quota of 2 GiB holds the restored database.
	if !strings.Contains(second.file(kubeadmConfPath), "- name: quota-backend-bytes\n      value: \"2147483648\"") {
		t.Errorf("kubeadm init on restored etcd does not give it cluster.json's quota:\n%s", second.file(kubeadmConfPath))
	}
	if got := c.apiRecord(t); got != "10.0.3.30" {
		t.Errorf("api record = %q, want the replacement's address", got)
	}
	secondJoin, _ := ReadJoin(ctx, c.bucket)
	if secondJoin.CACertHashes[0] != firstJoin.CACertHashes[0] || secondJoin.APIEndpoint != firstJoin.APIEndpoint {
		t.Errorf("workers would see a different cluster: %+v vs %+v", secondJoin, firstJoin)
	}
	var addrs apiAddresses
	raw, _ := c.bucket.Get(ctx, APIAddressesKey)
	if err := json.Unmarshal(raw, &addrs); err != nil || addrs.PrivateIP != "10.0.3.30" {
		t.Errorf("api addresses %s: %v", raw, err)
	}
}

func TestUnitsAndNodeEnvGolden(t *testing.T) {
	us, err := Units()
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{Options: Options{Role: RoleWorker, Pool: "general", Bucket: "demo-certs", ConfigKey: "bootstrap/cluster.json", Region: region}}
	var buf bytes.Buffer
	buf.WriteString("# /etc/kforge/node.env\n")
	buf.Write(a.nodeEnv())
	for _, name := range slices.Sorted(maps.Keys(us)) {
		buf.WriteString("\n# " + unitDir + "/" + name + "\n")
		buf.Write(us[name])
	}
	golden.Assert(t, filepath.Join("testdata", "units.golden"), buf.Bytes())
}

// The first control plane makes its Secrets encryption key itself, keeps it
// root-only, backs it up with the PKI (SSE-KMS) and writes the audit policy
// before kubeadm init reads them.
func TestControlPlaneMakesEncryptionKeyAndAuditPolicy(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	h := c.bootstrapController(t, "first", "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", t0)
	cfg := h.file(kubeadm.EncryptionConfigPath)
	if !strings.Contains(cfg, "kind: EncryptionConfiguration") || !strings.Contains(cfg, "secretbox") {
		t.Fatalf("encryption config:\n%s", cfg)
	}
	if h.perms[kubeadm.EncryptionConfigPath] != 0o600 {
		t.Errorf("encryption config mode %o, want 0600", h.perms[kubeadm.EncryptionConfigPath])
	}
	if !strings.Contains(h.file(kubeadm.AuditPolicyPath), "kind: Policy") {
		t.Error("no audit policy written")
	}
	archive, err := c.bucket.Get(ctx, PKIBackupKey)
	if err != nil {
		t.Fatal(err)
	}
	restored := newRecorder(t, "restored")
	if err := UnpackPKI(restored, archive); err != nil {
		t.Fatal(err)
	}
	if restored.file(pkiDir+"/encryption-config.yaml") != cfg {
		t.Error("the PKI backup does not carry the encryption config")
	}
	// A backup made before the key existed still restores.
	old := newRecorder(t, "old")
	for _, name := range pkiFiles {
		if err := old.WriteFile(pkiDir+"/"+name, []byte(h.file(pkiDir+"/"+name)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	oldArchive, err := PackPKI(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := UnpackPKI(newRecorder(t, "from-old"), oldArchive); err != nil {
		t.Errorf("a backup without the encryption config does not restore: %v", err)
	}
}

// A kubeadm init that stops after writing admin.conf (its wait for the
// control plane timed out) is run again by the next attempt, over what it
// left and past the preflight checks it passed the first time; once it
// has succeeded, no attempt runs it again.
func TestHalfFinishedInitIsRunAgain(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	h := newRecorder(t, "cp")
	h.initStops = errors.New("wait-control-plane: context deadline exceeded")
	a := c.controller(h, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0))
	if err := a.Bootstrap(ctx); err == nil {
		t.Fatal("the bootstrap went on past a failed kubeadm init")
	}
	if !Exists(h, adminConf) {
		t.Fatal("the stopped init left no admin.conf: the test proves nothing")
	}
	if strings.Contains(h.file(kubeadmConfPath), "  - all\n") {
		t.Error("the first init ignores every preflight check")
	}
	inits := func() int {
		return len(slices.DeleteFunc(h.commands(), func(l string) bool { return !strings.HasPrefix(l, "kubeadm init") }))
	}
	for attempt := 2; attempt <= 3; attempt++ {
		if err := a.Bootstrap(ctx); err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		if got := inits(); got != 2 {
			t.Errorf("after attempt %d: kubeadm init ran %d times, want twice (the stopped one and its resumption)", attempt, got)
		}
	}
	if !strings.Contains(h.file(kubeadmConfPath), "ignorePreflightErrors:\n  - all\n") {
		t.Errorf("the resumed init does not ignore the preflight checks the first one passed:\n%s", h.file(kubeadmConfPath))
	}
}

// A kubeadm join that stopped in its kubelet-start phase (the API server
// restarting) leaves the bootstrap kubeconfig and the cluster CA, which
// real kubeadm's preflight refuses: the next attempt removes them and
// joins. The join configuration, which holds the token, never outlives an
// attempt.
func TestJoinStoppedMidwayIsRetriedFromScratch(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	c.publishJoin(t)
	h := &stoppingJoin{recorder: newRecorder(t, "worker")}
	a := c.worker(h, fixedClock(t0), Backoff{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := a.Bootstrap(ctx); err == nil {
		t.Fatal("the bootstrap went on past a failed join")
	}
	if Exists(h, joinConfPath) {
		t.Error("the failed join left its configuration, which holds the token")
	}
	if err := a.Bootstrap(ctx); err != nil {
		t.Fatalf("the attempt after a join that stopped midway: %v", err)
	}
}

// A stop during kubeadm join (SIGTERM at a reboot, which the bootstrap
// command turns into the attempt's end) leaves no file holding the token:
// the removal runs past the ended context, which the real host's commands
// would refuse to start under. A file an attempt killed outright left is
// removed by the next one, even when that join had written kubelet.conf
// and no join runs again.
func TestTokenFilesDoNotOutliveAnAttempt(t *testing.T) {
	c := newCloud(t)
	c.publishJoin(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &stoppedDuringJoin{recorder: newRecorder(t, "worker"), stop: cancel}
	a := c.worker(h, fixedClock(t0), Backoff{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := a.Bootstrap(ctx); err == nil {
		t.Fatal("the bootstrap went on past a stopped join")
	}
	if !h.stopped {
		t.Fatal("the join never ran")
	}
	for _, f := range tokenFiles {
		if Exists(h, f) {
			t.Errorf("the stopped join left %s, which holds the token", f)
		}
	}

	// Killed after the kubelet wrote kubelet.conf: kubeadm removes its
	// bootstrap kubeconfig only when its kubelet-start phase returns.
	killed := newRecorder(t, "worker")
	left := []string{joinConfPath, joinKubeconfig, "/etc/kubernetes/bootstrap-kubelet.conf"}
	for _, f := range append([]string{kubeletConf}, left...) {
		if err := killed.WriteFile(f, []byte("left by a killed attempt"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := c.worker(killed, fixedClock(t0), Backoff{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_ = b.Bootstrap(context.Background()) // what follows the join is not this test's
	for _, f := range left {
		if Exists(killed, f) {
			t.Errorf("the attempt after a killed one left %s", f)
		}
	}
	if killed.ran("kubeadm join --config " + joinConfPath) {
		t.Error("a join ran again over kubelet.conf")
	}
}

// stoppedDuringJoin is a host whose commands refuse to start once the
// context has ended, as exec.CommandContext does, and whose kubeadm join
// is stopped by a signal: the attempt's context ends while it runs.
type stoppedDuringJoin struct {
	*recorder
	stop    context.CancelFunc
	stopped bool
}

func (s *stoppedDuringJoin) Run(ctx context.Context, cmd Command) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if cmd.Name == "kubeadm" && len(cmd.Args) > 0 && cmd.Args[0] == "join" {
		s.stopped = true
		s.stop()
		return "", errors.New("signal: terminated")
	}
	return s.recorder.Run(ctx, cmd)
}

// stoppingJoin is kubeadm join as its kubelet-start phase goes: the
// first join writes the bootstrap kubeconfig and the CA, then fails on
// the API server; a join that finds either refuses, as kubeadm's
// preflight does (FileAvailable).
type stoppingJoin struct {
	*recorder
	stopped bool
}

func (s *stoppingJoin) Run(ctx context.Context, cmd Command) (string, error) {
	if cmd.Name != "kubeadm" || len(cmd.Args) == 0 || cmd.Args[0] != "join" {
		return s.recorder.Run(ctx, cmd)
	}
	for _, f := range joinLeftovers {
		if Exists(s, f) {
			return "", fmt.Errorf("[preflight] [ERROR FileAvailable-%s]: %s already exists", strings.ReplaceAll(f, "/", "-"), f)
		}
	}
	if !s.stopped {
		s.stopped = true
		for _, f := range joinLeftovers {
			_ = s.WriteFile(f, []byte("left by the stopped join"), 0o600)
		}
		return "", errors.New("error execution phase kubelet-start: cannot get Node: the server is currently unable to handle the request")
	}
	return s.recorder.Run(ctx, cmd)
}

// failingCNI is a CNI install that never succeeds (Cilium's chart
// waiting out its timeout).
type failingCNI struct{}

func (failingCNI) InstallOrUpgrade(context.Context, string, map[string]any) (cni.Result, error) {
	return cni.Result{}, errors.New("timed out waiting for the condition")
}

// A replacement control plane publishes its address and admin kubeconfig
// as soon as kubeadm init has finished: kforge kubeconfig, validate and
// roll read them to reach the API, which answers long before the CNI
// install, the join material and the first backup are done, and must be
// reachable when one of those keeps failing.
func TestReplacementPublishesItsAddressBeforeTheCNI(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	c.bootstrapController(t, "first", "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", t0)

	h := newRecorder(t, "second")
	a := c.controller(h, "10.0.3.30", "i-0cccccccccccccccc", fixedClock(t0.Add(48*time.Hour)))
	a.Instance.PublicIP = "203.0.113.30"
	a.CNI = failingCNI{}
	if err := a.Bootstrap(ctx); err == nil || !strings.Contains(err.Error(), "timed out waiting") {
		t.Fatalf("bootstrap with a failing CNI: %v", err)
	}
	var addrs apiAddresses
	raw, err := c.bucket.Get(ctx, APIAddressesKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &addrs); err != nil || addrs.PrivateIP != "10.0.3.30" || addrs.PublicIP != "203.0.113.30" {
		t.Errorf("api addresses %s (%v): want the replacement's", raw, err)
	}
	conf, err := c.bucket.Get(ctx, AdminConfKey)
	if err != nil || string(conf) != h.file(adminConf) {
		t.Errorf("admin kubeconfig in the bucket is not the replacement's (%v)", err)
	}
}
