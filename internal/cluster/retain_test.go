package cluster

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	tfjson "github.com/hashicorp/terraform-json"

	kforge "github.com/kforge/kforge"
	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/sweep"
)

// The names down keeps and up looks up must be the modules' names: read
// the expressions from the embedded modules, and check the truncation.
func TestKeptNamesFollowTheModules(t *testing.T) {
	for file, want := range map[string][]string{
		"terraform/modules/buckets/bucket.tf": {`bucket_name = trimsuffix(substr("${var.cluster_name}-certs-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}", 0, 63), "-")`},
		"terraform/modules/buckets/logs.tf":   {`log_bucket_name = trimsuffix(substr("${var.cluster_name}-logs-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}", 0, 63), "-")`},
		"terraform/modules/kms/key.tf":        {`name          = "alias/${var.cluster_name}"`, `resource "aws_kms_key" "cluster"`, `resource "aws_kms_alias" "cluster"`},
	} {
		src, err := fs.ReadFile(kforge.Terraform, file)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(string(src), w) {
				t.Errorf("%s no longer has %s: change NamesFor (internal/cluster/retain.go) with it", file, w)
			}
		}
	}
	n := NamesFor("kforge-prod", "123456789012", "eu-west-1")
	if n.CertsBucket != "kforge-prod-certs-123456789012-eu-west-1" || n.LogBucket != "kforge-prod-logs-123456789012-eu-west-1" || n.Alias != "alias/kforge-prod" {
		t.Errorf("NamesFor = %+v", n)
	}
	// 20-character cluster, long region: cut at 63, then no trailing hyphen.
	long := NamesFor("abcdefghijklmnopqrst", "123456789012", "ap-southeast-22")
	if len(long.CertsBucket) > 63 || strings.HasSuffix(long.CertsBucket, "-") || !strings.HasPrefix(long.CertsBucket, "abcdefghijklmnopqrst-certs-123456789012-ap-southeast") {
		t.Errorf("long name = %q (%d characters)", long.CertsBucket, len(long.CertsBucket))
	}
	if got := bucketName("abcdefghijklmnopqrst", "certs", "123456789012", "us-east-1-abcdefghijkl-x"); len(got) != 62 || strings.HasSuffix(got, "-") {
		t.Errorf("a cut ending in a hyphen must lose it: %q (%d)", got, len(got))
	}
}

// resourceType is the type in a resource address:
// module.m.data.aws_x.y["k"] and aws_x.y are both of type aws_x.
func resourceType(address string) string {
	parts := strings.Split(address, ".")
	for len(parts) > 2 && (parts[0] == "module" || parts[0] == "data") {
		if parts[0] == "module" {
			parts = parts[2:]
		} else {
			parts = parts[1:]
		}
	}
	return parts[0]
}

func stateOf(t *testing.T, addrs ...string) *tfjson.State {
	t.Helper()
	modules := map[string]*tfjson.StateModule{}
	root := &tfjson.StateModule{}
	for _, a := range addrs {
		mode := tfjson.ManagedResourceMode
		if strings.Contains(a, ".data.") {
			mode = tfjson.DataResourceMode
		}
		r := &tfjson.StateResource{Address: a, Mode: mode, Type: resourceType(a)}
		if strings.HasPrefix(a, "module.") {
			parts := strings.SplitN(a, ".", 3)
			mod := parts[0] + "." + parts[1]
			if modules[mod] == nil {
				modules[mod] = &tfjson.StateModule{Address: mod}
				root.ChildModules = append(root.ChildModules, modules[mod])
			}
			modules[mod].Resources = append(modules[mod].Resources, r)
			continue
		}
		root.Resources = append(root.Resources, r)
	}
	return &tfjson.State{Values: &tfjson.StateValues{RootModule: root}}
}

func TestKeptStateAddresses(t *testing.T) {
	st := stateOf(t,
		"aws_s3_object.cluster_config",
		"module.buckets.aws_s3_bucket.certs",
		"module.buckets.aws_s3_bucket_versioning.certs",
		"module.buckets.aws_s3_bucket.logs[0]",
		"module.buckets.data.aws_caller_identity.current",
		"module.kms.aws_kms_key.cluster",
		"module.kms.aws_kms_alias.cluster",
		"module.kms.aws_iam_service_linked_role.autoscaling[0]",
		"module.network.aws_vpc.this",
		"module.dns.aws_route53_zone.this[0]",
		"module.dns.aws_route53_record.apex_ns[0]",
		"module.dns.aws_route53_zone.api",
		"module.dns.aws_route53_record.ingress[\"*.dev.example.com\"]",
	)
	addrs, n := keptStateAddresses(st, true)
	if want := []string{"module.buckets", "module.kms.aws_kms_key.cluster", "module.kms.aws_kms_alias.cluster", "module.dns.aws_route53_zone.this[0]", "module.dns.aws_route53_record.apex_ns[0]"}; !reflect.DeepEqual(addrs, want) {
		t.Errorf("addresses = %v, want %v", addrs, want)
	}
	if n != 7 { // three managed bucket resources, key, alias, public zone and its NS set; not the data source
		t.Errorf("kept count = %d, want 7", n)
	}
	// Buckets handed to the sweep (not kept): the zone goes with the destroy.
	if addrs, n := keptStateAddresses(st, false); slices.Contains(addrs, publicZoneAddress) || n != 5 {
		t.Errorf("without the zone: %v %d", addrs, n)
	}
	// A state rm of an absent address fails: nothing kept, nothing named.
	if addrs, n := keptStateAddresses(stateOf(t, "module.network.aws_vpc.this", "module.kms.aws_kms_alias.cluster"), true); !reflect.DeepEqual(addrs, []string{"module.kms.aws_kms_alias.cluster"}) || n != 1 {
		t.Errorf("alias only: %v %d", addrs, n)
	}
	if addrs, n := keptStateAddresses(nil, true); addrs != nil || n != 0 {
		t.Errorf("no state: %v %d", addrs, n)
	}
}

func TestKeptAdoptionsAndExclusion(t *testing.T) {
	n := NamesFor("c1", "123456789012", "us-east-1")
	n.Zone = "c1.example.com"
	kept := []sweep.Resource{
		{Kind: sweep.KindBucket, ID: n.CertsBucket},
		{Kind: sweep.KindBucket, ID: n.LogBucket},
		{Kind: sweep.KindKMSKey, ID: "k-1"},
		{Kind: sweep.KindKMSAlias, ID: n.Alias},
		{Kind: sweep.KindHostedZone, ID: "Z1", Name: n.Zone},
	}
	adopt, left := keptAdoptions(n, kept, true, true)
	want := map[string]string{certsBucketAddress: n.CertsBucket, logBucketAddress: n.LogBucket, keyAddress: "k-1", aliasAddress: n.Alias, publicZoneAddress: "Z1"}
	got := map[string]string{}
	for a, r := range adopt {
		got[a] = r.ID
	}
	if !reflect.DeepEqual(got, want) || len(left) != 0 {
		t.Errorf("with a log bucket: adopt %v left %v", got, left)
	}
	adopt, left = keptAdoptions(n, kept, false, true)
	if _, ok := adopt[logBucketAddress]; ok || len(left) != 1 || left[0].ID != n.LogBucket || len(adopt) != 4 {
		t.Errorf("without a log bucket: adopt %v left %v; want the log bucket left alone", adopt, left)
	}
	// The environment now brings its own zone (dns.zoneID): the kept one
	// is left alone, not imported over it.
	if adopt, left = keptAdoptions(n, kept, true, false); len(left) != 1 || left[0].ID != "Z1" || len(adopt) != 4 {
		t.Errorf("with the environment's own zone: adopt %v left %v; want the kept zone left alone", adopt, left)
	}
	// The sweep lists the records of a tagged zone: those others made in
	// the kept zone stay with it; Terraform's (no parent) and another
	// zone's are not kept.
	all := append([]sweep.Resource{
		{Kind: sweep.KindVPC, ID: "vpc-1"},
		{Kind: sweep.KindKMSKey, ID: "k-2"},
		{Kind: sweep.KindRecord, ID: "Z1_verify.c1.example.com_TXT", Parent: "Z1"},
		{Kind: sweep.KindRecord, ID: "Z1_c1.example.com_A"},
		{Kind: sweep.KindRecord, ID: "Z2_x.c1.example.com_TXT", Parent: "Z2"},
	}, kept...)
	var rest []string
	for _, r := range withoutKept(all, kept) {
		rest = append(rest, r.ID)
	}
	if want := []string{"vpc-1", "k-2", "Z1_c1.example.com_A", "Z2_x.c1.example.com_TXT"}; !reflect.DeepEqual(rest, want) {
		t.Errorf("withoutKept = %v, want %v", rest, want)
	}
}

// findKept against the emulator: what exists under the kept names, minus
// what the state holds; a key of another cluster or pending deletion is
// never kept, and neither is its alias.
func TestFindKeptAgainstEmulator(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	account := aws.ToString(id.Account)
	s3c, kmsc, r53 := awsx.S3Client(cfg, em.URL()), kms.NewFromConfig(cfg), route53.NewFromConfig(cfg)
	look := awsKept{s3: s3c, kms: kmsc, r53: r53, account: account}
	names := NamesFor("c1", account, "us-east-1")
	names.Zone = "c1.example.com"
	none := func() (map[string]bool, error) { return nil, nil }
	ids := func(rs []sweep.Resource) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Kind+" "+r.ID)
		}
		return out
	}

	// First up: nothing exists, and the state is never read.
	got, err := findKept(ctx, "c1", names, look, func() (map[string]bool, error) {
		t.Error("state read although nothing exists")
		return nil, nil
	})
	if err != nil || len(got) != 0 {
		t.Fatalf("nothing kept: got %v, %v", got, err)
	}

	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(names.CertsBucket)}); err != nil {
		t.Fatal(err)
	}
	key, err := kmsc.CreateKey(ctx, &kms.CreateKeyInput{Tags: []kmstypes.Tag{{TagKey: aws.String(sweep.ClusterTag), TagValue: aws.String("c1")}}})
	if err != nil {
		t.Fatal(err)
	}
	keyID := aws.ToString(key.KeyMetadata.KeyId)
	if _, err := kmsc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(names.Alias), TargetKeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	// Zones of the domain: the user's own (untagged), another cluster's,
	// one of a name that only starts like it, and this cluster's.
	zone := func(name, cluster string) string {
		t.Helper()
		z, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(name), CallerReference: aws.String(name + cluster)})
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimPrefix(aws.ToString(z.HostedZone.Id), "/hostedzone/")
		if cluster != "" {
			if _, err := r53.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{ResourceId: aws.String(id), ResourceType: r53types.TagResourceTypeHostedzone,
				AddTags: []r53types.Tag{{Key: aws.String(sweep.ClusterTag), Value: aws.String(cluster)}}}); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	zone("c1.example.com", "")
	zone("c1.example.com", "c2")
	zone("c1.example.com.au", "c1")
	zoneID := zone("c1.example.com", "c1")
	got, err = findKept(ctx, "c1", names, look, none)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"s3:bucket " + names.CertsBucket, "kms:key " + keyID, "kms:alias " + names.Alias, "route53:hosted-zone " + zoneID}; !reflect.DeepEqual(ids(got), want) {
		t.Errorf("after a kept down: %v, want %v", ids(got), want)
	}
	// No domain (none configured): no zone is looked for.
	noZone := names
	noZone.Zone = ""
	if got, err = findKept(ctx, "c1", noZone, look, none); err != nil || len(got) != 3 {
		t.Errorf("without a domain: got %v, %v; want the buckets, key and alias only", ids(got), err)
	}
	// In the state (the cluster is up, or adopted): nothing to adopt.
	inState := func() (map[string]bool, error) {
		return map[string]bool{names.CertsBucket: true, aws.ToString(key.KeyMetadata.Arn): true, names.Alias: true, zoneID: true}, nil
	}
	if got, err = findKept(ctx, "c1", names, look, inState); err != nil || len(got) != 0 {
		t.Errorf("everything in the state: got %v, %v", ids(got), err)
	}
	// The same alias name in another cluster's view: the key's tag differs.
	if got, err = findKept(ctx, "c3", names, look, none); err != nil || !reflect.DeepEqual(ids(got), []string{"s3:bucket " + names.CertsBucket}) {
		t.Errorf("key of another cluster: got %v, %v; want the bucket only", ids(got), err)
	}
	// Two zones of the domain tagged for the cluster: which one the
	// registrar delegates to is not for kforge to guess.
	second := zone("c1.example.com", "c1")
	if _, err = findKept(ctx, "c1", names, look, none); err == nil || !strings.Contains(err.Error(), zoneID) || !strings.Contains(err.Error(), second) {
		t.Errorf("two zones of the cluster: err = %v, want both named", err)
	}
	if _, err := r53.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(second)}); err != nil {
		t.Fatal(err)
	}
	// A key pending deletion is not kept (nor its alias).
	if _, err := kmsc.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if got, err = findKept(ctx, "c1", names, look, none); err != nil || !reflect.DeepEqual(ids(got), []string{"s3:bucket " + names.CertsBucket, "route53:hosted-zone " + zoneID}) {
		t.Errorf("key pending deletion: got %v, %v; want the bucket and zone only", ids(got), err)
	}
}

// The down result names what was kept in its JSON.
func TestDownResultJSONNamesKept(t *testing.T) {
	b, err := json.Marshal(DownResult{Env: "prod", Kept: []sweep.Resource{{Kind: sweep.KindBucket, ID: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"kept":[{"kind":"s3:bucket","id":"b"`) {
		t.Errorf("JSON = %s", b)
	}
}

// A bucket recorded with force_destroy false fails terraform destroy once
// it holds objects: down hands such buckets to its sweep when they are no
// longer to be kept.
func TestBucketsWithoutForceDestroy(t *testing.T) {
	bucket := func(addr string, force bool) *tfjson.StateResource {
		return &tfjson.StateResource{Address: addr, Mode: tfjson.ManagedResourceMode, Type: "aws_s3_bucket", AttributeValues: map[string]any{"force_destroy": force}}
	}
	st := func(rs ...*tfjson.StateResource) *tfjson.State {
		return &tfjson.State{Values: &tfjson.StateValues{RootModule: &tfjson.StateModule{ChildModules: []*tfjson.StateModule{{Address: "module.buckets", Resources: rs}}}}}
	}
	if bucketsWithoutForceDestroy(st(bucket("module.buckets.aws_s3_bucket.certs", true), bucket("module.buckets.aws_s3_bucket.logs[0]", true))) {
		t.Error("force_destroy true everywhere: terraform destroy can delete them")
	}
	if !bucketsWithoutForceDestroy(st(bucket("module.buckets.aws_s3_bucket.certs", false))) {
		t.Error("certs bucket recorded with force_destroy false: not seen")
	}
	if !bucketsWithoutForceDestroy(st(bucket("module.buckets.aws_s3_bucket.certs", true), bucket("module.buckets.aws_s3_bucket.logs[0]", false))) {
		t.Error("log bucket recorded with force_destroy false: not seen")
	}
	if bucketsWithoutForceDestroy(nil) {
		t.Error("no state")
	}
}

// refuseHead answers every HEAD request as S3 does when the caller may not
// s3:ListBucket the bucket, or another account owns it: 403, no body.
type refuseHead struct{ next aws.HTTPClient }

func (r refuseHead) Do(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodHead {
		return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	}
	return r.next.Do(req)
}

// A kept certs bucket whose HeadBucket the caller may not make is still
// this account's (its bucket list has it), so down keeps it and its
// backups; a bucket its list lacks is another account's.
func TestKeptBucketBehindA403(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	names := NamesFor("c1", "123456789012", "us-east-1")
	if _, err := awsx.S3Client(cfg, em.URL()).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(names.CertsBucket)}); err != nil {
		t.Fatal(err)
	}
	refused := cfg.Copy()
	refused.HTTPClient = refuseHead{next: cfg.HTTPClient}
	look := awsKept{s3: awsx.S3Client(refused, em.URL()), account: "123456789012"}
	if ok, err := look.bucketExists(ctx, names.CertsBucket); err != nil || !ok {
		t.Errorf("this account's bucket behind a 403: exists %v, %v; want true", ok, err)
	}
	if ok, err := look.bucketExists(ctx, names.LogBucket); err != nil || ok {
		t.Errorf("a bucket this account does not list, behind a 403: exists %v, %v; want false", ok, err)
	}
}
