package backend

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// The orphan sweep holds Terraform's own S3 lock file: a second holder is
// refused (so a sweep never runs while an apply creates resources), a lock
// left by a killed run blocks it, and the lock is released afterwards.
func TestWithLock(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	c := awsx.S3Client(cfg, em.URL())
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("state")}); err != nil {
		t.Fatal(err)
	}
	lock := func(op string) Lock {
		return Lock{Client: c, Bucket: "state", StateKey: "c1/dev/terraform.tfstate", Operation: op, Env: "dev"}
	}
	lockKey := aws.String("c1/dev/terraform.tfstate.tflock")

	ran, inner := false, true
	ok, err := WithLock(ctx, lock("test"), func() error {
		ran = true
		obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("state"), Key: lockKey})
		if err != nil {
			t.Errorf("lock file while held: %v", err)
		} else {
			body, _ := io.ReadAll(obj.Body)
			if !strings.Contains(string(body), `"Operation":"test"`) {
				t.Errorf("lock record = %s", body)
			}
		}
		inner, err = WithLock(ctx, lock("second"), func() error { t.Error("second holder ran"); return nil })
		return err
	})
	if !ok || err != nil || !ran || inner {
		t.Fatalf("WithLock = %v, %v (ran %v, second holder got it: %v)", ok, err, ran, inner)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("state"), Key: lockKey}); err == nil {
		t.Error("the lock file is still there after the run")
	}
	// A stale lock (a killed terraform's) keeps the sweep out.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("state"), Key: lockKey, Body: strings.NewReader(`{"ID":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	ok, err = WithLock(ctx, lock("test"), func() error { t.Error("ran under a stale lock"); return nil })
	if ok || err != nil {
		t.Errorf("under a stale lock: WithLock = %v, %v; want false, nil", ok, err)
	}
}

// A run whose lock was released by `kforge unlock` and then taken by
// another run leaves that run's lock alone, and says so; a run that
// panics inside the lock still releases it.
func TestLockReleaseIsOnlyTheHoldersAndSurvivesAPanic(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	c := awsx.S3Client(cfg, em.URL())
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("state")}); err != nil {
		t.Fatal(err)
	}
	lock := Lock{Client: c, Bucket: "state", StateKey: "c1/dev/terraform.tfstate", Operation: "test", Env: "dev"}
	lockKey := aws.String("c1/dev/terraform.tfstate.tflock")
	const other = `{"ID":"the-other-run","Operation":"OperationTypeApply"}`

	ok, err := WithLock(ctx, lock, func() error {
		// What `kforge unlock` and a second run's lock do meanwhile.
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("state"), Key: lockKey, Body: strings.NewReader(other)})
		return err
	})
	if !ok || err == nil || !strings.Contains(err.Error(), "another run holds it now") {
		t.Errorf("WithLock over a taken-over lock = %v, %v; want true and an error saying another run holds it", ok, err)
	}
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("state"), Key: lockKey})
	if err != nil {
		t.Fatalf("the other run's lock was deleted: %v", err)
	}
	if body, _ := io.ReadAll(obj.Body); string(body) != other {
		t.Errorf("lock file = %s, want the other run's", body)
	}

	// Released by `kforge unlock` and not taken again: nothing to say.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("state"), Key: lockKey}); err != nil {
		t.Fatal(err)
	}
	ok, err = WithLock(ctx, lock, func() error {
		_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("state"), Key: lockKey})
		return err
	})
	if !ok || err != nil {
		t.Errorf("WithLock over a lock released meanwhile = %v, %v; want true, nil", ok, err)
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not come through")
			}
		}()
		_, _ = WithLock(ctx, lock, func() error { panic("inside the lock") })
	}()
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("state"), Key: lockKey}); err == nil {
		t.Error("a run that panicked left its lock behind")
	}
}
