// Package awsx builds AWS SDK clients for real AWS or for an AWS-compatible
// endpoint such as the local emulator.
package awsx

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
)

// Static credentials used against an emulator; it accepts any.
const (
	TestAccessKeyID     = "test"
	TestSecretAccessKey = "test"
)

// Config loads an aws.Config for region. With a non-empty endpointURL every
// service is sent there with static test credentials; with an empty one the
// normal AWS credential chain (environment, shared files, SSO, IMDS) applies,
// and finding no credentials there is a *CredentialsError.
func Config(ctx context.Context, region, endpointURL string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		// The SDK logs to stderr by itself (an IMDSv1 fallback, say); kforge
		// reports failures through its own errors instead.
		config.WithLogger(logging.Nop{}),
		config.WithClientLogMode(0),
	}
	if endpointURL != "" {
		opts = append(opts,
			config.WithBaseEndpoint(endpointURL),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(TestAccessKeyID, TestSecretAccessKey, "")),
			// Emulators lag behind the SDK's default flexible checksums.
			config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
			// An emulator is local: short back-offs, so a stopped one fails
			// in about a second. Four attempts rather than two: under load
			// moto's server resets a connection now and then before its
			// answer is read ("use of closed network connection", which the
			// SDK counts as a reset and retries), and two resets in a row
			// were seen to fail a read in CI.
			config.WithRetryer(func() aws.Retryer {
				return retry.NewStandard(func(o *retry.StandardOptions) {
					o.MaxAttempts = 4
					o.MaxBackoff = 500 * time.Millisecond
				})
			}),
			// The same resets once lost the answer to a create moto had
			// carried out, and the SDK's retry then made a second VPC or met
			// its own role: the callers that create find what they made. A
			// connection per request rules out connection reuse as a cause,
			// and costs nothing on loopback.
			config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
				tr.DisableKeepAlives = true
			})),
		)
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration for %s: %w", region, err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: set it in the environment's config")
	}
	if endpointURL == "" {
		// Fetch the credentials now (they are cached for the clients) so a
		// missing account is one plain error, not an SDK chain about
		// instance metadata from whichever call came first.
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			if ctx.Err() != nil {
				return aws.Config{}, ctx.Err()
			}
			return aws.Config{}, &CredentialsError{Configured: configuredCredentials(), Cause: err}
		}
	}
	return cfg, nil
}

// S3Client returns an S3 client for cfg; with an endpoint it uses path-style
// addressing, which emulators on a loopback address need.
func S3Client(cfg aws.Config, endpointURL string) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpointURL != "" {
			o.UsePathStyle = true
		}
	})
}

// EC2Client returns an EC2 client for cfg.
func EC2Client(cfg aws.Config) *ec2.Client { return ec2.NewFromConfig(cfg) }

// Route53Client returns a Route 53 client for cfg.
func Route53Client(cfg aws.Config) *route53.Client { return route53.NewFromConfig(cfg) }
