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

// defaultPartSize is the size of each part of an object uploaded or copied
// in parts. S3 takes at most 5 GiB in one PutObject or CopyObject, and an
// etcd snapshot is as large as etcd's database, up to its quota (8 GiB at
// the most, kubeadm.MaxEtcdQuotaGiB) and a little past it. Parts also
// bound what a network error costs: one part is sent again, not the whole
// snapshot. 128 MiB parts keep an 8 GiB snapshot to 65 parts of the 10,000
// S3 allows, each well above its 5 MiB minimum.
const defaultPartSize = 128 << 20

// partSizeOf is b's part size: objects larger than one part go in parts.
func (b S3Bucket) partSizeOf() int64 {
	if b.partSize > 0 {
		return b.partSize
	}
	return defaultPartSize
}

// ranges splits size bytes into parts of at most partSize: each is
// [offset, offset+length).
func ranges(size, partSize int64) [][2]int64 {
	var out [][2]int64
	for off := int64(0); off < size; off += partSize {
		out = append(out, [2]int64{off, min(partSize, size-off)})
	}
	return out
}

// createUpload starts a multipart upload of key under SSE-KMS with the
// cluster key: S3 sets a multipart object's encryption when the upload is
// created, and its parts carry no encryption header (the bucket policy
// lets them through for that reason). checksum is the algorithm of the
// parts' checksums, or "" for parts sent without one (copies).
func (b S3Bucket) createUpload(ctx context.Context, key string, checksum s3types.ChecksumAlgorithm) (string, error) {
	out, err := b.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:               aws.String(b.Name),
		Key:                  aws.String(key),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId:          aws.String(b.KMSKeyID),
		ChecksumAlgorithm:    checksum,
	})
	if err != nil {
		return "", fmt.Errorf("starting the upload of s3://%s/%s in parts: %w", b.Name, key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// finishUpload completes the upload with its parts, or, when err is set or
// the completion fails, aborts it so that its parts stop taking storage
// (the bucket's lifecycle rule aborts what an agent killed mid-upload
// leaves).
func (b S3Bucket) finishUpload(ctx context.Context, key, id string, parts []s3types.CompletedPart, err error) error {
	if err != nil {
		_, abortErr := b.Client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{
			Bucket: aws.String(b.Name), Key: aws.String(key), UploadId: aws.String(id),
		})
		if abortErr != nil {
			return errors.Join(err, fmt.Errorf("aborting the upload of s3://%s/%s: %w", b.Name, key, abortErr))
		}
		return err
	}
	if _, err := b.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.Name), Key: aws.String(key), UploadId: aws.String(id),
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		return b.finishUpload(ctx, key, id, nil, fmt.Errorf("completing the upload of s3://%s/%s: %w", b.Name, key, err))
	}
	return nil
}

// inParts writes key in parts of size bytes in all: it creates the upload
// (with checksum as createUpload takes it), sends each part with send, in
// order, and completes the upload, or aborts it at the first failure.
func (b S3Bucket) inParts(ctx context.Context, key string, checksum s3types.ChecksumAlgorithm, size int64,
	send func(id string, part s3types.CompletedPart, offset, length int64) (s3types.CompletedPart, error)) error {
	id, err := b.createUpload(ctx, key, checksum)
	if err != nil {
		return err
	}
	var parts []s3types.CompletedPart
	for i, r := range ranges(size, b.partSizeOf()) {
		done, perr := send(id, s3types.CompletedPart{PartNumber: aws.Int32(int32(i + 1))}, r[0], r[1])
		if perr != nil {
			err = fmt.Errorf("part %d of s3://%s/%s: %w", i+1, b.Name, key, perr)
			break
		}
		parts = append(parts, done)
	}
	return b.finishUpload(ctx, key, id, parts, err)
}

// uploadParts writes key from size bytes of body, starting at start, in
// parts. Each part carries a CRC32 the SDK computes as it sends it (a
// trailer over TLS, so the part is read once), and the upload is created
// with that algorithm: S3 refuses a part with a checksum in an upload
// created without one ("Checksum Type mismatch"), and a completion
// without every part's checksum in an upload created with one.
func (b S3Bucket) uploadParts(ctx context.Context, key string, body io.ReadSeeker, start, size int64) error {
	at := readerAtOf(body)
	return b.inParts(ctx, key, s3types.ChecksumAlgorithmCrc32, size,
		func(id string, part s3types.CompletedPart, offset, length int64) (s3types.CompletedPart, error) {
			out, err := b.Client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String(b.Name), Key: aws.String(key), UploadId: aws.String(id),
				PartNumber:        part.PartNumber,
				Body:              io.NewSectionReader(at, start+offset, length),
				ContentLength:     aws.Int64(length),
				ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
			})
			if err != nil {
				return part, fmt.Errorf("uploading: %w", err)
			}
			if aws.ToString(out.ChecksumCRC32) == "" {
				return part, errors.New("S3 answered without the part's CRC32")
			}
			part.ETag, part.ChecksumCRC32 = out.ETag, out.ChecksumCRC32
			return part, nil
		})
}

// copyParts copies from, of size bytes, to to in parts (UploadPartCopy of
// byte ranges), on the server as CopyObject does.
func (b S3Bucket) copyParts(ctx context.Context, from, to string, size int64) error {
	return b.inParts(ctx, to, "", size,
		func(id string, part s3types.CompletedPart, offset, length int64) (s3types.CompletedPart, error) {
			out, err := b.Client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket: aws.String(b.Name), Key: aws.String(to), UploadId: aws.String(id),
				PartNumber:      part.PartNumber,
				CopySource:      aws.String(b.Name + "/" + escapeKey(from)),
				CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)),
			})
			if err != nil {
				return part, fmt.Errorf("copying from s3://%s/%s: %w", b.Name, from, err)
			}
			if out.CopyPartResult != nil {
				part.ETag = out.CopyPartResult.ETag
			}
			return part, nil
		})
}

// readerAtOf reads parts of body at their offsets: directly where body is
// an io.ReaderAt (a file), else by seeking it, which is safe because parts
// are sent one after another.
func readerAtOf(body io.ReadSeeker) io.ReaderAt {
	if at, ok := body.(io.ReaderAt); ok {
		return at
	}
	return seekingReaderAt{body}
}

// seekingReaderAt is an io.ReaderAt over an io.ReadSeeker that one reader
// uses at a time.
type seekingReaderAt struct{ rs io.ReadSeeker }

func (s seekingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if _, err := s.rs.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(s.rs, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}
