package sweep

import (
	"context"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kforge/kforge/internal/awsx"
)

// KindBucket is the S3 kind.
const KindBucket = "s3:bucket"

func (l *lister) buckets(ctx context.Context) error {
	c := awsx.S3Client(l.cfg, l.t.Endpoint)
	keep := map[string]bool{}
	for _, b := range l.t.KeepBuckets {
		keep[b] = true
	}
	// ListBuckets answers every region's buckets: only this region's count
	// (a bucket kept in another region is not this cluster's leftover, and
	// its tags would answer with a redirect), and only names starting with
	// the cluster's, as kforge names its buckets (<cluster>-certs-...,
	// <cluster>-logs-...), which spares a tags call for every other bucket.
	p := s3.NewListBucketsPaginator(c, &s3.ListBucketsInput{
		BucketRegion: aws.String(l.cfg.Region),
		Prefix:       aws.String(l.t.Cluster + "-"),
		MaxBuckets:   aws.Int32(1000),
	})
	ownName := l.bucketName()
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing buckets: %w", err)
		}
		for _, b := range out.Buckets {
			name := aws.ToString(b.Name)
			if keep[name] {
				continue
			}
			m := map[string]string{}
			tg, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b.Name})
			switch code := apiCode(err); {
			case err == nil:
				m = tagMap(tg.TagSet, func(t s3types.Tag) (*string, *string) { return t.Key, t.Value })
			case code == "NoSuchBucket":
				continue // deleted since the listing
			case code == "AccessDenied":
				continue // another owner's: the operator reads every bucket of its clusters
			case code != "NoSuchTagSet": // NoSuchTagSet: an untagged bucket
				return fmt.Errorf("tags of bucket %s: %w", name, err)
			}
			if m["kforge.io/purpose"] == "terraform-state" {
				continue // a state bucket outlives its clusters
			}
			why := l.match(m, "")
			if len(m) == 0 && ownName.MatchString(name) {
				why = "name " + name
			}
			if why != "" {
				l.add(Resource{Kind: KindBucket, ID: name, ARN: awsx.BucketARN(l.cfg.Region, name), Name: name, Why: why})
			}
		}
	}
	return nil
}

// bucketName matches the names kforge gives a cluster's buckets in this
// region, <cluster>-certs-<account>-<region> and <cluster>-logs-...: an
// untagged bucket (its tags come in a request after its create) is the
// cluster's only by such a name, never by the prefix "<cluster>-" alone,
// which cluster "prod-eu"'s buckets also have.
func (l *lister) bucketName() *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(l.t.Cluster) + `-(certs|logs)-[0-9]{12}-` + regexp.QuoteMeta(l.cfg.Region) + `$`)
}

// bucket empties a bucket (every version and delete marker) and deletes it.
// bucket turns the bucket's access logging off (its own emptying would
// otherwise log into the log bucket, deleted next), empties it and deletes
// it. Objects that land between the emptying and the delete (server
// access logs and flow logs arrive minutes late, on a best-effort basis)
// make S3 answer BucketNotEmpty: it is emptied again, until opts.Wait.
func (d *deleter) bucket(ctx context.Context, r Resource) error {
	_, err := d.s3.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String(r.ID), BucketLoggingStatus: &s3types.BucketLoggingStatus{}})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("turning off the access logging of bucket %s: %w", r.ID, err)
	}
	return d.retry(ctx, func() error {
		if err := awsx.EmptyBucket(ctx, d.s3, r.ID); err != nil {
			return err
		}
		if _, err := d.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(r.ID)}); err != nil {
			return fmt.Errorf("deleting bucket %s: %w", r.ID, err)
		}
		return nil
	})
}
