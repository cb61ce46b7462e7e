package awsx

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// EmptyBucket deletes every object version and delete marker of a bucket,
// a page (at most 1,000 keys, the DeleteObjects limit) at a time, so that
// the bucket itself can be deleted. Versioned buckets keep every write, so
// deleting the current objects alone is not enough.
func EmptyBucket(ctx context.Context, client *s3.Client, bucket string) error {
	_, err := DeleteVersions(ctx, client, bucket, "", nil)
	return err
}

// DeleteVersions deletes every version and delete marker of the objects
// under prefix whose key match reports true for (every one when match is
// nil), and returns how many it deleted.
func DeleteVersions(ctx context.Context, client *s3.Client, bucket, prefix string, match func(key string) bool) (int, error) {
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	deleted := 0
	p := s3.NewListObjectVersionsPaginator(client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return deleted, fmt.Errorf("listing versions in %s: %w", bucket, err)
		}
		var ids []s3types.ObjectIdentifier
		add := func(key, version *string) {
			if match == nil || match(aws.ToString(key)) {
				ids = append(ids, s3types.ObjectIdentifier{Key: key, VersionId: version})
			}
		}
		for _, v := range page.Versions {
			add(v.Key, v.VersionId)
		}
		for _, m := range page.DeleteMarkers {
			add(m.Key, m.VersionId)
		}
		for len(ids) > 0 {
			n := min(len(ids), 1000)
			out, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
				Bucket: aws.String(bucket),
				Delete: &s3types.Delete{Objects: ids[:n], Quiet: aws.Bool(true)},
			})
			if err != nil {
				return deleted, fmt.Errorf("deleting objects in %s: %w", bucket, err)
			}
			if len(out.Errors) > 0 {
				e := out.Errors[0]
				return deleted, fmt.Errorf("deleting %s in %s: %s", aws.ToString(e.Key), bucket, aws.ToString(e.Message))
			}
			deleted += n
			ids = ids[n:]
		}
	}
	return deleted, nil
}
