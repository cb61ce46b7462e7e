package cluster

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/backend"
	"github.com/kforge/kforge/internal/servicerole"
	"github.com/kforge/kforge/internal/tfrun"
)

// stateBucketTags mark the state bucket as kforge's. They do not name a
// cluster: the default bucket is shared by every environment of an account
// and region, and outlives `kforge down`; --purge-state deletes it only
// once no other environment's state is in it.
var stateBucketTags = map[string]string{
	"kforge.io/managed-by": "kforge",
	"kforge.io/purpose":    "terraform-state",
}

// stateClient is an S3 client for the state bucket's region, and the bucket.
func (e *Env) stateClient(ctx context.Context) (*s3.Client, string, error) {
	bucket, err := e.StateBucket(ctx)
	if err != nil {
		return nil, "", err
	}
	cfg, err := awsx.Config(ctx, e.StateRegion(), e.Endpoint)
	if err != nil {
		return nil, "", err
	}
	return awsx.S3Client(cfg, e.Endpoint), bucket, nil
}

// EnsureStateBucket creates the state bucket if missing and applies its
// settings (idempotent).
func (e *Env) EnsureStateBucket(ctx context.Context) (*backend.Result, error) {
	c, bucket, err := e.stateClient(ctx)
	if err != nil {
		return nil, err
	}
	return backend.Ensure(ctx, c, backend.Options{
		Bucket:   bucket,
		Region:   e.StateRegion(),
		Emulated: e.Emulated(),
		Tags:     stateBucketTags,
	})
}

// StateBucketExists reports whether the state bucket is there.
func (e *Env) StateBucketExists(ctx context.Context) (bool, error) {
	c, bucket, err := e.stateClient(ctx)
	if err != nil {
		return false, err
	}
	return backend.Exists(ctx, c, bucket)
}

// purgeState deletes this environment's state (every version, and its
// lock file), then the state bucket when nothing else is in it.
func (e *Env) purgeState(ctx context.Context) (bucket string, res backend.PurgeResult, err error) {
	c, bucket, err := e.stateClient(ctx)
	if err != nil {
		return "", res, err
	}
	res, err = backend.PurgeState(ctx, c, bucket, e.Config.State.Key)
	return bucket, res, err
}

// ensureAutoScalingRole creates the account's Auto Scaling service-linked
// role when missing: the cluster key's policy names it, and AWS would create
// it only with the first Auto Scaling group, after the key.
func (e *Env) ensureAutoScalingRole(ctx context.Context) error {
	cfg, err := awsx.Config(ctx, e.Config.Region, e.Endpoint)
	if err != nil {
		return err
	}
	_, _, err = servicerole.EnsureAutoScaling(ctx, iam.NewFromConfig(cfg))
	return err
}

// checkLocal checks what a Terraform run needs on this machine, the AWS
// credentials (off an emulator), the agent binaries and terraform, before
// anything is created in the account for a run that could not go on.
func (e *Env) checkLocal(ctx context.Context) error {
	if e.Endpoint == "" {
		if _, err := e.AWSConfig(ctx); err != nil {
			return err
		}
	}
	if _, err := e.AgentBinaries(); err != nil {
		return err
	}
	_, _, err := tfrun.FindTerraform(ctx)
	return err
}

// Prepare makes the environment ready for Terraform: state bucket, the Auto
// Scaling service-linked role, staged modules, terraform init (skipped when
// nothing it depends on changed).
func (e *Env) Prepare(ctx context.Context) (*tfrun.Runner, error) {
	if err := e.checkLocal(ctx); err != nil {
		return nil, err
	}
	if _, err := e.EnsureStateBucket(ctx); err != nil {
		return nil, err
	}
	if err := e.ensureAutoScalingRole(ctx); err != nil {
		return nil, err
	}
	return e.InitRunner(ctx)
}

// InitRunner is Runner followed by terraform init (when needed).
func (e *Env) InitRunner(ctx context.Context) (*tfrun.Runner, error) {
	r, err := e.Runner(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.Init(ctx, false); err != nil {
		return nil, err
	}
	return r, nil
}

// withStateLock runs fn while holding the environment's Terraform state
// lock (see backend.WithLock); false when another run holds it.
func (e *Env) withStateLock(ctx context.Context, operation string, fn func() error) (bool, error) {
	c, bucket, err := e.stateClient(ctx)
	if err != nil {
		return false, err
	}
	return backend.WithLock(ctx, backend.Lock{Client: c, Bucket: bucket, StateKey: e.StateKey(), Operation: operation, Env: e.Name}, fn)
}

// ManagedResources counts the managed resources in a state, all modules.
func ManagedResources(st *tfjson.State) int {
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return 0
	}
	var count func(m *tfjson.StateModule) int
	count = func(m *tfjson.StateModule) int {
		n := 0
		for _, r := range m.Resources {
			if r.Mode == tfjson.ManagedResourceMode {
				n++
			}
		}
		for _, c := range m.ChildModules {
			n += count(c)
		}
		return n
	}
	return count(st.Values.RootModule)
}
