package sweep

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

func newTestLister(cluster string, cfg aws.Config) *lister {
	return &lister{t: Target{Cluster: cluster}, cfg: cfg, ec2: ec2.NewFromConfig(cfg), clusterVPCs: map[string]bool{}, lbs: map[string]string{}, fss: map[string]bool{}}
}

func names(rs []Resource, kind string) map[string]bool {
	m := map[string]bool{}
	for _, r := range rs {
		if r.Kind == kind {
			m[r.Name] = true
		}
	}
	return m
}

// withInitialize returns cfg with fn run before every operation of it.
func withInitialize(cfg aws.Config, id string, fn func(params any) error) aws.Config {
	c := cfg.Copy()
	c.APIOptions = append(c.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc(id,
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if err := fn(in.Parameters); err != nil {
					return middleware.InitializeOutput{}, middleware.Metadata{}, err
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
	return c
}

// testSubnet makes a VPC of cidr (a /16 such as "10.30") with one subnet
// in us-east-1a, tagged as tags says (nil: untagged), and returns the
// subnet's id.
func testSubnet(t *testing.T, cfg aws.Config, cidr string, tags func(ec2types.ResourceType) []ec2types.TagSpecification) *string {
	t.Helper()
	if tags == nil {
		tags = func(ec2types.ResourceType) []ec2types.TagSpecification { return nil }
	}
	ctx := context.Background()
	e := ec2.NewFromConfig(cfg)
	vpc, err := e.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr + ".0.0/16"), TagSpecifications: tags(ec2types.ResourceTypeVpc)})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := e.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(cidr + ".1.0/24"), AvailabilityZone: aws.String("us-east-1a"), TagSpecifications: tags(ec2types.ResourceTypeSubnet)})
	if err != nil {
		t.Fatal(err)
	}
	return sn.Subnet.SubnetId
}

// TestListPastFirstPage: a cluster's resource listed after a full page of
// other accounts' ones is still found.
func TestListPastFirstPage(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()

	// The emulator answers 10 file systems a page (AWS 100).
	t.Run("efs", func(t *testing.T) {
		c := efs.NewFromConfig(cfg)
		for i := range 11 {
			name := fmt.Sprintf("other%d-efs", i)
			if i == 10 {
				name = "delta-efs"
			}
			tags := []efstypes.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}
			if i == 10 {
				tags = append(tags, efstypes.Tag{Key: aws.String(ClusterTag), Value: aws.String("delta")})
			}
			localawstest.CreateFileSystem(ctx, t, c, &efs.CreateFileSystemInput{CreationToken: aws.String(name), Tags: tags})
		}
		l := newTestLister("delta", cfg)
		if err := l.fileSystems(ctx); err != nil {
			t.Fatal(err)
		}
		if got := names(l.out, KindFileSystem); len(got) != 1 || !got["delta-efs"] {
			t.Errorf("file systems listed: %v; want delta-efs, the 11th", got)
		}
	})

	// The emulator answers every queue up to 1,000 and no NextToken, as
	// SQS does without MaxResults: the cluster's 1,001st queue is found
	// only by asking for its name prefix.
	t.Run("sqs", func(t *testing.T) {
		c := sqs.NewFromConfig(cfg)
		create := func(name string) error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
			return err
		}
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for w := range 4 {
			wg.Go(func() {
				for i := w; i < 1000; i += 4 {
					if err := create(fmt.Sprintf("other%04d-node-events", i)); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("delta-node-events"), Tags: map[string]string{ClusterTag: "delta"}}); err != nil {
			t.Fatal(err)
		}
		l := newTestLister("delta", cfg)
		if err := l.queues(ctx); err != nil {
			t.Fatal(err)
		}
		if got := names(l.out, KindQueue); len(got) != 1 || !got["delta-node-events"] {
			t.Errorf("queues listed: %v; want delta-node-events, the 1,001st", got)
		}
	})

	// Pages of 21 load balancers (AWS's default is 400), and DescribeTags
	// refused above 20 ARNs as AWS does: 22 of the cluster's balancers,
	// matched by tag only, after another one.
	t.Run("elbv2", func(t *testing.T) {
		subnet := testSubnet(t, cfg, "10.30", nil)
		c := elbv2.NewFromConfig(cfg)
		for i := range 23 {
			in := &elbv2.CreateLoadBalancerInput{Name: aws.String(fmt.Sprintf("lb%02d", i)), Type: elbtypes.LoadBalancerTypeEnumNetwork, Subnets: []string{aws.ToString(subnet)}}
			if i > 0 {
				in.Tags = []elbtypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String("delta")}}
			}
			if _, err := c.CreateLoadBalancer(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		paged := withInitialize(cfg, "awsLimits", func(params any) error {
			switch in := params.(type) {
			case *elbv2.DescribeLoadBalancersInput:
				in.PageSize = aws.Int32(21)
			case *elbv2.DescribeTagsInput:
				if len(in.ResourceArns) > elbTagsBatch {
					return fmt.Errorf("DescribeTags of %d ARNs: AWS takes at most %d", len(in.ResourceArns), elbTagsBatch)
				}
			}
			return nil
		})
		l := newTestLister("delta", paged)
		if err := l.loadBalancers(ctx); err != nil {
			t.Fatal(err)
		}
		if got := names(l.out, KindLoadBalancer); len(got) != 22 || got["lb00"] {
			t.Errorf("load balancers listed: %d %v; want lb01 to lb22", len(got), got)
		}
	})
}

// denyListResourceTags answers ListResourceTags of key as KMS does when the
// key policy gives the caller no access: the emulator evaluates a key
// policy's Deny for DescribeKey only.
type denyListResourceTags struct {
	next aws.HTTPClient
	key  string
}

func (d denyListResourceTags) Do(r *http.Request) (*http.Response, error) {
	if r.Header.Get("X-Amz-Target") == "TrentService.ListResourceTags" && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte(d.key)) {
			msg := `{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/admin is not authorized to perform: kms:ListResourceTags because no resource-based policy allows the kms:ListResourceTags action"}`
			return &http.Response{
				StatusCode: http.StatusBadRequest,
				Status:     "400 Bad Request",
				Header:     http.Header{"Content-Type": []string{"application/x-amz-json-1.1"}},
				Body:       io.NopCloser(strings.NewReader(msg)),
				Request:    r,
			}, nil
		}
	}
	return d.next.Do(r)
}

// TestListSkipsKeysDeniedToCaller: in a shared account, keys whose key
// policy gives the caller no access (DescribeKey or ListResourceTags
// answer AccessDeniedException) are not the cluster's and do not fail the
// listing; the cluster's key is still found.
func TestListSkipsKeysDeniedToCaller(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	c := kms.NewFromConfig(cfg)
	// The emulator evaluates only Deny statements of a key policy.
	const denyDescribe = `{"Version":"2012-10-17","Statement":[
		{"Sid":"Owner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Sid":"NoOneElse","Effect":"Deny","Principal":"*","Action":["kms:DescribeKey"],"Resource":"*"}]}`
	create := func(policy string) string {
		t.Helper()
		in := &kms.CreateKeyInput{Tags: []kmstypes.Tag{{TagKey: aws.String(ClusterTag), TagValue: aws.String("delta")}}}
		if policy != "" {
			in.Policy, in.BypassPolicyLockoutSafetyCheck = aws.String(policy), true
		}
		k, err := c.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(k.KeyMetadata.KeyId)
	}
	describeDenied, tagsDenied, ours := create(denyDescribe), create(""), create("")
	if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(describeDenied)}); !isAccessDenied(err) {
		t.Fatalf("DescribeKey of a key whose policy denies it: %v; want AccessDeniedException", err)
	}
	denied := cfg.Copy()
	denied.HTTPClient = denyListResourceTags{next: cfg.HTTPClient, key: tagsDenied}
	l := newTestLister("delta", denied)
	if err := l.kmsKeys(ctx); err != nil {
		t.Fatalf("listing keys: %v", err)
	}
	if len(l.out) != 1 || l.out[0].ID != ours {
		t.Errorf("keys listed: %v; want only %s (not %s, denied DescribeKey, nor %s, denied ListResourceTags)", l.out, ours, describeDenied, tagsDenied)
	}
}

// TestDeleteRecordsInBatches: a zone holding more than the 1,000
// ResourceRecord elements Route 53 (and the emulator) takes in one
// request is emptied and deleted.
func TestDeleteRecordsInBatches(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	c := route53.NewFromConfig(cfg)
	zone, err := c.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("delta.example.test"), CallerReference: aws.String(time.Now().String())})
	if err != nil {
		t.Fatal(err)
	}
	// 101 record sets of 10 addresses, created in requests of 1,000.
	var changes []r53types.Change
	for i := range 101 {
		rrs := make([]r53types.ResourceRecord, 10)
		for j := range rrs {
			rrs[j].Value = aws.String(fmt.Sprintf("10.0.%d.%d", i, j+1))
		}
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String(fmt.Sprintf("n%d.delta.example.test", i)), Type: r53types.RRTypeA, TTL: aws.Int64(60), ResourceRecords: rrs,
		}})
	}
	for _, b := range [][]r53types.Change{changes[:100], changes[100:]} {
		if _, err := c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: zone.HostedZone.Id, ChangeBatch: &r53types.ChangeBatch{Changes: b}}); err != nil {
			t.Fatal(err)
		}
	}
	id := strings.TrimPrefix(aws.ToString(zone.HostedZone.Id), "/hostedzone/")
	res := Delete(ctx, cfg, []Resource{{Kind: KindHostedZone, ID: id}}, Options{Endpoint: em.URL(), Wait: 10 * time.Second, Poll: 200 * time.Millisecond})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(id)}); !isNotFound(err) {
		t.Errorf("zone after the sweep: %v; want it gone", err)
	}
}

// TestChangeBatches: each batch is within Route 53's limits of 1,000
// records and 32,000 characters of values, which the emulator does not
// check for characters, and no change is lost or reordered.
func TestChangeBatches(t *testing.T) {
	set := func(values ...string) r53types.Change {
		rrs := make([]r53types.ResourceRecord, len(values))
		for i, v := range values {
			rrs[i].Value = aws.String(v)
		}
		return r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String(fmt.Sprint(len(values))), ResourceRecords: rrs}}
	}
	alias := r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &r53types.ResourceRecordSet{AliasTarget: &r53types.AliasTarget{}}}
	repeat := func(c r53types.Change, n int) []r53types.Change {
		cs := make([]r53types.Change, n)
		for i := range cs {
			cs[i] = c
		}
		return cs
	}
	long := strings.Repeat("x", 12000)
	tests := []struct {
		name    string
		changes []r53types.Change
		want    []int // changes per batch
	}{
		{"none", nil, nil},
		{"1,000 records", repeat(set("a"), 1000), []int{1000}},
		{"1,001 records", repeat(set("a"), 1001), []int{1000, 1}},
		{"aliases count as one record", repeat(alias, 1001), []int{1000, 1}},
		{"record sets of many values", repeat(set(strings.Split(strings.Repeat("a,", 299)+"a", ",")...), 4), []int{3, 1}},
		{"32,000 characters of values", repeat(set(long), 3), []int{2, 1}},
		{"one record set over the limits goes alone", []r53types.Change{set("a"), set(long, long, long), set("a")}, []int{1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			var all []r53types.Change
			for _, b := range changeBatches(tc.changes) {
				got = append(got, len(b))
				all = append(all, b...)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("batches of %v changes; want %v", got, tc.want)
			}
			if len(all) != len(tc.changes) {
				t.Fatalf("%d changes in the batches; want %d", len(all), len(tc.changes))
			}
			for i := range all {
				if all[i].ResourceRecordSet != tc.changes[i].ResourceRecordSet {
					t.Errorf("change %d is not the %dth given", i, i)
				}
			}
		})
	}
}

// TestBucketsOfThisRegionOnly: ListBuckets answers every region's buckets;
// a bucket of the cluster's name kept in another region is not a leftover
// of the cluster in this one. An untagged bucket is the cluster's only by
// the full name kforge gives it: not echo-eu's, not another bucket named
// "echo-...".
func TestBucketsOfThisRegionOnly(t *testing.T) {
	ctx := context.Background()
	cfg, e := localawstest.ConfigForTest(t, "eu-west-1")
	const ours = "echo-certs-123456789012-eu-west-1"
	for name, region := range map[string]string{
		ours: "eu-west-1", "echo-certs-123456789012-us-west-2": "us-west-2", "other-certs-123456789012-eu-west-1": "eu-west-1",
		"echo-eu-certs-123456789012-eu-west-1": "eu-west-1", "echo-scratch": "eu-west-1",
	} {
		c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle, o.Region = true, region })
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}}); err != nil {
			t.Fatal(err)
		}
	}
	l := newTestLister("echo", cfg)
	l.t.Endpoint = e.URL()
	if err := l.buckets(ctx); err != nil {
		t.Fatal(err)
	}
	if got := names(l.out, KindBucket); len(got) != 1 || !got[ours] {
		t.Errorf("buckets listed: %v; want %s only", got, ours)
	}
}

// TestZoneTagsTenAtATime: the zones' tags are read ten zones a call
// (ListTagsForResources), not a call per zone, which in an account with
// many zones would run into Route 53's five requests a second; the
// cluster's zone, the 24th, is still found.
func TestZoneTagsTenAtATime(t *testing.T) {
	ctx := context.Background()
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	r := route53.NewFromConfig(cfg)
	for i := range 24 {
		name := fmt.Sprintf("other%02d.example.test", i)
		if i == 23 {
			name = "golf.example.test"
		}
		zone, err := r.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(name), CallerReference: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 23 {
			if _, err := r.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{ResourceId: aws.String(strings.TrimPrefix(aws.ToString(zone.HostedZone.Id), "/hostedzone/")),
				ResourceType: r53types.TagResourceTypeHostedzone, AddTags: []r53types.Tag{{Key: aws.String(ClusterTag), Value: aws.String("golf")}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	tagCalls := 0
	counted := withInitialize(cfg, "countTagReads", func(params any) error {
		switch params.(type) {
		case *route53.ListTagsForResourceInput, *route53.ListTagsForResourcesInput:
			mu.Lock()
			tagCalls++
			mu.Unlock()
		}
		return nil
	})
	l := newTestLister("golf", counted)
	if err := l.hostedZones(ctx); err != nil {
		t.Fatal(err)
	}
	if got := names(l.out, KindHostedZone); len(got) != 1 || !got["golf.example.test"] {
		t.Errorf("zones listed: %v; want golf.example.test", got)
	}
	if tagCalls > 3 {
		t.Errorf("%d calls read the tags of 24 zones; want 3, ten zones a call", tagCalls)
	}
}

// TestListReadsTagsOnlyOfItsOwnNames: IAM answers lists without tags, so
// only the names kforge gives a cluster (<cluster>-...) cost a tag read;
// and a bucket under the cluster's prefix whose owner denies the caller its
// tags is another owner's, not a failure of the whole listing.
func TestListReadsTagsOnlyOfItsOwnNames(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	im := iam.NewFromConfig(cfg)
	trust := aws.String(`{"Version":"2012-10-17","Statement":[]}`)
	for _, name := range []string{"omega-worker", "platform-admin", "omegaforce-deploy", "ci-runner"} {
		if _, err := im.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: trust,
			Tags: []iamtypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String("omega")}}}); err != nil {
			t.Fatal(err)
		}
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{"omega-artifacts", "omega-certs-123456789012-us-east-1"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	var tagReads []string
	watched := withInitialize(cfg, "watch", func(params any) error {
		switch in := params.(type) {
		case *iam.ListRoleTagsInput:
			tagReads = append(tagReads, aws.ToString(in.RoleName))
		case *s3.GetBucketTaggingInput:
			if aws.ToString(in.Bucket) == "omega-artifacts" {
				return &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
			}
		}
		return nil
	})
	l := newTestLister("omega", watched)
	if err := l.roles(ctx); err != nil {
		t.Fatalf("listing roles: %v", err)
	}
	if got := names(l.out, KindRole); len(got) != 1 || !got["omega-worker"] {
		t.Errorf("roles listed: %v; want omega-worker only", got)
	}
	if len(tagReads) != 1 || tagReads[0] != "omega-worker" {
		t.Errorf("role tags read: %v; want only omega-worker's", tagReads)
	}
	if err := l.buckets(ctx); err != nil {
		t.Fatalf("listing buckets with one whose tags are denied: %v", err)
	}
	if got := names(l.out, KindBucket); !got["omega-certs-123456789012-us-east-1"] || got["omega-artifacts"] {
		t.Errorf("buckets listed: %v; want the untagged certs bucket by its name, not the denied one", got)
	}
}
