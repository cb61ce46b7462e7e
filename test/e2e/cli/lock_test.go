package cli_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// TestStaleLockIsExplainedAndReleased leaves a lock file in the state bucket
// as a killed run would, and checks that kforge names it, that unlock wants
// confirmation, and that unlock --yes releases it.
func TestStaleLockIsExplainedAndReleased(t *testing.T) {
	requireTools(t)
	if testing.Short() {
		t.Skip("skipping terraform runs in -short mode")
	}
	em := localawstest.StartForTest(t)
	dir := t.TempDir()
	global := []string{"--envs-dir", filepath.Join(repoRoot, "envs"), "--workdir", filepath.Join(dir, ".kforge"), "--endpoint", em.URL()}
	run := func(args ...string) result {
		t.Helper()
		return kforge(t, dir, 3*time.Minute, append(append([]string{}, global...), args...)...)
	}
	r := run("init", "local", "-o", "json")
	if r.code != 0 {
		t.Fatalf("init: %s", r)
	}
	var init struct {
		Bucket string `json:"state_bucket"`
		Key    string `json:"state_key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &init); err != nil {
		t.Fatal(err)
	}

	const lockID = "5d3c9a1e-0000-4000-8000-00000000dead"
	lock, _ := json.Marshal(map[string]string{
		"ID": lockID, "Operation": "OperationTypeApply", "Info": "", "Who": "ci@runner-7",
		"Version": "1.11.4", "Created": "2026-01-01T00:00:00Z", "Path": init.Bucket + "/" + init.Key,
	})
	ctx := context.Background()
	cfg, err := awsx.Config(ctx, "us-east-1", em.URL())
	if err != nil {
		t.Fatal(err)
	}
	client := awsx.S3Client(cfg, em.URL())
	lockKey := init.Key + ".tflock"
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(init.Bucket), Key: aws.String(lockKey), Body: strings.NewReader(string(lock))}); err != nil {
		t.Fatal(err)
	}

	r = run("plan", "local")
	if r.code != 1 {
		t.Fatalf("plan with a held lock: want exit 1, got %s", r)
	}
	for _, want := range []string{"locked", lockID, "ci@runner-7", "kforge unlock local " + lockID} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("lock message lacks %q:\n%s", want, r.stderr)
		}
	}

	if r := run("unlock", "local", lockID); r.code != 2 || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("unlock without confirmation on a non-terminal: want exit 2 and a --yes hint, got %s", r)
	}
	if r := run("unlock", "local", lockID, "--yes"); r.code != 0 {
		t.Fatalf("unlock --yes: %s", r)
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(init.Bucket), Key: aws.String(lockKey)}); err == nil {
		t.Errorf("the lock file %s is still there after unlock", lockKey)
	}
}
