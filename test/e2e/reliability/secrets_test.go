package reliability

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kforge/kforge/internal/awsx"
)

// secretPatterns are what must never appear in state, plans, outputs or logs.
var secretPatterns = []struct {
	name string
	re   *regexp.Regexp
}{
	{"PEM private key", regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`)},
	{"kubeadm bootstrap token", regexp.MustCompile(`\b[a-z0-9]{6}\.[a-z0-9]{16}\b`)},
	{"Porkbun API key", regexp.MustCompile(regexp.QuoteMeta(fakePorkbunKey))},
	{"Porkbun secret key", regexp.MustCompile(regexp.QuoteMeta(fakePorkbunSecret))},
	{"Porkbun key shape", regexp.MustCompile(`\b(pk1|sk1)_[0-9a-f]{64}\b`)},
}

// artefact is one thing scanned for secrets.
type artefact struct {
	name string
	data []byte
}

// scanSecrets pulls the environment's state from the state bucket, reads the
// saved plan (every file of the plan archive), the JSON outputs and every
// run log, and fails on any secret pattern.
func scanSecrets(t *testing.T, k *kforge, env, region, endpoint, outputJSON string) {
	t.Helper()
	var arts []artefact
	arts = append(arts, artefact{"output --json", []byte(outputJSON)})

	// The state, as the backend stores it.
	ctx := context.Background()
	cfg, err := awsx.Config(ctx, region, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	s3c := awsx.S3Client(cfg, endpoint)
	buckets, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("listing buckets: %v", err)
	}
	states := 0
	for _, b := range buckets.Buckets {
		if !strings.HasPrefix(aws.ToString(b.Name), "kforge-state-") {
			continue
		}
		objs, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b.Name})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs.Contents {
			if !strings.HasSuffix(aws.ToString(o.Key), "/"+env+"/terraform.tfstate") {
				continue
			}
			got, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: b.Name, Key: o.Key})
			if err != nil {
				t.Fatalf("reading state %s: %v", aws.ToString(o.Key), err)
			}
			data, err := io.ReadAll(got.Body)
			got.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			arts = append(arts, artefact{"state s3://" + aws.ToString(b.Name) + "/" + aws.ToString(o.Key), data})
			states++
		}
	}
	if states == 0 {
		t.Fatalf("no state file found in the emulator's state bucket")
	}

	// The saved plan: a zip archive (plan, prior state, configuration).
	planPath := filepath.Join(k.workDir, env, "terraform", "cluster", "kforge.tfplan")
	planArts, err := zipEntries(planPath)
	if err != nil {
		t.Fatalf("reading the saved plan: %v", err)
	}
	arts = append(arts, planArts...)

	// Every log of every run.
	logs, _ := filepath.Glob(filepath.Join(k.workDir, env, "logs", "*"))
	if len(logs) == 0 {
		t.Fatalf("no logs under %s", filepath.Join(k.workDir, env, "logs"))
	}
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		arts = append(arts, artefact{"log " + filepath.Base(l), data})
	}

	total := 0
	for _, a := range arts {
		total += len(a.data)
		for _, p := range secretPatterns {
			if loc := p.re.FindIndex(a.data); loc != nil {
				t.Errorf("%s found in %s: %q", p.name, a.name, context40(a.data, loc))
			}
		}
	}
	t.Logf("FIGURE secrets %s: %d artefacts (%d state, %d plan entries, %d logs, 1 output), %d KiB scanned for %d patterns", env, len(arts), states, len(planArts), len(logs), total/1024, len(secretPatterns))
}

func zipEntries(path string) ([]artefact, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var out []artefact
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("opening %s in %s: %w", f.Name, path, err)
		}
		var buf bytes.Buffer
		_, err = io.Copy(&buf, rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, artefact{"plan " + filepath.Base(path) + ":" + f.Name, buf.Bytes()})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no files", path)
	}
	return out, nil
}

func context40(data []byte, loc []int) string {
	from, to := loc[0]-40, loc[1]+40
	if from < 0 {
		from = 0
	}
	if to > len(data) {
		to = len(data)
	}
	return string(data[from:to])
}
