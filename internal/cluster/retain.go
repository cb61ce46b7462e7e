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
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
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
// nothing in the bucket can be decrypted again. It also keeps the public
// hosted zone the dns module made: its name servers are what the registrar
// delegates to, and a new zone would get others, so the domain would stop
// resolving until the delegation is changed and the TLD's cached NS
// records (up to two days) expire.
//
// Terraform destroys everything its state holds, so down removes these
// resources from the state first (terraform state rm), and the leftover
// sweep leaves them alone. up and plan look them up by name and import the
// buckets, the key, the alias and the zone (import blocks in the adopt
// file). The records Terraform made in the zone stay in the state and are
// destroyed (they point at the load balancer that goes); records others
// made in it stay with the zone. The
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
// region, as terraform/modules/buckets, modules/kms and modules/dns name
// them.
type KeptNames struct {
	CertsBucket string
	LogBucket   string
	Alias       string
	// Zone is the domain, whose public zone the dns module makes unless
	// the environment brings its own (dns.zoneID); a zone kept from before
	// is looked for either way, so that it is never taken for an orphan.
	Zone string
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
// resources they cover; with zone, the public zone and its NS set are among
// them. Only addresses present in st are returned (terraform state rm
// refuses others).
func keptStateAddresses(st *tfjson.State, zone bool) (addrs []string, count int) {
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
	resources := keptResources
	if zone {
		resources = append(resources[:len(resources):len(resources)], publicZoneAddress, publicZoneNSAddress)
	}
	for _, a := range resources {
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

// managedAttributes are the non-empty string values of attribute attr of
// st's managed resources of type typ (the IDs of its file systems, the
// names of its Auto Scaling groups).
func managedAttributes(st *tfjson.State, typ, attr string) []string {
	var values []string
	walkManaged(st, func(r *tfjson.StateResource) {
		if v, _ := r.AttributeValues[attr].(string); r.Type == typ && v != "" {
			values = append(values, v)
		}
	})
	return values
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
// account exists, the key an alias names (nil when there is none), and the
// public zones of a domain with their tags.
type keptLookup interface {
	bucketExists(ctx context.Context, name string) (bool, error)
	aliasKey(ctx context.Context, alias string) (*kmstypes.KeyMetadata, map[string]string, error)
	publicZones(ctx context.Context, domain string) ([]zoneTags, error)
}

// zoneTags is a public hosted zone and its tags.
type zoneTags struct {
	ID   string
	Tags map[string]string
}

// findKept looks the kept resources up by name and returns those the state
// does not hold (known reads it, only when something exists). A key counts
// only when it is a customer managed key of this cluster (its tag) that is
// not pending deletion; its alias only with such a key, kept or in the
// state. A public zone of the domain counts only with the cluster's tag
// (Route 53 takes several zones of one name, and one may be the user's).
// Anything else under these names is left to the orphan rules.
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
	if names.Zone != "" {
		zones, err := look.publicZones(ctx, names.Zone)
		if err != nil {
			return nil, err
		}
		var ours []string
		for _, z := range zones {
			if z.Tags[sweep.ClusterTag] == cluster {
				ours = append(ours, z.ID)
			}
		}
		if len(ours) > 1 {
			return nil, fmt.Errorf("%d public hosted zones named %s carry the tag %s=%s (%s), and the cluster can serve one: delete the one the registrar does not delegate to (aws route53 get-hosted-zone --id <id> shows its name servers)",
				len(ours), names.Zone, sweep.ClusterTag, cluster, strings.Join(ours, ", "))
		}
		if len(ours) == 1 {
			found = append(found, sweep.Resource{Kind: sweep.KindHostedZone, ID: ours[0], Name: names.Zone, Why: KeptWhy})
		}
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

// withoutKept drops the kept resources from a listing of the cluster, and
// the records of a kept zone that Terraform never made (the sweep lists
// them as the zone's children): they stay with it.
func withoutKept(all, kept []sweep.Resource) []sweep.Resource {
	if len(kept) == 0 {
		return all
	}
	drop := map[string]bool{}
	keptZones := map[string]bool{}
	for _, k := range kept {
		drop[k.Kind+" "+k.ID] = true
		if k.Kind == sweep.KindHostedZone {
			keptZones[k.ID] = true
		}
	}
	var out []sweep.Resource
	for _, r := range all {
		if drop[r.Kind+" "+r.ID] || (r.Kind == sweep.KindRecord && keptZones[r.Parent]) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// keptAdoptions maps kept resources to the addresses that import them.
// logBucket says whether the configuration has a log bucket (vpcFlowLogs
// or bucketAccessLogs); a kept log bucket it does not have is returned in
// left, to be left alone, and so is a kept zone when the configuration
// now brings its own (zoneManaged false: dns.zoneID is set).
func keptAdoptions(names KeptNames, kept []sweep.Resource, logBucket, zoneManaged bool) (adopt map[string]sweep.Resource, left []sweep.Resource) {
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
		case r.Kind == sweep.KindHostedZone && zoneManaged && r.Name == names.Zone:
			adopt[publicZoneAddress] = r
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
		case sweep.KindHostedZone:
			out = append(out, "hosted zone "+r.Name+" ("+r.ID+")")
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
	names.Zone = e.Config.Domain
	look := awsKept{s3: awsx.S3Client(cfg, e.Endpoint), kms: kms.NewFromConfig(cfg), r53: awsx.Route53Client(cfg), account: account}
	found, err := findKept(ctx, e.Config.Name, names, look, known)
	if err != nil {
		return names, nil, fmt.Errorf("looking for the certs bucket, key and zone an earlier down kept: %w", err)
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
	adopt, left := keptAdoptions(names, found, logBucket, e.Config.DNS.ZoneID == "")
	for _, l := range left {
		if l.Kind == sweep.KindHostedZone && l.ID == e.Config.DNS.ZoneID {
			continue // the kept zone is the one dns.zoneID now names
		}
		why := "this configuration has no log bucket (logging.vpcFlowLogs and logging.bucketAccessLogs are off): it is left as it is; delete it yourself when its logs are no longer needed"
		if l.Kind == sweep.KindHostedZone {
			why = "this configuration serves the domain from its own zone (dns.zoneID): it is left as it is; delete it yourself once the registrar no longer delegates to it"
		}
		e.opts.UI.Notef("%s is kept from an earlier down, but %s.\n", DescribeKept([]sweep.Resource{l})[0], why)
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
	r53     *route53.Client
	account string
}

// bucketExists: a bucket of this account by that name.
func (a awsKept) bucketExists(ctx context.Context, name string) (bool, error) {
	_, err := a.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name), ExpectedBucketOwner: aws.String(a.account)})
	if err == nil {
		return true, nil
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NotFound", "NoSuchBucket":
			return false, nil
		case "Forbidden", "AccessDenied", "403":
			// Another account's bucket (the expected owner differs), or
			// this account's where the caller lacks s3:ListBucket: the 403
			// has no body to tell them apart. Taken for "none", the second
			// would be swept by down with every backup in it.
			return a.bucketListed(ctx, name)
		}
	}
	return false, fmt.Errorf("checking bucket %s: %w", name, err)
}

// bucketListed reports whether this account's bucket list has the bucket
// (ListBuckets lists the caller's account's only).
func (a awsKept) bucketListed(ctx context.Context, name string) (bool, error) {
	p := s3.NewListBucketsPaginator(a.s3, &s3.ListBucketsInput{Prefix: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, fmt.Errorf("bucket %s refuses HeadBucket (403), and listing this account's buckets to tell whether it is this account's failed: %w; allow s3:ListBucket on it", name, err)
		}
		for _, b := range page.Buckets {
			if aws.ToString(b.Name) == name {
				return true, nil
			}
		}
	}
	return false, nil
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

// publicZones lists the public hosted zones named domain, with their tags.
// ListHostedZonesByName starts at the name and goes on in order, so the
// zones of that name come first; the listing stops at the first other name.
func (a awsKept) publicZones(ctx context.Context, domain string) ([]zoneTags, error) {
	var out []zoneTags
	in := &route53.ListHostedZonesByNameInput{DNSName: aws.String(domain)}
	for {
		page, err := a.r53.ListHostedZonesByName(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing the hosted zones of %s: %w", domain, err)
		}
		for _, z := range page.HostedZones {
			if sweep.RecordName(aws.ToString(z.Name)) != sweep.RecordName(domain) {
				return out, nil
			}
			if z.Config != nil && z.Config.PrivateZone {
				continue
			}
			id := strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/")
			tags, err := a.r53.ListTagsForResource(ctx, &route53.ListTagsForResourceInput{ResourceId: aws.String(id), ResourceType: r53types.TagResourceTypeHostedzone})
			if err != nil {
				return nil, fmt.Errorf("tags of hosted zone %s: %w", id, err)
			}
			zt := zoneTags{ID: id, Tags: map[string]string{}}
			if tags.ResourceTagSet != nil {
				for _, t := range tags.ResourceTagSet.Tags {
					zt.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
			}
			out = append(out, zt)
		}
		if !page.IsTruncated {
			return out, nil
		}
		in = &route53.ListHostedZonesByNameInput{DNSName: page.NextDNSName, HostedZoneId: page.NextHostedZoneId}
	}
}
