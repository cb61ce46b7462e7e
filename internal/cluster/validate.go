package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	corev1 "k8s.io/api/core/v1"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/kubeadm"
	"github.com/kforge/kforge/internal/node"
	"github.com/kforge/kforge/internal/nodelifecycle"
	"github.com/kforge/kforge/internal/wait"
)

// NodeState is one node's readiness as the API server reports it.
type NodeState struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
	Pool  string `json:"pool,omitempty"`
	// Instance is the EC2 instance its spec.providerID names.
	Instance string `json:"instance,omitempty"`
}

// ValidationResult is one round of `kforge validate`.
type ValidationResult struct {
	Nodes []NodeState `json:"nodes"`
	// Instances are those of the cluster's groups, each of which must have
	// a Node; read only when the Nodes were.
	Instances    []GroupInstance     `json:"instances,omitempty"`
	TargetGroups []TargetGroupStatus `json:"target_groups"`
	// EtcdDBBytes is the etcd database's size as the API server reports
	// it; 0 when it reports none yet.
	EtcdDBBytes int64 `json:"etcd_db_bytes,omitempty"`
	// EtcdQuotaBytes is the quota etcd runs with (its static pod's
	// command), or the environment's when the pod is not found.
	EtcdQuotaBytes int64 `json:"etcd_quota_bytes,omitempty"`
	// ConfiguredEtcdQuotaBytes is the environment's quota
	// (controlPlane.etcdQuotaGiB), which a running etcd takes only when the
	// control plane is replaced.
	ConfiguredEtcdQuotaBytes int64 `json:"configured_etcd_quota_bytes,omitempty"`
	// Images are the images the launch templates boot: one that cannot
	// launch is a problem, since no failed node would be replaced.
	Images []ImageStatus `json:"images,omitempty"`
	// Certificates are the cluster CA's, the admin's and the API server's
	// (certexpiry.go).
	Certificates []Certificate `json:"certificates,omitempty"`
	// EtcdBackup is the latest etcd snapshot a replacement control plane
	// would restore (etcdbackup.go).
	EtcdBackup *EtcdBackup `json:"etcd_backup,omitempty"`
	// JoinMaterial is the published join material's expiry
	// (joinmaterial.go).
	JoinMaterial *JoinExpiry `json:"join_material,omitempty"`
	// Issuers are the Let's Encrypt ClusterIssuers (issuers.go).
	Issuers []IssuerState `json:"issuers,omitempty"`
	// KeyState is the cluster key's: any but Enabled is a problem, since
	// no node could launch (clusterkey.go).
	KeyState string   `json:"key_state,omitempty"`
	Problems []string `json:"problems"`
	// imageFix is what the problem of an image asks for; keyARN names the
	// key in its problem.
	imageFix, keyARN string
}

// Lines are the round as validate prints it: a line per node and target
// group, then the etcd database's size when the API server reports it.
func (r ValidationResult) Lines() []string {
	var lines []string
	for _, n := range r.Nodes {
		lines = append(lines, fmt.Sprintf("node %-50s ready=%v pool=%s", n.Name, n.Ready, n.Pool))
	}
	if len(r.Instances) > 0 {
		lines = append(lines, fmt.Sprintf("instances %d in the cluster's groups, %d without a Node", len(r.Instances), len(instancesWithoutNode(r.Instances, r.Nodes))))
	}
	for _, tg := range r.TargetGroups {
		lines = append(lines, fmt.Sprintf("target group %-6s %d targets %v", tg.Name, tg.Targets, tg.States))
	}
	if r.EtcdDBBytes > 0 {
		lines = append(lines, fmt.Sprintf("etcd database %d MiB of its %d MiB quota", r.EtcdDBBytes>>20, r.EtcdQuotaBytes>>20))
	}
	if r.ConfiguredEtcdQuotaBytes > 0 && r.EtcdQuotaBytes > 0 && r.ConfiguredEtcdQuotaBytes != r.EtcdQuotaBytes {
		lines = append(lines, fmt.Sprintf("etcd quota: the environment sets %d MiB, which etcd takes when the control plane is replaced (`kforge roll --control-plane`)",
			r.ConfiguredEtcdQuotaBytes>>20))
	}
	if r.EtcdBackup != nil {
		lines = append(lines, r.EtcdBackup.Line(time.Now()))
	}
	if r.JoinMaterial != nil {
		lines = append(lines, r.JoinMaterial.Line(time.Now()))
	}
	for _, c := range r.Certificates {
		lines = append(lines, c.Line(time.Now()))
	}
	for _, i := range r.Issuers {
		lines = append(lines, i.Line())
	}
	for _, i := range r.Images {
		lines = append(lines, i.Line(time.Now()))
	}
	if r.KeyState != "" {
		lines = append(lines, "cluster key "+r.KeyState)
	}
	return lines
}

// OK reports whether nothing is wrong.
func (r ValidationResult) OK() bool { return len(r.Problems) == 0 }

// errNoAPIOnEmulator is returned before any check on an emulated cluster.
var errNoAPIOnEmulator = errors.New("validate needs the cluster's Kubernetes API server, and an emulated cluster has none: " +
	"the emulator records instances but boots nothing, so no node agent, kubelet or API server runs. " +
	"Nothing was validated; use `kforge status` for what the emulator does hold")

// requireAPIServer refuses, before any check, a cluster whose instances
// never boot (the emulator): exit code 1 with the reason.
func requireAPIServer(emulated bool) error {
	if emulated {
		return &ExitError{Code: ExitFailure, Err: errNoAPIOnEmulator}
	}
	return nil
}

// apiGet GETs path from the API server and returns the body of a 200
// answer; what names the request in errors, which carry the start of any
// other answer.
func apiGet(ctx context.Context, client *http.Client, server, path, accept, what string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+path, nil)
	if err != nil {
		return nil, fmt.Errorf("building the request for %s: %w", path, err)
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", what, server, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, &apiStatusError{Code: resp.StatusCode, msg: fmt.Sprintf("%s at %s: %s: %s", what, server, resp.Status, strings.TrimSpace(string(body)))}
	}
	return resp.Body, nil
}

// apiStatusError is an answer of the API server other than 200; Code lets
// a caller tell a kind the server does not serve (404) from a failure.
type apiStatusError struct {
	Code int
	msg  string
}

func (e *apiStatusError) Error() string { return e.msg }

// nodeReadiness lists nodes through GET /api/v1/nodes and decodes them with
// the k8s.io/api types.
func nodeReadiness(ctx context.Context, client *http.Client, server string) ([]NodeState, error) {
	resp, err := apiGet(ctx, client, server, "/api/v1/nodes", "application/json", "listing nodes")
	if err != nil {
		return nil, err
	}
	defer resp.Close()
	body, err := io.ReadAll(io.LimitReader(resp, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("reading nodes from %s: %w", server, err)
	}
	var list corev1.NodeList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("decoding the node list: %w", err)
	}
	states := make([]NodeState, 0, len(list.Items))
	for _, n := range list.Items {
		states = append(states, NodeState{Name: n.Name, Pool: n.Labels["kforge.io/pool"], Ready: nodelifecycle.Ready(n), Instance: nodelifecycle.InstanceOf(n.Spec.ProviderID)})
	}
	sort.Slice(states, func(i, j int) bool { return states[i].Name < states[j].Name })
	return states, nil
}

// targetHealth counts each target group's targets by state; a target
// without a health description counts as unknown, or not at all when
// unknown is empty.
func targetHealth(ctx context.Context, client *elbv2.Client, arns map[string]string, unknown string) ([]TargetGroupStatus, error) {
	var out []TargetGroupStatus
	for _, name := range slices.Sorted(maps.Keys(arns)) {
		res, err := client.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arns[name])})
		if err != nil {
			return nil, fmt.Errorf("describing target health of %s: %w", name, err)
		}
		tg := TargetGroupStatus{Name: name, ARN: arns[name], States: map[string]int{}}
		for _, d := range res.TargetHealthDescriptions {
			tg.Targets++
			switch {
			case d.TargetHealth != nil:
				tg.States[string(d.TargetHealth.State)]++
			case unknown != "":
				tg.States[unknown]++
			}
		}
		out = append(out, tg)
	}
	return out, nil
}

// apiHTTPClient reaches the API server with the admin kubeconfig in the
// certs bucket, at the address the control plane published or, with a
// tunnelPort, at that local port.
func (e *Env) apiHTTPClient(ctx context.Context, out *Outputs, tunnelPort int) (*Kubeconfig, *http.Client, string, error) {
	kc, err := e.fetchKubeconfig(ctx, out, tunnelPort == 0)
	if err != nil {
		return nil, nil, "", err
	}
	if tunnelPort != 0 {
		if err := pointAtTunnel(kc, out.APIDNSName, tunnelPort); err != nil {
			return nil, nil, "", err
		}
	}
	client, server, err := kc.HTTPClient()
	return kc, client, server, err
}

// etcdQuotas are the quota etcd runs with and the environment's of
// configuredGiB; the running one is the environment's when no etcd pod is
// found (the kubelet has not published it yet).
func etcdQuotas(ctx context.Context, client *http.Client, server string, configuredGiB int) (running, configured int64, err error) {
	configured = kubeadm.EtcdQuotaBytes(configuredGiB)
	running, found, err := runningEtcdQuota(ctx, client, server)
	if err != nil || !found {
		return configured, configured, err
	}
	return running, configured, nil
}

// problems lists what keeps the cluster from being valid.
func (r *ValidationResult) evaluate() {
	r.Problems = nil
	if len(r.Nodes) == 0 {
		r.Problems = append(r.Problems, "no node has registered")
	}
	for _, n := range r.Nodes {
		if !n.Ready {
			r.Problems = append(r.Problems, "node "+n.Name+" is not Ready")
		}
	}
	r.Problems = append(r.Problems, instancesWithoutNode(r.Instances, r.Nodes)...)
	imageProblems, _ := imageFindings(r.Images, r.imageFix, time.Now())
	r.Problems = append(r.Problems, imageProblems...)
	if p := keyProblem(r.KeyState, r.keyARN); r.KeyState != "" && p != "" {
		r.Problems = append(r.Problems, p)
	}
	if p := etcdSpaceProblem(r.EtcdDBBytes, r.EtcdQuotaBytes); p != "" {
		r.Problems = append(r.Problems, p)
	}
	if r.EtcdBackup != nil {
		if p := r.EtcdBackup.Problem(time.Now()); p != "" {
			r.Problems = append(r.Problems, p)
		}
	}
	if r.JoinMaterial != nil {
		if p := r.JoinMaterial.Problem(time.Now()); p != "" {
			r.Problems = append(r.Problems, p)
		}
	}
	for _, c := range r.Certificates {
		if p := c.Problem(time.Now()); p != "" {
			r.Problems = append(r.Problems, p)
		}
	}
	for _, i := range r.Issuers {
		if p := i.Problem(); p != "" {
			r.Problems = append(r.Problems, p)
		}
	}
	for _, tg := range r.TargetGroups {
		if tg.Targets == 0 {
			r.Problems = append(r.Problems, "target group "+tg.Name+" has no targets")
		} else if tg.States["healthy"] != tg.Targets {
			r.Problems = append(r.Problems, fmt.Sprintf("target group %s: %d of %d targets healthy", tg.Name, tg.States["healthy"], tg.Targets))
		}
	}
}

// ValidateOptions tune RunValidate.
type ValidateOptions struct {
	// Wait keeps checking for this long before failing; 0 checks once.
	Wait time.Duration
	// Interval is the time between checks while waiting.
	Interval time.Duration
	// TunnelPort, when set, reaches the API server through this local
	// port forwarded to the control plane's 6443 (an SSM port forward, or
	// the lab's loopback forward to its nodes on the emulator).
	TunnelPort int
}

// Check refuses bad flags before any cloud call (exit code 2): a bad
// tunnel port would otherwise fail every round until --wait runs out.
func (o ValidateOptions) Check() error {
	if o.Wait < 0 || o.Interval <= 0 {
		return UsageError("--wait must be >= 0 and --interval > 0")
	}
	if o.TunnelPort != 0 {
		return KubeconfigServer{Tunnel: true, TunnelPort: o.TunnelPort}.Validate()
	}
	return nil
}

// RunValidate checks that every node is Ready, every instance of the
// cluster's groups has a Node, every NLB target is healthy, the etcd
// database is well under its quota, its latest backup is recent, the join
// material has not expired, no
// certificate is close to expiring and both Let's Encrypt issuers are Ready, through the API server with the admin
// kubeconfig and through AWS, until all hold or o.Wait has passed. It
// returns the last round; the error says why the cluster is not valid.
func RunValidate(ctx context.Context, e *Env, o ValidateOptions) (*ValidationResult, error) {
	out, err := e.AppliedOutputs(ctx)
	if err != nil {
		return nil, err
	}
	// A local port forwarded to the control plane's 6443 is an API server
	// even on the emulator (the lab boots its instances as nodes).
	if err := requireAPIServer(out.Emulated && o.TunnelPort == 0); err != nil {
		return nil, err
	}
	return e.validateUntil(ctx, out, o)
}

// validateUntil runs validation rounds on the applied cluster of out until
// one finds nothing wrong or o.Wait has passed.
func (e *Env) validateUntil(ctx context.Context, out *Outputs, o ValidateOptions) (*ValidationResult, error) {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	lb, groups := elbv2.NewFromConfig(cfg), autoscaling.NewFromConfig(cfg)
	bucket := node.S3Bucket{Client: awsx.S3Client(cfg, e.Endpoint), Name: out.CertsBucket}
	backupInterval := time.Duration(e.Config.BackupIntervalMinutes()) * time.Minute
	// The images change only by an up, the key's state by an operator:
	// read once, whatever the wait.
	images, imerr := imageStatuses(ctx, ec2.NewFromConfig(cfg), poolImages(out))
	keyState, kerr := clusterKeyState(ctx, kms.NewFromConfig(cfg), out.KMSKeyARN)
	deadline := time.Now().Add(o.Wait)
	for {
		r := ValidationResult{Images: images, KeyState: keyState, imageFix: imageFix(e.Name, e.Config.AMIID), keyARN: out.KMSKeyARN}
		// Fetched each round: a new cluster's control plane publishes its
		// kubeconfig only once it has initialised, and a replacement its
		// new address.
		kc, client, server, nerr := e.apiHTTPClient(ctx, out, o.TunnelPort)
		if nerr == nil {
			r.Nodes, nerr = nodeReadiness(ctx, client, server)
		}
		tgs, terr := targetHealth(ctx, lb, out.TargetGroupARNs, "")
		r.TargetGroups = tgs
		backup, berr := latestEtcdBackup(ctx, bucket, backupInterval)
		if berr == nil {
			r.EtcdBackup = &backup
		}
		join, jerr := publishedJoinExpiry(ctx, bucket)
		if jerr == nil {
			r.JoinMaterial = &join
		}
		var serr, qerr, ierr, cerr, uerr error
		if nerr == nil {
			r.Certificates, cerr = apiCertificates(ctx, kc, client, server)
			r.Issuers, uerr = issuerStates(ctx, client, server, out.Emulated)
			r.Instances, ierr = groupInstances(ctx, groups, out)
			r.EtcdDBBytes, _, serr = etcdDBSize(ctx, client, server)
			r.EtcdQuotaBytes, r.ConfiguredEtcdQuotaBytes, qerr = etcdQuotas(ctx, client, server, e.Config.ControlPlane.EtcdQuotaGiB)
		}
		r.evaluate()
		for _, err := range []error{nerr, terr, ierr, serr, qerr, cerr, uerr, berr, jerr, imerr, kerr} {
			if err != nil {
				r.Problems = append(r.Problems, err.Error())
			}
		}
		if r.OK() {
			return &r, nil
		}
		if !time.Now().Before(deadline) {
			return &r, Failure("cluster %s is not valid after %s: %s", e.Name, o.Wait, strings.Join(r.Problems, "; "))
		}
		e.opts.UI.Notef("not valid yet (%s); retrying in %s\n", strings.Join(r.Problems, "; "), o.Interval)
		if err := wait.Sleep(ctx, o.Interval); err != nil {
			return nil, err
		}
	}
}
