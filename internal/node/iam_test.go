package node

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// applyIAMModule applies terraform/modules/iam against the emulator and
// returns its policy documents as attached (JSON) by name.
func applyIAMModule(t *testing.T, c *cloud) map[string]string {
	t.Helper()
	plugins := os.Getenv("KFORGE_PLUGIN_DIR")
	if plugins == "" {
		t.Skip("skipping: KFORGE_PLUGIN_DIR (the hashicorp/aws provider mirror) is not set; `make test` sets it")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("skipping: terraform is not installed")
	}
	module, err := filepath.Abs("../../terraform/modules/iam")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	main := localawstest.ProviderHCL(c.url, region, "iam") + `module "iam" {
  source              = "` + filepath.ToSlash(module) + `"
  cluster_name        = "demo"
  bucket_arn          = "arn:aws:s3:::` + c.bucket.Name + `"
  kms_key_arn         = "` + c.bucket.KMSKeyID + `"
  zone_id             = "` + c.zoneID + `"
  api_record_name     = "api.demo.example.com"
  efs_file_system_arn = "arn:aws:elasticfilesystem:` + region + `:123456789012:file-system/fs-0123456789abcdef0"
}
output "worker" { value = module.iam.policy_documents["worker"] }
output "controller" { value = module.iam.policy_documents["controller"] }
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		cmd := exec.Command("terraform", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
		return string(out)
	}
	run("init", "-input=false", "-no-color", "-plugin-dir="+plugins)
	// Only data sources feed the documents: a refresh-only apply evaluates
	// them without creating the roles (which costs the provider ~40 s).
	run("apply", "-refresh-only", "-auto-approve", "-input=false", "-no-color")
	docs := map[string]string{}
	for _, name := range []string{"worker", "controller"} {
		cmd := exec.Command("terraform", "output", "-raw", name)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("terraform output %s: %v", name, err)
		}
		docs[name] = string(out)
	}
	return docs
}

// TestWorkerCannotReadControllerPrefix proves the prefix split with the IAM
// module's own policies and moto's IAM enforcement: after setup, moto is
// switched to authenticate and authorize every request, and S3 calls are
// made with the access keys of users holding exactly those policies.
func TestWorkerCannotReadControllerPrefix(t *testing.T) {
	c := newCloud(t)
	docs := applyIAMModule(t, c)
	ctx := context.Background()
	iamc := iam.NewFromConfig(c.cfg)
	keys := map[string]*credentials.StaticCredentialsProvider{}
	for _, role := range []string{"worker", "controller"} {
		user := "node-" + role
		if _, err := iamc.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
			t.Fatal(err)
		}
		if _, err := iamc.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(role), PolicyDocument: aws.String(docs[role])}); err != nil {
			t.Fatalf("%v\n%s", err, docs[role])
		}
		k, err := iamc.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
		if err != nil {
			t.Fatal(err)
		}
		p := credentials.NewStaticCredentialsProvider(*k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey, "")
		keys[role] = &p
	}
	for _, key := range []string{"bootstrap/cluster.json", JoinKey, PKIBackupKey} {
		if err := c.bucket.Put(ctx, key, []byte("content of "+key)); err != nil {
			t.Fatal(err)
		}
	}

	// From here on moto checks every request against IAM.
	resp, err := http.Post(c.url+"/moto-api/reset-auth", "text/plain", strings.NewReader("0"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("enabling IAM enforcement: %s", resp.Status)
	}

	bucketAs := func(role string) S3Bucket {
		cfg, err := awsx.Config(ctx, region, c.url)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Credentials = keys[role]
		return S3Bucket{Client: awsx.S3Client(cfg, c.url), Name: c.bucket.Name, KMSKeyID: c.bucket.KMSKeyID}
	}
	worker, controller := bucketAs("worker"), bucketAs("controller")
	// A snapshot larger than a part goes in parts: CreateMultipartUpload,
	// UploadPart (or UploadPartCopy), CompleteMultipartUpload, and
	// AbortMultipartUpload when a part fails.
	workerParts, controllerParts := worker, controller
	workerParts.partSize, controllerParts.partSize = 5<<20, 5<<20
	snapshot := bytes.Repeat([]byte("etcd"), (6<<20)/4)
	abandoned := errors.New("a part failed")
	cases := []struct {
		name    string
		do      func() error
		allowed bool
	}{
		{"worker reads join material", func() error { _, err := worker.Get(ctx, JoinKey); return err }, true},
		{"worker reads cluster config", func() error { _, err := worker.Get(ctx, "bootstrap/cluster.json"); return err }, true},
		{"worker reads the PKI backup", func() error { _, err := worker.Get(ctx, PKIBackupKey); return err }, false},
		{"worker reads the admin kubeconfig", func() error { _, err := worker.Get(ctx, AdminConfKey); return err }, false},
		{"worker overwrites join material", func() error { return worker.Put(ctx, JoinKey, []byte("forged")) }, false},
		{"worker writes under controller/", func() error { return worker.Put(ctx, PKIBackupKey, []byte("forged")) }, false},
		{"controller reads the PKI backup", func() error { _, err := controller.Get(ctx, PKIBackupKey); return err }, true},
		{"controller publishes join material", func() error { return controller.Put(ctx, JoinKey, []byte("{}")) }, true},
		{"controller copies a backup into the history", func() error {
			return controller.Copy(ctx, PKIBackupKey, etcdHistoryPrefix+"copy.db", int64(len("content of "+PKIBackupKey)))
		}, true},
		{"worker copies join material under controller/", func() error {
			return worker.Copy(ctx, JoinKey, etcdHistoryPrefix+"forged.db", int64(len("content of "+JoinKey)))
		}, false},
		{"controller uploads a snapshot in parts", func() error {
			_, err := controllerParts.Upload(ctx, etcdHistoryPrefix+"uploaded.db", bytes.NewReader(snapshot))
			return err
		}, true},
		{"controller copies a snapshot into the history in parts", func() error {
			return controllerParts.Copy(ctx, etcdHistoryPrefix+"uploaded.db", etcdHistoryPrefix+"copied.db", int64(len(snapshot)))
		}, true},
		{"controller aborts an upload in parts", func() error {
			key := etcdHistoryPrefix + "abandoned.db"
			id, err := controllerParts.createUpload(ctx, key, "")
			if err != nil {
				return err
			}
			if err := controllerParts.finishUpload(ctx, key, id, nil, abandoned); err != abandoned {
				return err
			}
			return nil
		}, true},
		{"controller deletes the restore request it served", func() error { return controller.Delete(ctx, RestoreFromKey) }, true},
		{"worker deletes a restore request", func() error { return worker.Delete(ctx, RestoreFromKey) }, false},
		{"worker uploads a snapshot in parts under controller/", func() error {
			_, err := workerParts.Upload(ctx, EtcdSnapshotKey, bytes.NewReader(snapshot))
			return err
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			switch {
			case tc.allowed && err != nil:
				t.Fatalf("denied: %v", err)
			case !tc.allowed && err == nil:
				t.Fatal("allowed, want AccessDenied")
			case !tc.allowed && !IsAccessDenied(err):
				t.Fatalf("failed, but not with AccessDenied: %v", err)
			}
		})
	}

	// The two "object missing" paths, under enforcement: the first
	// controller's restore check finds no backup and starts fresh, and a
	// worker waits for join material that is not there yet. Both must see
	// ErrNotFound (404), not AccessDenied. (On AWS that needs s3:ListBucket
	// without a prefix condition; the emulator answers 404 regardless, so
	// test/e2e/terraform TestMissingKeysRead404 checks the grant itself.)
	for _, key := range []string{PKIBackupKey, JoinKey} {
		if _, err := controller.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(c.bucket.Name), Key: aws.String(key)}); err != nil {
			t.Fatalf("controller deletes %s: %v", key, err)
		}
	}
	missing := []struct {
		name string
		do   func() error
	}{
		{"controller restore check finds no PKI backup", func() error { _, err := controller.Get(ctx, PKIBackupKey); return err }},
		{"controller restore check finds no etcd snapshot", func() error { _, err := controller.Get(ctx, EtcdSnapshotKey); return err }},
		{"worker finds no join material yet", func() error { _, err := worker.Get(ctx, JoinKey); return err }},
	}
	for _, tc := range missing {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); !errors.Is(err, ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound (404), not AccessDenied", err)
			}
		})
	}
}
