package backend

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// lockInfo is Terraform's lock record (statemgr.LockInfo), so that
// terraform reports a lock kforge holds like its own and `kforge unlock`
// (terraform force-unlock) can release it.
type lockInfo struct {
	ID        string
	Operation string
	Info      string
	Who       string
	Version   string
	Created   time.Time
	Path      string
}

// Lock names a Terraform state whose lock to take.
type Lock struct {
	Client *s3.Client
	Bucket string
	// StateKey is the state object's key; the lock is <StateKey>.tflock,
	// the S3 lock file Terraform's use_lockfile writes.
	StateKey string
	// Operation says who holds the lock, as terraform shows it.
	Operation string
	// Env names the environment in the `kforge unlock` hint.
	Env string
}

// WithLock runs fn while holding the state lock (the lock file, written
// only if absent). It reports false without running fn when another run
// holds it: telling orphans apart while an apply is creating resources
// would delete that apply's work. The lock is released even when fn
// panics, and only while it is still this run's (see release).
func WithLock(ctx context.Context, l Lock, fn func() error) (held bool, err error) {
	key := l.StateKey + ".tflock"
	info := lockInfo{ID: newLockID(), Operation: l.Operation, Who: whoAmI(), Version: "kforge", Created: time.Now().UTC(), Path: l.Bucket + "/" + l.StateKey}
	body, err := json.Marshal(info)
	if err != nil {
		return false, err
	}
	put, err := l.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(l.Bucket), Key: aws.String(key), Body: strings.NewReader(string(body)),
		IfNoneMatch: aws.String("*"), ContentType: aws.String("application/json"),
		ServerSideEncryption: s3types.ServerSideEncryptionAes256,
	})
	if isCode(err, "PreconditionFailed") || isCode(err, "ConditionalRequestConflict") {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("taking the state lock s3://%s/%s: %w", l.Bucket, key, err)
	}
	defer func() {
		if rerr := l.release(ctx, key, info.ID, aws.ToString(put.ETag)); rerr != nil && err == nil {
			err = rerr
		}
	}()
	return true, fn()
}

// release deletes the lock file on the condition that it is still the one
// this run wrote (If-Match its ETag): when someone ran `kforge unlock`
// meanwhile and another run took the lock, that run's lock stays. It runs
// on a context of its own: an interrupted run must not leave its lock
// behind.
func (l Lock) release(ctx context.Context, key, id, etag string) error {
	rel, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := l.Client.DeleteObject(rel, &s3.DeleteObjectInput{Bucket: aws.String(l.Bucket), Key: aws.String(key), IfMatch: aws.String(etag)})
	switch {
	case err == nil, isNoSuchKey(err):
		// Gone already: released by `kforge unlock`, and nobody took it.
		return nil
	case isCode(err, "PreconditionFailed"):
		return fmt.Errorf("the state lock s3://%s/%s was released by `kforge unlock` while this run (lock %s) held it, and another run holds it now: it is left to that run; check with `kforge plan %s` that the two runs did not write the state at the same time", l.Bucket, key, id, l.Env)
	default:
		return fmt.Errorf("releasing the state lock s3://%s/%s (release it with `kforge unlock %s %s`): %w", l.Bucket, key, l.Env, id, err)
	}
}

// newLockID is a random (version 4) UUID, the form Terraform's lock ids take.
func newLockID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func whoAmI() string {
	host, _ := os.Hostname()
	if u, err := user.Current(); err == nil {
		return u.Username + "@" + host
	}
	return host
}

// isNoSuchKey reports S3's answer to a request on an object that is not
// there (a conditional delete's, among others).
func isNoSuchKey(err error) bool {
	var nsk *s3types.NoSuchKey
	return errors.As(err, &nsk) || isCode(err, "NoSuchKey") || isCode(err, "NotFound")
}
