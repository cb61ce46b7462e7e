package terraform

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/terraform-exec/tfexec"

	kforge "github.com/kforge/kforge"
	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/test/e2e/inventory"
)

const (
	stateBucket = "kforge-e2e-state"
	stateKey    = "local/terraform.tfstate"
)

// TestClusterLifecycle applies the root module with the local example
// inputs to moto, checks every property issue 2 lists through the AWS API,
// re-plans (no change expected), destroys, and inventories leftovers.
func TestClusterLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the full apply in -short mode")
	}
	pluginDir := pluginDirOrSkip(t)
	terraformBin := terraformOrSkip(t)
	emu := localawstest.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	started := time.Now()
	work := t.TempDir()
	vars := stageCluster(t, work, emu.URL())
	clients := newClients(t, ctx, vars.Region, emu.URL())

	if _, err := clients.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(stateBucket)}); err != nil {
		t.Fatalf("creating the state bucket in the emulator: %v", err)
	}

	tf := newTerraform(t, terraformBin, filepath.Join(work, "terraform", "cluster"))
	initOpts := []tfexec.InitOption{
		tfexec.PluginDir(pluginDir),
		tfexec.BackendConfig("bucket=" + stateBucket),
		tfexec.BackendConfig("key=" + stateKey),
		tfexec.BackendConfig("region=" + vars.Region),
		tfexec.BackendConfig("use_lockfile=true"),
		tfexec.BackendConfig("use_path_style=true"),
		tfexec.BackendConfig("skip_credentials_validation=true"),
		tfexec.BackendConfig("skip_requesting_account_id=true"),
		tfexec.BackendConfig("skip_metadata_api_check=true"),
		tfexec.BackendConfig(fmt.Sprintf(`endpoints={s3=%q,sts=%q}`, emu.URL(), emu.URL())),
	}
	if err := tf.Init(ctx, initOpts...); err != nil {
		t.Fatalf("terraform init: %v", err)
	}
	varFile := tfexec.VarFile(vars.path)

	applyStart := time.Now()
	if err := tf.Apply(ctx, varFile); err != nil {
		t.Fatalf("terraform apply: %v", err)
	}
	t.Logf("apply took %s", time.Since(applyStart).Round(time.Second))

	state, err := tf.Show(ctx)
	if err != nil {
		t.Fatalf("terraform show: %v", err)
	}
	t.Logf("resources in state after apply: %d managed", cluster.ManagedResources(state))
	if err := lockfileExists(ctx, clients); err != nil {
		t.Errorf("S3 backend: %v", err)
	}

	out := readOutputs(t, ctx, tf)
	checkCluster(t, ctx, clients, vars, out)

	// The inventory must see the live cluster, or an empty one after the
	// destroy would prove nothing.
	target := inventory.Target{Cluster: vars.ClusterName, Domain: vars.Domain, Endpoint: emu.URL()}
	live, err := inventory.Take(ctx, clients.cfg, target)
	if err != nil {
		t.Fatalf("inventory of the live cluster: %v", err)
	}
	for _, kind := range liveKinds {
		if !slices.ContainsFunc(live.Leftovers, func(r inventory.Resource) bool { return r.Kind == kind }) {
			t.Errorf("inventory of the live cluster finds no %s; it could not notice one left behind", kind)
		}
	}
	t.Logf("inventory of the live cluster: %d resources of the cluster", len(live.Leftovers))

	planStart := time.Now()
	changed, err := tf.Plan(ctx, varFile)
	if err != nil {
		t.Fatalf("second terraform plan: %v", err)
	}
	if changed {
		t.Errorf("second plan after apply reports changes; want none (see the terraform log in %s)", tf.WorkingDir())
	}
	t.Logf("second plan took %s", time.Since(planStart).Round(time.Second))

	checkNewAgentRollsNothing(t, ctx, tf, clients, vars, out)

	destroyStart := time.Now()
	if err := tf.Destroy(ctx, tfexec.VarFile(vars.path)); err != nil {
		t.Fatalf("terraform destroy: %v", err)
	}
	t.Logf("destroy took %s", time.Since(destroyStart).Round(time.Second))

	after, err := inventory.Take(ctx, clients.cfg, target)
	if err != nil {
		t.Fatalf("inventory after destroy: %v", err)
	}
	for _, l := range after.Leftovers {
		t.Errorf("left after destroy: %s", l)
	}
	t.Logf("e2e wall time %s", time.Since(started).Round(time.Second))
}

// liveKinds are the resource kinds of the shared inventory that the local
// example's cluster has; the live cluster must show every one of them.
var liveKinds = []string{
	"ec2:vpc", "ec2:subnet", "ec2:internet-gateway", "ec2:route-table", "ec2:security-group",
	"ec2:vpc-endpoint", "ec2:launch-template", "ec2:instance", "elbv2:load-balancer",
	"elbv2:target-group", "autoscaling:group", "efs:file-system", "efs:mount-target", "s3:bucket",
	"s3:object", "iam:role", "iam:policy", "iam:instance-profile", "kms:alias", "kms:key",
	"route53:hosted-zone", "route53:record", "sqs:queue", "events:rule",
}

// clusterVars is the inputs the checks read, decoded into the type kforge
// renders them from: a renamed variable fails to decode here, not silently.
type clusterVars struct {
	path string
	config.Inputs
}

// stageCluster copies the embedded terraform tree (what kforge ships) into
// work and writes the local example inputs pointed at the emulator and a
// small stand-in agent binary.
func stageCluster(t *testing.T, work, endpoint string) clusterVars {
	t.Helper()
	// KFORGE_E2E_TERRAFORM_DIR runs the test against another copy of the
	// terraform/ tree (for example one with a property broken on purpose)
	// without touching the repository.
	var tree fs.FS = kforge.Terraform
	dest := work
	if dir := os.Getenv("KFORGE_E2E_TERRAFORM_DIR"); dir != "" {
		tree, dest = os.DirFS(dir), filepath.Join(work, "terraform")
		t.Logf("terraform tree from %s instead of the embedded one", dir)
	}
	if err := os.CopyFS(dest, tree); err != nil {
		t.Fatalf("copying the terraform tree: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(work, "terraform", "cluster", "examples", "local.tfvars.json"))
	if err != nil {
		t.Fatalf("reading the local example: %v", err)
	}
	var inputs map[string]any
	if err := json.Unmarshal(raw, &inputs); err != nil {
		t.Fatalf("decoding the local example: %v", err)
	}
	// One stand-in agent per architecture, with different content, so the
	// checks can tell which one each object and user data pins; over 5 MiB,
	// so the provider uploads them in parts, as it does the real agents.
	agents := map[string]any{}
	for _, arch := range []string{"amd64", "arm64"} {
		agent := filepath.Join(work, "kforge-node-"+arch)
		if err := os.WriteFile(agent, randomBytes(t, 6<<20), 0o755); err != nil {
			t.Fatalf("writing the stand-in agent: %v", err)
		}
		agents[arch] = agent
	}
	// A Graviton Spot pool next to the example's x86 pools: a mixed cluster.
	// The emulator does not check an AMI's architecture, so the local
	// example's pinned AMI serves it (kforge's configuration refuses one
	// pinned AMI for two architectures; on AWS each gets its own).
	pools, _ := inputs["worker_pools"].(map[string]any)
	pools["graviton"] = map[string]any{
		"instance_types": []any{"t4g.small", "m7g.medium"},
		"min_size":       0, "desired_size": 1, "max_size": 2,
		"volume_size":    20,
		"labels":         map[string]any{"kforge.io/pool": "graviton", "node.kubernetes.io/capacity-type": "spot"},
		"taints":         []any{},
		"capacity":       "spot",
		"on_demand_base": 0,
		"ingress":        true,
	}
	inputs["aws_endpoint_url"] = endpoint
	// The emulator's us-east-1b (use1-az1) left out, as an account does
	// with a zone it cannot use: the cluster takes us-east-1a and 1c.
	inputs["exclude_zone_ids"] = []any{"use1-az1"}
	// Terraform used directly on a fresh account (the emulator starts
	// without it): the stack creates the Auto Scaling service-linked role.
	inputs["create_autoscaling_service_linked_role"] = true
	inputs["agent_binary_paths"] = agents
	path := filepath.Join(work, "e2e.tfvars.json")
	encoded, err := json.MarshalIndent(inputs, "", "  ")
	if err != nil {
		t.Fatalf("encoding inputs: %v", err)
	}
	if err := os.WriteFile(path, encoded, 0o644); err != nil {
		t.Fatalf("writing inputs: %v", err)
	}
	var vars clusterVars
	dec := json.NewDecoder(bytes.NewReader(encoded))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&vars.Inputs); err != nil {
		t.Fatalf("decoding inputs into config.Inputs: %v", err)
	}
	vars.path = path
	return vars
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random bytes: %v", err)
	}
	return b
}

// newTerraform runs terraform in dir with the emulator's test credentials;
// its output goes to terraform.log in dir, and to the test log on failure.
func newTerraform(t *testing.T, bin, dir string) *tfexec.Terraform {
	t.Helper()
	tf, err := tfexec.NewTerraform(dir, bin)
	if err != nil {
		t.Fatalf("terraform: %v", err)
	}
	if err := tf.SetEnv(map[string]string{
		"AWS_ACCESS_KEY_ID":           awsx.TestAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       awsx.TestSecretAccessKey,
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	}); err != nil {
		t.Fatalf("terraform environment: %v", err)
	}
	logPath := filepath.Join(dir, "terraform.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("terraform log: %v", err)
	}
	t.Cleanup(func() {
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("terraform output (tail):\n%s", tail(b, 6000))
			}
		}
	})
	tf.SetStdout(logFile)
	tf.SetStderr(logFile)
	return tf
}

func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	b = b[len(b)-n:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return b
}

// pluginDirOrSkip returns the provider mirror from KFORGE_PLUGIN_DIR; without
// it, init needs the Terraform registry, so the test skips when that is out
// of reach.
func pluginDirOrSkip(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("KFORGE_PLUGIN_DIR"); dir != "" {
		return dir
	}
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("https://registry.terraform.io/.well-known/terraform.json")
	if err != nil {
		t.Skipf("skipping: KFORGE_PLUGIN_DIR is not set (a hashicorp/aws provider mirror) and the Terraform registry is unreachable: %v", err)
	}
	resp.Body.Close()
	return ""
}

func terraformOrSkip(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Skipf("skipping: terraform is not installed: %v", err)
	}
	return bin
}

// lockfileExists proves the backend ran with use_lockfile: the state object
// is in the bucket and no lock object is left after the apply.
func lockfileExists(ctx context.Context, c *clients) error {
	if _, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(stateBucket), Key: aws.String(stateKey)}); err != nil {
		return fmt.Errorf("state object %s/%s: %w", stateBucket, stateKey, err)
	}
	if _, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(stateBucket), Key: aws.String(stateKey + ".tflock")}); err == nil {
		return fmt.Errorf("lock object %s.tflock still exists after the apply finished", stateKey)
	}
	return nil
}

// outputs holds the root module outputs the checks use: kforge's own
// decoding of them, plus the notes only the checks read.
type outputs struct {
	cluster.Outputs
	APIZoneID string   `json:"api_zone_id"`
	Notes     []string `json:"notes"`
}

func readOutputs(t *testing.T, ctx context.Context, tf *tfexec.Terraform) outputs {
	t.Helper()
	meta, err := tf.Output(ctx)
	if err != nil {
		t.Fatalf("terraform output: %v", err)
	}
	flat := map[string]json.RawMessage{}
	for k, v := range meta {
		flat[k] = v.Value
	}
	for _, name := range []string{"cluster_name", "environment", "region", "vpc_id", "nlb_dns_name", "nlb_arn",
		"target_group_arns", "zone_id", "api_zone_id", "name_servers", "api_dns_name", "api_endpoint", "certs_bucket",
		"controller_asg_name", "worker_asg_names", "efs_id", "kms_key_arn", "controller_role_arn",
		"worker_role_arn", "emulated"} {
		if _, ok := flat[name]; !ok {
			t.Errorf("output %q is missing (it is part of the shared contract)", name)
		}
	}
	raw, err := json.Marshal(flat)
	if err != nil {
		t.Fatalf("encoding outputs: %v", err)
	}
	var out outputs
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decoding outputs: %v", err)
	}
	return out
}

func normalizeDNS(name string) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	return strings.ReplaceAll(name, `\052`, "*")
}
