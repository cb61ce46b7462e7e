package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/sweep"
	"github.com/kforge/kforge/internal/tfrun"
)

// With certsBucketForceDestroy false, `kforge down` keeps what the cluster
// wrote and must still be readable afterwards: the certs bucket (PKI and
// etcd backups, under SSE-KMS with the cluster key) with its settings and
// policy, the log bucket, and the cluster key with its alias. A bucket kept
// without its key is worthless: once a scheduled key deletion completes,
// nothing in the bucket can be decrypted again.
//
// Terraform destroys everything its state holds, so down removes these
// resources from the state first (terraform state rm), and the leftover
// sweep leaves them alone. up and plan look them up by name and import the
// buckets, the key and the alias (import blocks in the adopt file). The
// buckets' settings (versioning, encryption, public access block, policy,
// lifecycle, ownership, logging) are not imported: each is written by a PUT
// that replaces what the bucket has, so the plan simply writes them again.

// keptModule and keptResources are the state addresses down removes
// before terraform destroy.
const keptModule = "module.buckets"

var keptResources = []string{
	"module.kms.aws_kms_key.cluster",
	"module.kms.aws_kms_alias.cluster",
}

// Root-module addresses the kept resources are imported to.
const (
	certsBucketAddress = "module.buckets.aws_s3_bucket.certs"
	logBucketAddress   = "module.buckets.aws_s3_bucket.logs[0]"
	keyAddress         = "module.kms.aws_kms_key.cluster"
	aliasAddress       = "module.kms.aws_kms_alias.cluster"
)

// KeptWhy is the Why of a resource kept by down.
const KeptWhy = "kept by kforge down (certsBucketForceDestroy: false)"

// KeptNames names what down keeps for one cluster in one account and
// region, as terraform/modules/buckets and modules/kms name them.
type KeptNames struct {
	CertsBucket string
	LogBucket   string
	Alias       string
	// Region places the buckets' ARNs in its partition.
	Region string
}

// NamesFor computes the names of the kept resources.
func NamesFor(cluster, account, region string) KeptNames {
	return KeptNames{
		CertsBucket: bucketName(cluster, "certs", account, region),
		LogBucket:   bucketName(cluster, "logs", account, region),
		Alias:       "alias/" + cluster,
		Region:      region,
	}
}

// bucketName is the buckets module's
// trimsuffix(substr("<cluster>-<kind>-<account>-<region>", 0, 63), "-").
func bucketName(cluster, kind, account, region string) string {
	name := fmt.Sprintf("%s-%s-%s-%s", cluster, kind, account, region)
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.TrimSuffix(name, "-")
}

// keptStateAddresses are the addresses to remove from st before terraform
// destroy so that it leaves the kept resources, and how many managed
// resources they cover. Only addresses present in st are returned
// (terraform state rm refuses others).
func keptStateAddresses(st *tfjson.State) (addrs []string, count int) {
	present := map[string]bool{}
	module := false
	walkManaged(st, func(r *tfjson.StateResource) {
		present[r.Address] = true
		if strings.HasPrefix(r.Address, keptModule+".") {
			module = true
			count++
		}
	})
	if module {
		addrs = append(addrs, keptModule)
	}
	for _, a := range keptResources {
		if present[a] {
			addrs = append(addrs, a)
			count++
		}
	}
	return addrs, count
}

// bucketsWithoutForceDestroy reports whether a bucket of the buckets
// module is recorded in st with force_destroy false.
func bucketsWithoutForceDestroy(st *tfjson.State) bool {
	found := false
	walkManaged(st, func(r *tfjson.StateResource) {
		if r.Type == "aws_s3_bucket" && strings.HasPrefix(r.Address, keptModule+".") && r.AttributeValues["force_destroy"] == false {
			found = true
		}
	})
	return found
}

func walkManaged(st *tfjson.State, fn func(*tfjson.StateResource)) {
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return
	}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		for _, r := range m.Resources {
			if r.Mode == tfjson.ManagedResourceMode {
				fn(r)
			}
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(st.Values.RootModule)
}

// keptLookup is what findKept needs from AWS: whether a bucket of this
// account exists, and the key an alias names (nil when there is none).
type keptLookup interface {
	bucketExists(ctx context.Context, name string) (bool, error)
	aliasKey(ctx context.Context, alias string) (*kmstypes.KeyMetadata, map[string]string, error)
}

// findKept looks the kept resources up by name and returns those the state
// does not hold (known reads it, only when something exists). A key counts
// only when it is a customer managed key of this cluster (its tag) that is
// not pending deletion; its alias only with such a key, kept or in the
// state. Anything else under these names is left to the orphan rules.
func findKept(ctx context.Context, cluster string, names KeptNames, look keptLookup, known func() (map[string]bool, error)) ([]sweep.Resource, error) {
	var found []sweep.Resource
	for _, b := range []string{names.CertsBucket, names.LogBucket} {
		ok, err := look.bucketExists(ctx, b)
		if err != nil {
			return nil, err
		}
		if ok {
			found = append(found, sweep.Resource{Kind: sweep.KindBucket, ID: b, ARN: awsx.BucketARN(names.Region, b), Name: b, Why: KeptWhy})
		}
	}
	md, tags, err := look.aliasKey(ctx, names.Alias)
	if err != nil {
		return nil, err
	}
	key := ""
	if md != nil && md.KeyManager == kmstypes.KeyManagerTypeCustomer && tags[sweep.ClusterTag] == cluster &&
		md.KeyState != kmstypes.KeyStatePendingDeletion && md.KeyState != kmstypes.KeyStatePendingReplicaDeletion {
		key = *md.KeyId
		found = append(found,
			sweep.Resource{Kind: sweep.KindKMSKey, ID: key, ARN: *md.Arn, Why: KeptWhy},
			sweep.Resource{Kind: sweep.KindKMSAlias, ID: names.Alias, Name: names.Alias, Parent: key, Why: KeptWhy})
	}
	if len(found) == 0 {
		return nil, nil
	}
	inState, err := known()
	if err != nil {
		return nil, err
	}
	var out []sweep.Resource
	for _, r := range found {
		if !inState[r.ID] && !inState[r.ARN] {
			out = append(out, r)
		}
	}
	return out, nil
}

// withoutKept drops the kept resources from a listing of the cluster.
func withoutKept(all, kept []sweep.Resource) []sweep.Resource {
	if len(kept) == 0 {
		return all
	}
	drop := map[string]bool{}
	for _, k := range kept {
		drop[k.Kind+" "+k.ID] = true
	}
	var out []sweep.Resource
	for _, r := range all {
		if !drop[r.Kind+" "+r.ID] {
			out = append(out, r)
		}
	}
	return out
}

// keptAdoptions maps kept resources to the addresses that import them.
// logBucket says whether the configuration has a log bucket (vpcFlowLogs
// or bucketAccessLogs); a kept log bucket it does not have is returned in
// left, to be left alone.
func keptAdoptions(names KeptNames, kept []sweep.Resource, logBucket bool) (adopt map[string]sweep.Resource, left []sweep.Resource) {
	adopt = map[string]sweep.Resource{}
	for _, r := range kept {
		switch {
		case r.Kind == sweep.KindBucket && r.ID == names.CertsBucket:
			adopt[certsBucketAddress] = r
		case r.Kind == sweep.KindBucket && r.ID == names.LogBucket && logBucket:
			adopt[logBucketAddress] = r
		case r.Kind == sweep.KindKMSKey:
			adopt[keyAddress] = r
		case r.Kind == sweep.KindKMSAlias:
			adopt[aliasAddress] = r
		default:
			left = append(left, r)
		}
	}
	return adopt, left
}

// DescribeKept is one phrase per kept resource, sorted, for messages.
func DescribeKept(rs []sweep.Resource) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		switch r.Kind {
		case sweep.KindBucket:
			out = append(out, "bucket "+r.ID)
		case sweep.KindKMSKey:
			out = append(out, "KMS key "+r.ID)
		case sweep.KindKMSAlias:
			out = append(out, "KMS alias "+r.ID)
		default:
			out = append(out, r.String())
		}
	}
	sort.Strings(out)
	return out
}

// keepOnDown says whether down keeps the certs bucket and key. A local
// emulator kforge manages is stopped after down and takes everything with
// it, so nothing is kept there.
func (e *Env) keepOnDown() bool {
	return !e.Config.CertsBucketForceDestroy && !e.Local
}

// kept finds the kept resources the state does not hold (see findKept).
func (e *Env) kept(ctx context.Context, known func() (map[string]bool, error)) (KeptNames, []sweep.Resource, error) {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return KeptNames{}, nil, err
	}
	id, err := e.Caller(ctx)
	if err != nil {
		return KeptNames{}, nil, fmt.Errorf("looking for a kept certs bucket: %w", err)
	}
	account := aws.ToString(id.Account)
	names := NamesFor(e.Config.Name, account, e.Config.Region)
	look := awsKept{s3: awsx.S3Client(cfg, e.Endpoint), kms: kms.NewFromConfig(cfg), account: account}
	found, err := findKept(ctx, e.Config.Name, names, look, known)
	if err != nil {
		return names, nil, fmt.Errorf("looking for the certs bucket and key an earlier down kept: %w", err)
	}
	return names, found, nil
}

// adoptKept is plan's lookup of what an earlier down kept, adopted as up
// adopts it (up does the lookup with its orphan check).
func (e *Env) adoptKept(ctx context.Context, r *tfrun.Runner) error {
	names, found, err := e.kept(ctx, stateKnown(ctx, r))
	if err != nil {
		return err
	}
	_, err = e.adoptKeptFound(ctx, r, names, found)
	return err
}

// adoptKeptFound writes import blocks for the kept resources found, so the
// plan takes them back instead of creating new ones, and returns how many;
// nothing found, nothing written.
func (e *Env) adoptKeptFound(ctx context.Context, r *tfrun.Runner, names KeptNames, found []sweep.Resource) (int, error) {
	if len(found) == 0 {
		return 0, nil
	}
	logBucket := e.Config.Logging.VPCFlowLogs || e.Config.Logging.BucketAccessLogs
	adopt, left := keptAdoptions(names, found, logBucket)
	for _, l := range left {
		e.opts.UI.Notef("%s is kept from an earlier down, but this configuration has no log bucket (logging.vpcFlowLogs and logging.bucketAccessLogs are off): it is left as it is; delete it yourself when its logs are no longer needed.\n", DescribeKept([]sweep.Resource{l})[0])
	}
	if _, ok := adopt[certsBucketAddress]; ok {
		if _, ok := adopt[keyAddress]; !ok {
			e.opts.UI.Notef("warning: the certs bucket %s kept by an earlier down is adopted without its key (no usable %s of this cluster: deleted or pending deletion). Its objects stay encrypted under that key; cancel the key's deletion (aws kms cancel-key-deletion, then aws kms enable-key) within its waiting period to read them again.\n", names.CertsBucket, names.Alias)
		}
	}
	if len(adopt) == 0 {
		return 0, nil
	}
	return len(adopt), e.writeImports(ctx, r, adopt, "kept by an earlier `kforge down` (certsBucketForceDestroy: false)")
}

// stateKnown reads the state's values once, when first asked.
func stateKnown(ctx context.Context, r *tfrun.Runner) func() (map[string]bool, error) {
	return func() (map[string]bool, error) {
		st, err := r.State(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the state: %w", err)
		}
		return sweep.StateValues(st), nil
	}
}

// awsKept is keptLookup against AWS.
type awsKept struct {
	s3      *s3.Client
	kms     *kms.Client
	account string
}

// bucketExists: a bucket of this account by that name. Another account's
// bucket answers 403 (the expected owner differs) and is not ours to keep.
func (a awsKept) bucketExists(ctx context.Context, name string) (bool, error) {
	_, err := a.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name), ExpectedBucketOwner: aws.String(a.account)})
	if err == nil {
		return true, nil
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NotFound", "NoSuchBucket", "Forbidden", "AccessDenied", "403":
			return false, nil
		}
	}
	return false, fmt.Errorf("checking bucket %s: %w", name, err)
}

func (a awsKept) aliasKey(ctx context.Context, alias string) (*kmstypes.KeyMetadata, map[string]string, error) {
	out, err := a.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	var nf *kmstypes.NotFoundException
	if errors.As(err, &nf) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("describing %s: %w", alias, err)
	}
	tags := map[string]string{}
	p := kms.NewListResourceTagsPaginator(a.kms, &kms.ListResourceTagsInput{KeyId: out.KeyMetadata.KeyId})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("tags of key %s: %w", aws.ToString(out.KeyMetadata.KeyId), err)
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.TagKey)] = aws.ToString(t.TagValue)
		}
	}
	return out.KeyMetadata, tags, nil
}
