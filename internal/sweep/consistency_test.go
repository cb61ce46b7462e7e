package sweep

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// TestListSkipsWhatIsGoneSinceTheListing: AWS's lists are eventually
// consistent (SQS lists a queue for up to 60 s after DeleteQueue; IAM,
// Route 53 and ELB lag too), and anyone may delete a resource between a
// listing and the read of its tags. The sweep runs right after terraform
// destroy and before every up, so such a resource must be left out, not
// fail the whole listing. Each kind here has a resource "delta-kept" and
// one "delta-gone" whose reads answer AWS's not-found error.
func TestListSkipsWhatIsGoneSinceTheListing(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	tag := func() (*string, *string) { return aws.String(ClusterTag), aws.String("delta") }

	goneZone := "\x00" // the zone deleted before its tags are read, once created
	// gone answers a read of a "delta-gone" resource (or a batch holding
	// one) with code, as AWS answers once the resource is deleted.
	gone := func(code string, ids ...string) error {
		for _, id := range ids {
			if strings.Contains(id, "delta-gone") || strings.Contains(id, goneZone) {
				return &smithy.GenericAPIError{Code: code, Message: "not found: " + id}
			}
		}
		return nil
	}

	// IAM
	c := iam.NewFromConfig(cfg)
	for _, name := range []string{"delta-kept", "delta-gone"} {
		k, v := tag()
		if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`), Tags: []iamtypes.Tag{{Key: k, Value: v}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`), Tags: []iamtypes.Tag{{Key: k, Value: v}}}); err != nil {
			t.Fatal(err)
		}
	}
	// SQS
	q := sqs.NewFromConfig(cfg)
	for _, name := range []string{"delta-kept", "delta-gone"} {
		if _, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Tags: map[string]string{ClusterTag: "delta"}}); err != nil {
			t.Fatal(err)
		}
	}
	// EventBridge
	eb := eventbridge.NewFromConfig(cfg)
	for _, name := range []string{"delta-kept", "delta-gone"} {
		k, v := tag()
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(`{"source":["aws.autoscaling"]}`), Tags: []ebtypes.Tag{{Key: k, Value: v}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Elastic Load Balancing: the gone balancer is in the kept one's batch.
	subnet := testSubnet(t, cfg, "10.31", nil)
	lb := elbv2.NewFromConfig(cfg)
	for _, name := range []string{"delta-kept", "delta-gone"} {
		k, v := tag()
		if _, err := lb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String(name), Type: elbtypes.LoadBalancerTypeEnumNetwork, Subnets: []string{aws.ToString(subnet)}, Tags: []elbtypes.Tag{{Key: k, Value: v}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Route 53: one zone gone before its tags are read, one before its
	// records are.
	r := route53.NewFromConfig(cfg)
	zones := map[string]string{}
	for _, name := range []string{"kept.delta.test", "gone.delta.test", "late.delta.test"} {
		z, err := r.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(name), CallerReference: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimPrefix(aws.ToString(z.HostedZone.Id), "/hostedzone/")
		zones[name] = id
		k, v := tag()
		if _, err := r.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{ResourceId: aws.String(id), ResourceType: r53types.TagResourceTypeHostedzone, AddTags: []r53types.Tag{{Key: k, Value: v}}}); err != nil {
			t.Fatal(err)
		}
	}
	goneZone = zones["gone.delta.test"]

	lagging := withInitialize(cfg, "deletedSinceListed", func(params any) error {
		switch in := params.(type) {
		case *iam.ListRoleTagsInput:
			return gone("NoSuchEntity", aws.ToString(in.RoleName))
		case *iam.ListPolicyTagsInput:
			return gone("NoSuchEntity", aws.ToString(in.PolicyArn))
		case *sqs.ListQueueTagsInput:
			return gone("AWS.SimpleQueueService.NonExistentQueue", aws.ToString(in.QueueUrl))
		case *eventbridge.ListTagsForResourceInput:
			return gone("ResourceNotFoundException", aws.ToString(in.ResourceARN))
		case *elbv2.DescribeTagsInput:
			return gone("LoadBalancerNotFound", in.ResourceArns...)
		case *route53.ListTagsForResourcesInput:
			return gone("NoSuchHostedZone", in.ResourceIds...)
		case *route53.ListResourceRecordSetsInput:
			if strings.HasSuffix(aws.ToString(in.HostedZoneId), zones["late.delta.test"]) {
				return &smithy.GenericAPIError{Code: "NoSuchHostedZone", Message: "No hosted zone found with ID"}
			}
		}
		return nil
	})

	l := newTestLister("delta", lagging)
	for _, k := range []struct {
		kind string
		list func(context.Context) error
		want []string
	}{
		{KindRole, l.roles, []string{"delta-kept"}},
		{KindPolicy, l.policies, []string{"delta-kept"}},
		{KindQueue, l.queues, []string{"delta-kept"}},
		{KindEventRule, l.eventRules, []string{"delta-kept"}},
		{KindLoadBalancer, l.loadBalancers, []string{"delta-kept"}},
		{KindHostedZone, l.hostedZones, []string{"kept.delta.test"}},
	} {
		if err := k.list(ctx); err != nil {
			t.Errorf("%s: %v; want the gone one left out", k.kind, err)
			continue
		}
		got := slices.Sorted(func(yield func(string) bool) {
			for n := range names(l.out, k.kind) {
				if !yield(n) {
					return
				}
			}
		})
		if !slices.Equal(got, k.want) {
			t.Errorf("%s listed: %v; want %v", k.kind, got, k.want)
		}
	}
}

// TestBucketFilledAgainIsDeleted: server access logs and flow logs land in
// the log bucket minutes after the requests they record, so an object can
// arrive between the emptying and DeleteBucket, which S3 then refuses with
// BucketNotEmpty. The sweep empties it again rather than fail the down.
// The bucket's own access logging is off before it is emptied.
func TestBucketFilledAgainIsDeleted(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{"delta-logs", "delta-certs"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::delta-logs/*"}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("delta-logs"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String("delta-certs"), BucketLoggingStatus: &s3types.BucketLoggingStatus{
		LoggingEnabled: &s3types.LoggingEnabled{TargetBucket: aws.String("delta-logs"), TargetPrefix: aws.String("certs/")},
	}}); err != nil {
		t.Fatal(err)
	}
	put := func(bucket, key string) {
		t.Helper()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("log")}); err != nil {
			t.Fatal(err)
		}
	}
	put("delta-logs", "early")
	put("delta-certs", "pki/ca.crt")

	var calls []string
	late := withInitialize(cfg, "lateLogDelivery", func(params any) error {
		switch in := params.(type) {
		case *s3.PutBucketLoggingInput:
			calls = append(calls, "logging "+aws.ToString(in.Bucket))
		case *s3.ListObjectVersionsInput:
			calls = append(calls, "empty "+aws.ToString(in.Bucket))
		case *s3.DeleteBucketInput:
			calls = append(calls, "delete "+aws.ToString(in.Bucket))
			if aws.ToString(in.Bucket) == "delta-logs" && !slices.Contains(calls[:len(calls)-1], "delete delta-logs") {
				put("delta-logs", "late") // delivered after the emptying
			}
		}
		return nil
	})
	res := Delete(ctx, late, []Resource{{Kind: KindBucket, ID: "delta-certs"}, {Kind: KindBucket, ID: "delta-logs"}}, Options{Endpoint: em.URL(), Wait: 10 * time.Second, Poll: 100 * time.Millisecond})
	if err := res.Err(); err != nil {
		t.Fatalf("%v; calls %v", err, calls)
	}
	if i, j := slices.Index(calls, "logging delta-certs"), slices.Index(calls, "empty delta-certs"); i < 0 || j < i {
		t.Errorf("calls %v: want the certs bucket's access logging turned off before it is emptied", calls)
	}
	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range out.Buckets {
		t.Errorf("bucket %s left", aws.ToString(b.Name))
	}
}
