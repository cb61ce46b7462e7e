package cluster

import (
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/sweep"
	"github.com/kforge/kforge/internal/tfrun"
)

// openWithTerraform opens the local environment against an emulator of
// its own, with the provider mirror: for tests that run terraform init.
func openWithTerraform(t *testing.T) (*Env, *localaws.Emulator) {
	t.Helper()
	plugins := os.Getenv("KFORGE_PLUGIN_DIR")
	if plugins == "" {
		t.Skip("SKIP (not a pass): terraform init needs the provider mirror (KFORGE_PLUGIN_DIR)")
	}
	if _, _, err := tfrun.FindTerraform(context.Background()); err != nil {
		t.Skipf("SKIP (not a pass): %v", err)
	}
	em := localawstest.StartForTest(t)
	e, err := Open(context.Background(), "local", NeedEmulator, Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), Endpoint: em.URL(), PluginDir: plugins, UI: &recordingUI{}})
	if err != nil {
		t.Fatal(err)
	}
	return e, em
}

// RunInit creates the state bucket and initialises Terraform with the S3
// backend; a second run finds both and changes nothing.
func TestRunInitIsIdempotent(t *testing.T) {
	ctx := context.Background()
	e, em := openWithTerraform(t)
	first, err := RunInit(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || first.Bucket == "" || first.Key != e.StateKey() || first.Terraform == "" || first.Endpoint != em.URL() || len(first.Settings) == 0 {
		t.Errorf("first init: %+v", first)
	}
	if _, err := os.Stat(filepath.Join(first.WorkDir, ".terraform")); err != nil {
		t.Errorf("terraform init left no .terraform in %s: %v", first.WorkDir, err)
	}
	second, err := RunInit(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if second.Created || second.Bucket != first.Bucket || second.WorkDir != first.WorkDir {
		t.Errorf("second init: %+v, first %+v", second, first)
	}
}

// A run that cannot go on for want of something on this machine (here an
// agent binary nodes cannot run) fails before it creates anything in the
// account: no state bucket, no Auto Scaling service-linked role.
func TestLocalPreconditionsBeforeAnyChange(t *testing.T) {
	ctx := context.Background()
	em := localawstest.StartForTest(t)
	riscv := filepath.Join(t.TempDir(), "riscv")
	writeELF(t, riscv, elf.EM_RISCV)
	o := Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), Endpoint: em.URL(), AgentBinary: riscv, UI: &recordingUI{}}
	e, err := Open(ctx, "local", NeedEmulator, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RunInit(ctx, e); exitCode(err) != ExitUsage {
		t.Errorf("init with no usable agent binary: %v (exit %d), want exit %d", err, exitCode(err), ExitUsage)
	}
	if _, err := e.Prepare(ctx); exitCode(err) != ExitUsage {
		t.Errorf("prepare with no usable agent binary: %v (exit %d), want exit %d", err, exitCode(err), ExitUsage)
	}
	cfg, err := awsx.Config(ctx, "us-east-1", em.URL())
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := awsx.S3Client(cfg, em.URL()).ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(buckets.Buckets) != 0 {
		t.Errorf("buckets made before the local check failed: %d", len(buckets.Buckets))
	}
	roles, err := iam.NewFromConfig(cfg).ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(roles.Roles) != 0 {
		t.Errorf("roles made before the local check failed: %d", len(roles.Roles))
	}
}

// up never deletes a running cluster as orphans because the state it
// reads holds nothing (state.key changed, the state object deleted): an
// instance of the cluster beside an empty state stops it, naming the
// state's location and the two ways on; the instance stays.
func TestUpRefusesOrphansOfARunningClusterOverAnEmptyState(t *testing.T) {
	ctx := context.Background()
	e, _ := openWithTerraform(t)
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run, err := ec2.NewFromConfig(cfg).RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-760aaa0f"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{
			{Key: aws.String(sweep.ClusterTag), Value: aws.String(e.Config.Name)}, {Key: aws.String(sweep.EnvironmentTag), Value: aws.String(e.Config.Environment)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.removeOrphans(ctx, r)
	if exitCode(err) != ExitFailure || !strings.Contains(err.Error(), "holds no resource") || !strings.Contains(err.Error(), e.StateKey()) || !strings.Contains(err.Error(), "kforge orphans local --delete") {
		t.Fatalf("orphan check over an empty state with an instance of the cluster: %v (exit %d)", err, exitCode(err))
	}
	out, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{aws.ToString(run.Instances[0].InstanceId)}})
	if err != nil || len(out.Reservations) != 1 || out.Reservations[0].Instances[0].State.Name != ec2types.InstanceStateNameRunning {
		t.Errorf("the instance after the refusal: %+v, %v; want it running", out, err)
	}
}
