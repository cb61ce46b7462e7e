package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/kforge/kforge/internal/awsx"
)

// Wiring is what the agent is wired from on an instance: its command-line
// settings, the AWS endpoint (empty for AWS itself), this machine and the log.
type Wiring struct {
	Options
	Endpoint string
	Host     Host
	Log      *slog.Logger
}

// Load is what every composition root starts from: the SDK configuration
// of the instance role in the cluster's region (its credentials come from
// IMDSv2) and cluster.json, read and checked, from the certs bucket.
func (w Wiring) Load(ctx context.Context) (aws.Config, Cluster, error) {
	cfg, err := awsx.Config(ctx, w.Region, w.Endpoint)
	if err != nil {
		return cfg, Cluster{}, err
	}
	cluster, err := w.readCluster(ctx, cfg)
	return cfg, cluster, err
}

// readCluster reads and checks cluster.json, which every apply writes anew.
func (w Wiring) readCluster(ctx context.Context, cfg aws.Config) (Cluster, error) {
	raw, err := S3Bucket{Client: awsx.S3Client(cfg, w.Endpoint), Name: w.Bucket}.Get(ctx, w.ConfigKey)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Cluster{}, fmt.Errorf("cluster configuration s3://%s/%s is missing; the root module writes it on apply: %w", w.Bucket, w.ConfigKey, err)
		}
		return Cluster{}, err
	}
	return ParseCluster(raw)
}

// NewAgent is the agent's composition root: the instance role's
// credentials, cluster.json, the instance's identity from IMDSv2, the certs
// bucket, Route 53 and the EC2 finder of the cluster's instances.
func NewAgent(ctx context.Context, w Wiring) (*Agent, error) {
	cfg, cluster, err := w.Load(ctx)
	if err != nil {
		return nil, err
	}
	metadata := imds.NewFromConfig(cfg)
	inst, err := ReadInstance(ctx, metadata)
	if err != nil {
		return nil, err
	}
	w.Log.Info("agent starting", "instance", inst.ID, "zone", inst.AvailabilityZone, "cluster", cluster.ClusterName, "kubernetes", cluster.KubernetesVersion)
	return &Agent{
		Host:     w.Host,
		Bucket:   S3Bucket{Client: awsx.S3Client(cfg, w.Endpoint), Name: w.Bucket, KMSKeyID: cluster.KMSKeyARN},
		DNS:      Route53DNS{Client: awsx.Route53Client(cfg)},
		Instance: inst,
		Cluster:  cluster,
		Options:  w.Options,
		Log:      w.Log,
		Backoff:  Backoff{Initial: 5 * time.Second, Max: 2 * time.Minute},
		Nodes:    EC2NodeFinder{Client: awsx.EC2Client(cfg), Cluster: cluster.ClusterName},
		// The proof is of the instance role, whatever else signs the
		// agent's other calls (an emulator's test credentials in the lab).
		Identity: STSIdentityProver{Credentials: aws.NewCredentialsCache(ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = metadata })),
			Region: cfg.Region, Endpoint: w.Endpoint},
		Verifier: STSIdentityVerifier{Region: cfg.Region, Endpoint: w.Endpoint},
	}, nil
}
