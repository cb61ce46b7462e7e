package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestRangesCoverTheObjectInParts(t *testing.T) {
	for _, tc := range []struct {
		size, part int64
		want       [][2]int64
	}{
		{0, 5, nil},
		{5, 5, [][2]int64{{0, 5}}},
		{11, 5, [][2]int64{{0, 5}, {5, 5}, {10, 1}}},
		// An 8 GiB snapshot and a little more, in the default parts.
		{8<<30 + 1, defaultPartSize, nil},
	} {
		got := ranges(tc.size, tc.part)
		var covered int64
		for i, r := range got {
			if r[0] != covered || r[1] <= 0 || r[1] > tc.part {
				t.Fatalf("ranges(%d, %d): part %d is %v after %d bytes", tc.size, tc.part, i+1, r, covered)
			}
			covered += r[1]
		}
		if covered != tc.size {
			t.Errorf("ranges(%d, %d) cover %d bytes", tc.size, tc.part, covered)
		}
		if tc.want != nil && len(got) != len(tc.want) {
			t.Errorf("ranges(%d, %d) = %v, want %v", tc.size, tc.part, got, tc.want)
		}
		if len(got) > 10000 {
			t.Errorf("ranges(%d, %d): %d parts, S3 takes 10,000", tc.size, tc.part, len(got))
		}
	}
}

// randomSnapshot writes size random bytes to path and opens it as the
// backup does (ExecHost's Open); the file is closed when the test ends.
func randomSnapshot(t *testing.T, path string, size int) ([]byte, io.ReadSeekCloser) {
	t.Helper()
	want := make([]byte, size)
	if _, err := rand.Read(want); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := ExecHost{}.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return want, f
}

// readSeekerOnly hides a reader's ReadAt, as a Host's Open may.
type readSeekerOnly struct{ io.ReadSeeker }

// A snapshot larger than a part goes to the bucket in parts and is copied
// into the history in parts, the same bytes under the cluster key, from a
// file (read at offsets) or from a body that can only seek.
func TestLargeSnapshotGoesInParts(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	bucket := c.bucket
	bucket.partSize = 5 << 20 // S3's smallest part
	want, f := randomSnapshot(t, filepath.Join(t.TempDir(), "snapshot.db"), 11<<20+3)
	for name, body := range map[string]io.ReadSeeker{"file": f, "seeker": readSeekerOnly{bytes.NewReader(want)}} {
		t.Run(name, func(t *testing.T) {
			key, copied := etcdHistoryPrefix+name+".db", etcdHistoryPrefix+name+"-copy.db"
			n, err := bucket.Upload(ctx, key, body)
			if err != nil || n != int64(len(want)) {
				t.Fatalf("Upload: %d bytes, %v; want %d", n, err, len(want))
			}
			if err := bucket.Copy(ctx, key, copied, n); err != nil {
				t.Fatal(err)
			}
			// moto keeps a source's parts in a CopyObject's copy: the copy of
			// an object sent in one request shows whether Copy went in parts.
			single := etcdHistoryPrefix + name + "-single.db"
			if err := c.bucket.Put(ctx, single, want); err != nil {
				t.Fatal(err)
			}
			singleCopy := etcdHistoryPrefix + name + "-single-copy.db"
			if err := bucket.Copy(ctx, single, singleCopy, n); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{key, copied, singleCopy} {
				head, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket.Name), Key: aws.String(k), PartNumber: aws.Int32(1)})
				if err != nil {
					t.Fatal(err)
				}
				if parts := aws.ToInt32(head.PartsCount); parts != 3 {
					t.Errorf("%s: %d parts, want 3 of at most 5 MiB", k, parts)
				}
				if head.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(head.SSEKMSKeyId) != bucket.KMSKeyID {
					t.Errorf("%s: encryption %q with key %q, want aws:kms with %s", k, head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId), bucket.KMSKeyID)
				}
				var got bytes.Buffer
				if _, err := bucket.Download(ctx, k, &got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("%s: %d bytes that differ from the %d uploaded", k, got.Len(), len(want))
				}
			}
		})
	}
}

// failsAfter reads like r until offset at, then fails: a disk error in
// the middle of a snapshot.
type failsAfter struct {
	*bytes.Reader
	at int64
}

var errDisk = errors.New("input/output error")

func (r failsAfter) Read(p []byte) (int, error) {
	if pos, _ := r.Seek(0, io.SeekCurrent); pos >= r.at {
		return 0, errDisk
	}
	return r.Reader.Read(p)
}

// An upload in parts that fails, in a part or at its completion, is
// aborted: no object, and no parts left taking storage until the bucket's
// lifecycle rule would abort them.
func TestFailedUploadInPartsIsAborted(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	bucket := c.bucket
	bucket.partSize = 5 << 20
	noneLeft := func(t *testing.T, key string) {
		t.Helper()
		uploads, err := c.s3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket.Name)})
		if err != nil {
			t.Fatal(err)
		}
		if len(uploads.Uploads) != 0 {
			t.Errorf("%d uploads left in progress, want the failed one aborted", len(uploads.Uploads))
		}
		if _, err := bucket.Get(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after a failed upload: %v, want ErrNotFound", err)
		}
	}
	t.Run("a part", func(t *testing.T) {
		body := failsAfter{bytes.NewReader(make([]byte, 11<<20)), 6 << 20}
		if _, err := bucket.Upload(ctx, EtcdSnapshotKey, readSeekerOnly{body}); !errors.Is(err, errDisk) {
			t.Fatalf("Upload: %v, want the disk's error", err)
		}
		noneLeft(t, EtcdSnapshotKey)
	})
	t.Run("the completion", func(t *testing.T) {
		key := etcdHistoryPrefix + "incomplete.db"
		id, err := bucket.createUpload(ctx, key, "")
		if err != nil {
			t.Fatal(err)
		}
		// A part S3 never received: CompleteMultipartUpload answers InvalidPart.
		parts := []s3types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"0123456789abcdef0123456789abcdef"`)}}
		if err := bucket.finishUpload(ctx, key, id, parts, nil); err == nil || !strings.Contains(err.Error(), "completing the upload") {
			t.Fatalf("finishUpload with a part S3 never received: %v, want the completion's error", err)
		}
		noneLeft(t, key)
	})
}
