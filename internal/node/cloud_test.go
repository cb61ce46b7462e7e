package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// connectionCutter is an HTTP transport to the emulator that cuts the body
// of the next cuts GetObject answers after the given number of bytes, as a
// connection lost part-way does, and records each GetObject's Range and
// If-Match headers. It changes no answer otherwise: S3's side is moto's.
type connectionCutter struct {
	after  int
	onCut  func() // runs at each cut, before the reader sees the error
	mu     sync.Mutex
	cuts   int
	ranges []string
}

func (c *connectionCutter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, "/"+EtcdSnapshotKey) {
		return resp, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ranges = append(c.ranges, req.Header.Get("Range")+" "+req.Header.Get("If-Match"))
	if c.cuts > 0 && resp.StatusCode/100 == 2 {
		c.cuts--
		resp.Body = &cutBody{ReadCloser: resp.Body, left: c.after, onCut: c.onCut}
	}
	return resp, nil
}

// cutBody reads left bytes, then fails as a reset connection does.
type cutBody struct {
	io.ReadCloser
	left  int
	onCut func()
}

var errConnectionReset = errors.New("read: connection reset by peer")

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		if b.onCut != nil {
			b.onCut()
			b.onCut = nil
		}
		return 0, errConnectionReset
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= n
	return n, err
}

// cuttingBucket is c's bucket reached through cutter.
func cuttingBucket(c *cloud, cutter *connectionCutter) S3Bucket {
	b := c.bucket
	b.Client = s3.NewFromConfig(c.cfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.HTTPClient = &http.Client{Transport: cutter}
	})
	return b
}

// A download whose connection is lost part-way resumes at the byte it
// reached, held to the first answer's ETag, and ends with the object's
// bytes; one lost more often than maxResumes fails, and so does one whose
// object is replaced in between, without the new object's bytes; a
// failing writer is not retried.
func TestDownloadResumesALostConnection(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	want, f := randomSnapshot(t, filepath.Join(t.TempDir(), "snapshot.db"), 3<<20+11)
	if _, err := c.bucket.Upload(ctx, EtcdSnapshotKey, f); err != nil {
		t.Fatal(err)
	}
	const after = 1 << 20

	t.Run("resumes", func(t *testing.T) {
		cutter := &connectionCutter{after: after, cuts: 2}
		var got bytes.Buffer
		n, err := cuttingBucket(c, cutter).Download(ctx, EtcdSnapshotKey, &got)
		if err != nil || n != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("Download: %d bytes, %v; want the %d bytes uploaded", n, err, len(want))
		}
		if len(cutter.ranges) != 3 || cutter.ranges[0] != " " ||
			!strings.HasPrefix(cutter.ranges[1], "bytes=1048576- \"") || !strings.HasPrefix(cutter.ranges[2], "bytes=2097152- \"") {
			t.Errorf("GetObject Range and If-Match: %q, want a whole read, then reads from 1 and 2 MiB held to its ETag", cutter.ranges)
		}
	})

	t.Run("gives up", func(t *testing.T) {
		cutter := &connectionCutter{after: 1, cuts: maxResumes + 10}
		n, err := cuttingBucket(c, cutter).Download(ctx, EtcdSnapshotKey, io.Discard)
		if !errors.Is(err, errConnectionReset) || n != maxResumes+1 || len(cutter.ranges) != maxResumes+1 {
			t.Errorf("Download: %d bytes in %d reads, %v; want the reset after %d reads of a byte", n, len(cutter.ranges), err, maxResumes+1)
		}
	})

	t.Run("object replaced", func(t *testing.T) {
		// A newer snapshot of the same size, which a resume without
		// If-Match would read on from.
		newer := bytes.Repeat([]byte{0x5a}, len(want))
		cutter := &connectionCutter{after: after, cuts: 1, onCut: func() {
			if err := c.bucket.Put(ctx, EtcdSnapshotKey, newer); err != nil {
				t.Error(err)
			}
		}}
		var got bytes.Buffer
		n, err := cuttingBucket(c, cutter).Download(ctx, EtcdSnapshotKey, &got)
		if err == nil || !strings.Contains(err.Error(), "PreconditionFailed") || n != after || !bytes.Equal(got.Bytes(), want[:after]) {
			t.Errorf("Download: %d bytes, %v; want the first MiB of the old object and a failed resume", n, err)
		}
	})

	t.Run("writer fails", func(t *testing.T) {
		cutter := &connectionCutter{}
		_, err := cuttingBucket(c, cutter).Download(ctx, EtcdSnapshotKey, failingWriter{})
		if !errors.Is(err, errDiskFull) || len(cutter.ranges) != 1 {
			t.Errorf("Download into a full disk: %v after %d reads, want errDiskFull after one", err, len(cutter.ranges))
		}
	})
}

var errDiskFull = errors.New("no space left on device")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }
