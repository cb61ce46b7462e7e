package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// ErrNotFound is returned by Bucket.Get for a missing object.
var ErrNotFound = errors.New("object not found")

// Bucket is the certs bucket as the agent sees it.
type Bucket interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, data []byte) error
	// Download and Upload stream an object: an etcd snapshot can be as
	// large as etcd's quota (2 GiB by default), too much to hold in the
	// memory of a control plane that also runs etcd.
	Download(ctx context.Context, key string, w io.Writer) (int64, error)
	Upload(ctx context.Context, key string, body io.ReadSeeker) (int64, error)
	// Copy copies the object at from, of size bytes, to to inside the
	// bucket, on the server: the data does not cross the network again.
	Copy(ctx context.Context, from, to string, size int64) error
	// Delete removes key; a missing key is no error.
	Delete(ctx context.Context, key string) error
}

// S3Bucket stores objects in S3, always under SSE-KMS with the cluster key.
type S3Bucket struct {
	Client   *s3.Client
	Name     string
	KMSKeyID string
	// partSize is the size of the parts of an object larger than one
	// (defaultPartSize when 0); tests make it S3's 5 MiB minimum.
	partSize int64
}

// Get reads key; a missing key is ErrNotFound.
func (b S3Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := b.Download(ctx, key, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

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

// Put writes key under SSE-KMS; the bucket's default encryption is not
// relied on, so a misconfigured bucket cannot store a secret in the clear.
func (b S3Bucket) Put(ctx context.Context, key string, data []byte) error {
	_, err := b.Upload(ctx, key, bytes.NewReader(data))
	return err
}

// Upload writes key from body, from its current offset to its end, as Put
// does, and returns the size written. The SDK reads a seekable body from
// where it is as it signs and sends it (and rewinds it for a retry), never
// whole into memory. A body larger than a part goes in parts
// (uploadParts): a single PutObject takes up to 5 GiB, and a snapshot of
// an etcd whose quota is raised to 8 GiB can be larger.
func (b S3Bucket) Upload(ctx context.Context, key string, body io.ReadSeeker) (int64, error) {
	if b.KMSKeyID == "" {
		return 0, fmt.Errorf("putting s3://%s/%s: no KMS key configured", b.Name, key)
	}
	start, err := body.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, fmt.Errorf("putting s3://%s/%s: %w", b.Name, key, err)
	}
	end, err := body.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("putting s3://%s/%s: %w", b.Name, key, err)
	}
	if _, err := body.Seek(start, io.SeekStart); err != nil {
		return 0, fmt.Errorf("putting s3://%s/%s: %w", b.Name, key, err)
	}
	size := end - start
	if size > b.partSizeOf() {
		if err := b.uploadParts(ctx, key, body, start, size); err != nil {
			return 0, err
		}
		return size, nil
	}
	_, err = b.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               aws.String(b.Name),
		Key:                  aws.String(key),
		Body:                 body,
		ContentLength:        aws.Int64(size),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId:          aws.String(b.KMSKeyID),
	})
	if err != nil {
		return 0, fmt.Errorf("putting s3://%s/%s: %w", b.Name, key, err)
	}
	return size, nil
}

// Copy makes to a copy of from, of size bytes, under SSE-KMS with the
// cluster key, as Put writes. S3 authorizes it as a read of from and a
// write of to (and KMS as a decrypt and a data key). An object larger
// than a part is copied in parts (copyParts): a single CopyObject takes up
// to 5 GiB, as a single PutObject does.
func (b S3Bucket) Copy(ctx context.Context, from, to string, size int64) error {
	if b.KMSKeyID == "" {
		return fmt.Errorf("copying s3://%s/%s: no KMS key configured", b.Name, from)
	}
	if size > b.partSizeOf() {
		return b.copyParts(ctx, from, to, size)
	}
	_, err := b.Client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:               aws.String(b.Name),
		Key:                  aws.String(to),
		CopySource:           aws.String(b.Name + "/" + escapeKey(from)),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId:          aws.String(b.KMSKeyID),
	})
	if err != nil {
		return fmt.Errorf("copying s3://%s/%s to %s: %w", b.Name, from, to, err)
	}
	return nil
}

// Delete removes key's current object (the bucket is versioned: it leaves
// a delete marker, and the lifecycle rules expire what is under it).
// S3 answers a delete of a missing key with success.
func (b S3Bucket) Delete(ctx context.Context, key string) error {
	if _, err := b.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.Name), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("deleting s3://%s/%s: %w", b.Name, key, err)
	}
	return nil
}

// escapeKey URL-encodes an object key for CopySource, segment by segment,
// so that its slashes stay path separators.
func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// IsAccessDenied reports whether err is an S3/IAM authorization failure.
func IsAccessDenied(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		return code == "AccessDenied" || code == "Forbidden" || strings.Contains(code, "AccessDenied")
	}
	return false
}

// DNS changes the records of the cluster's hosted zone.
type DNS interface {
	UpsertA(ctx context.Context, zoneID, name, ip string) error
}

// Route53DNS is DNS through the Route 53 API.
type Route53DNS struct{ Client *route53.Client }

// UpsertA points name at ip with a short TTL, so a replacement control
// plane takes over the API name within a minute.
func (r Route53DNS) UpsertA(ctx context.Context, zoneID, name, ip string) error {
	_, err := r.Client.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch: &r53types.ChangeBatch{
			Comment: aws.String("kforge control plane"),
			Changes: []r53types.Change{{
				Action: r53types.ChangeActionUpsert,
				ResourceRecordSet: &r53types.ResourceRecordSet{
					Name:            aws.String(name),
					Type:            r53types.RRTypeA,
					TTL:             aws.Int64(60),
					ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(ip)}},
				},
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("upserting %s A %s in zone %s: %w", name, ip, zoneID, err)
	}
	return nil
}

// Instance is what the agent learns about its own instance from IMDS.
type Instance struct {
	ID               string
	InstanceType     string // e.g. m7g.large; the node's node.kubernetes.io/instance-type label
	AvailabilityZone string
	Region           string
	PrivateIP        string
	PublicIP         string // empty without a public address
	Hostname         string
}

// ProviderID is the kubelet provider ID Cluster Autoscaler maps to ASG
// instances.
func (i Instance) ProviderID() string {
	return fmt.Sprintf("aws:///%s/%s", i.AvailabilityZone, i.ID)
}

// ReadInstance reads the instance identity through IMDSv2 (the SDK client
// fetches a session token with PUT before every GET sequence).
func ReadInstance(ctx context.Context, client *imds.Client) (Instance, error) {
	get := func(path string, optional bool) (string, error) {
		out, err := client.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
		if err != nil {
			var re interface{ HTTPStatusCode() int }
			if optional && errors.As(err, &re) && re.HTTPStatusCode() == 404 {
				return "", nil
			}
			return "", fmt.Errorf("reading instance metadata %s: %w", path, err)
		}
		defer out.Content.Close()
		b, err := io.ReadAll(out.Content)
		if err != nil {
			return "", fmt.Errorf("reading instance metadata %s: %w", path, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	var i Instance
	var err error
	fields := []struct {
		path     string
		dst      *string
		optional bool
	}{
		{"instance-id", &i.ID, false},
		{"instance-type", &i.InstanceType, false},
		{"placement/availability-zone", &i.AvailabilityZone, false},
		{"placement/region", &i.Region, false},
		{"local-ipv4", &i.PrivateIP, false},
		{"public-ipv4", &i.PublicIP, true},
		{"local-hostname", &i.Hostname, false},
	}
	for _, f := range fields {
		if *f.dst, err = get(f.path, f.optional); err != nil {
			return Instance{}, err
		}
	}
	if i.InstanceType == "" {
		return Instance{}, fmt.Errorf("instance metadata instance-type is empty")
	}
	// The node name is the first label-qualified hostname IMDS reports; some
	// subnets report several names separated by spaces.
	names := strings.Fields(i.Hostname)
	if len(names) == 0 {
		return Instance{}, fmt.Errorf("instance metadata local-hostname is empty")
	}
	i.Hostname = names[0]
	return i, nil
}
