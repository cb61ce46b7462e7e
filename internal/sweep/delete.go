package sweep

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/wait"
)

// Options tunes Delete.
type Options struct {
	// Endpoint is an emulator endpoint (S3 path style); empty on AWS.
	Endpoint string
	// Wait bounds each wait for AWS to finish a deletion (terminated
	// instances, released ENIs, dependency violations); default 5 minutes.
	Wait time.Duration
	// Poll is the interval between checks; default 2 seconds.
	Poll time.Duration
	// Progress, when set, is told about each resource deleted.
	Progress func(r Resource, err error)
}

// Result is what Delete did.
type Result struct {
	Deleted []Resource
	Failed  []Failure
}

// Failure is a resource Delete could not remove.
type Failure struct {
	Resource Resource
	Err      error
}

// Err joins the failures into one error, or nil.
func (r *Result) Err() error {
	if len(r.Failed) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d resources could not be deleted:", len(r.Failed))
	for _, f := range r.Failed {
		fmt.Fprintf(&b, "\n  %s: %v", f.Resource, f.Err)
	}
	return errors.New(b.String())
}

// Delete removes rs in dependency order (see Order), waiting where AWS
// needs time. It is idempotent: a resource already gone counts as deleted.
// It goes on past a failure and reports every one in the Result.
func Delete(ctx context.Context, cfg aws.Config, rs []Resource, opts Options) *Result {
	if opts.Wait == 0 {
		opts.Wait = 5 * time.Minute
	}
	if opts.Poll == 0 {
		opts.Poll = 2 * time.Second
	}
	d := &deleter{
		opts:   opts,
		ec2:    ec2.NewFromConfig(cfg),
		asg:    autoscaling.NewFromConfig(cfg),
		elb:    elbv2.NewFromConfig(cfg),
		efs:    efs.NewFromConfig(cfg),
		iam:    iam.NewFromConfig(cfg),
		kms:    kms.NewFromConfig(cfg),
		r53:    route53.NewFromConfig(cfg),
		s3:     awsx.S3Client(cfg, opts.Endpoint),
		sqs:    sqs.NewFromConfig(cfg),
		events: eventbridge.NewFromConfig(cfg),
	}
	sorted := append([]Resource(nil), rs...)
	sortByOrder(sorted)
	res := &Result{}
	// Security groups referencing each other cannot be deleted one by one:
	// revoke every rule of the groups to delete first.
	for _, r := range sorted {
		if r.Kind == KindSecurityGroup {
			d.revokeRules(ctx, r.ID)
		}
	}
	for _, r := range sorted {
		var err error
		if k, ok := lookup(r.Kind); ok {
			err = k.Delete(d, ctx, r)
		} else {
			err = fmt.Errorf("unknown kind %q", r.Kind)
		}
		if err != nil && isNotFound(err) {
			err = nil
		}
		if err != nil {
			res.Failed = append(res.Failed, Failure{Resource: r, Err: err})
		} else {
			res.Deleted = append(res.Deleted, r)
		}
		if opts.Progress != nil {
			opts.Progress(r, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return res
}

type deleter struct {
	opts   Options
	ec2    *ec2.Client
	asg    *autoscaling.Client
	elb    *elbv2.Client
	efs    *efs.Client
	iam    *iam.Client
	kms    *kms.Client
	r53    *route53.Client
	s3     *s3.Client
	sqs    *sqs.Client
	events *eventbridge.Client
}

// retry calls fn until it succeeds, fails for good, or opts.Wait passes:
// AWS answers DependencyViolation / in use while dependents are going away.
func (d *deleter) retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(d.opts.Wait)
	for {
		err := fn()
		if err == nil || isNotFound(err) || !isTransient(err) || time.Now().After(deadline) {
			return err
		}
		if err := wait.Sleep(ctx, d.opts.Poll); err != nil {
			return err
		}
	}
}

// waitGone polls gone until it reports true or a not-found error.
func (d *deleter) waitGone(ctx context.Context, what string, gone func() (bool, error)) error {
	deadline := time.Now().Add(d.opts.Wait)
	for {
		ok, err := gone()
		if ok || (err != nil && isNotFound(err)) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for %s to go: %w", what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still there after %s", what, d.opts.Wait)
		}
		if err := wait.Sleep(ctx, d.opts.Poll); err != nil {
			return err
		}
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound: the resource is already gone, which is what deleting wants.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	code := strings.ToLower(apiCode(err))
	if strings.Contains(code, "notfound") || strings.Contains(code, "nosuch") || code == "invalidallocationid.notfound" {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not found") || strings.Contains(msg, "does not exist") || strings.Contains(msg, "cannot be found")
}

// isTransient: worth retrying while dependents are being deleted, or (a
// bucket) while late deliveries land in it.
func isTransient(err error) bool {
	code := strings.ToLower(apiCode(err))
	for _, c := range []string{"dependencyviolation", "inuse", "resourceinuse", "filesysteminuse", "incorrectstate", "deleteconflict", "throttl", "bucketnotempty"} {
		if strings.Contains(code, c) {
			return true
		}
	}
	return strings.Contains(strings.ToLower(err.Error()), "in use")
}
