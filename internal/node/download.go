package node

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// maxResumes bounds how often one download picks up where a lost
// connection left it. A network that drops it more often than that cannot
// carry the object, and the caller's retry starts it over.
const maxResumes = 5

// Download copies key's object into w as it arrives and returns its size;
// a missing key is ErrNotFound. A connection lost part-way (a snapshot of
// an 8 GiB quota takes minutes) resumes at the byte it reached with a
// ranged GetObject instead of starting over. The ranged reads are held to
// the first answer's ETag (If-Match), so that an object replaced meanwhile
// (a newer backup) fails the download rather than splicing two snapshots;
// ETag and If-Match need no permission beyond s3:GetObject.
func (b S3Bucket) Download(ctx context.Context, key string, w io.Writer) (int64, error) {
	var written int64
	var etag string
	for resumes := 0; ; resumes++ {
		in := &s3.GetObjectInput{Bucket: aws.String(b.Name), Key: aws.String(key)}
		if written > 0 {
			in.Range = aws.String(fmt.Sprintf("bytes=%d-", written))
			in.IfMatch = aws.String(etag)
		}
		out, err := b.Client.GetObject(ctx, in)
		if err != nil {
			var nsk *s3types.NoSuchKey
			switch {
			case errors.As(err, &nsk):
				return written, fmt.Errorf("s3://%s/%s: %w", b.Name, key, ErrNotFound)
			case written > 0:
				return written, fmt.Errorf("resuming s3://%s/%s after %d bytes: %w", b.Name, key, written, err)
			}
			return 0, fmt.Errorf("getting s3://%s/%s: %w", b.Name, key, err)
		}
		if written == 0 {
			etag = aws.ToString(out.ETag)
		}
		body := &readResult{r: out.Body}
		n, err := io.Copy(w, body)
		out.Body.Close()
		written += n
		switch {
		case err == nil:
			return written, nil
		case body.err == nil:
			// The writer failed (a full disk): reading on would not help.
			return written, fmt.Errorf("writing s3://%s/%s: %w", b.Name, key, err)
		case resumes == maxResumes || etag == "" || ctx.Err() != nil:
			return written, fmt.Errorf("reading s3://%s/%s after %d bytes: %w", b.Name, key, written, err)
		}
	}
}

// readResult is a reader that keeps the error its reader returned, so that
// a failed copy tells the network's failures from the writer's.
type readResult struct {
	r   io.Reader
	err error
}

func (r *readResult) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
