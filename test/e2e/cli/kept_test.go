package cli_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// keptEnvs copies the repository's environment files into a directory of
// the test's and adds settings to local.yaml; set rewrites them later.
type keptEnvs struct {
	dir  string
	base []byte
}

func newKeptEnvs(t *testing.T) *keptEnvs {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(repoRoot, "envs", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("environment files: %v %v", files, err)
	}
	k := &keptEnvs{dir: dir}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(f) == "local.yaml" {
			k.base = data
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// set writes local.yaml as the repository's plus extra YAML keys.
func (k *keptEnvs) set(t *testing.T, extra string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(k.dir, "local.yaml"), append(append([]byte{}, k.base...), []byte("\n"+extra)...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// backupCheck is an object like the control plane's backups: written into
// the certs bucket under SSE-KMS with the cluster key, its body itself a
// KMS ciphertext of the cluster key, so reading it back proves the same
// key material is still there (the emulator's KMS really encrypts).
type backupCheck struct {
	s3        *s3.Client
	kms       *kms.Client
	bucket    string
	keyARN    string
	ciphertxt []byte
}

const (
	backupKey       = "controller/pki/kept-by-down-check"
	backupPlaintext = "PKI backup written before kforge down"
)

var backupContext = map[string]string{"kforge.io/check": "kept-certs-bucket"}

func newBackupCheck(t *testing.T, endpoint, region, bucket, keyARN string) *backupCheck {
	t.Helper()
	cfg, err := awsx.Config(context.Background(), region, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return &backupCheck{s3: awsx.S3Client(cfg, endpoint), kms: kms.NewFromConfig(cfg), bucket: bucket, keyARN: keyARN}
}

func (b *backupCheck) write(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	enc, err := b.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(b.keyARN), Plaintext: []byte(backupPlaintext), EncryptionContext: backupContext})
	if err != nil {
		t.Fatalf("encrypting with the cluster key: %v", err)
	}
	b.ciphertxt = enc.CiphertextBlob
	if _, err := b.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String(backupKey), Body: bytes.NewReader(b.ciphertxt),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(b.keyARN),
	}); err != nil {
		t.Fatalf("writing %s to the certs bucket: %v", backupKey, err)
	}
}

// keyState is the key's state, or "" when the key does not exist.
func (b *backupCheck) keyState(t *testing.T) kmstypes.KeyState {
	t.Helper()
	out, err := b.kms.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(b.keyARN)})
	var nf *kmstypes.NotFoundException
	if errors.As(err, &nf) {
		return ""
	}
	if err != nil {
		t.Fatalf("describing the cluster key: %v", err)
	}
	return out.KeyMetadata.KeyState
}

func (b *backupCheck) bucketExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := b.s3.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(name)})
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchBucket") {
		return false
	}
	if err != nil {
		t.Fatalf("HeadBucket %s: %v", name, err)
	}
	return true
}

// checkKept: bucket, object, an enabled key and its alias are all there.
func (b *backupCheck) checkKept(t *testing.T, when, alias string) {
	t.Helper()
	if !b.bucketExists(t, b.bucket) {
		t.Fatalf("%s: the certs bucket %s is gone; certsBucketForceDestroy: false must keep it", when, b.bucket)
	}
	if st := b.keyState(t); st != kmstypes.KeyStateEnabled {
		t.Fatalf("%s: the cluster key is %q, want Enabled: a kept bucket is unreadable once its key is deleted", when, st)
	}
	a, err := b.kms.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	if err != nil || aws.ToString(a.KeyMetadata.Arn) != b.keyARN {
		t.Errorf("%s: %s should still name the cluster key %s: %v", when, alias, b.keyARN, err)
	}
	b.checkReadable(t, when)
}

// checkReadable: the object is there under the cluster key and decrypts.
func (b *backupCheck) checkReadable(t *testing.T, when string) {
	t.Helper()
	ctx := context.Background()
	obj, err := b.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(backupKey)})
	if err != nil {
		t.Fatalf("%s: reading %s: %v", when, backupKey, err)
	}
	defer obj.Body.Close()
	body, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	if obj.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(obj.SSEKMSKeyId) != b.keyARN {
		t.Errorf("%s: %s is encrypted with %s %s, want aws:kms with the cluster key %s", when, backupKey, obj.ServerSideEncryption, aws.ToString(obj.SSEKMSKeyId), b.keyARN)
	}
	dec, err := b.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: body, KeyId: aws.String(b.keyARN), EncryptionContext: backupContext})
	if err != nil {
		t.Fatalf("%s: decrypting the backup with the cluster key: %v", when, err)
	}
	if string(dec.Plaintext) != backupPlaintext {
		t.Errorf("%s: decrypted %q, want %q", when, dec.Plaintext, backupPlaintext)
	}
}

// localEnv is a local environment of the test's own (the repository's
// environment files plus extra settings) on an emulator of its own, with
// kforge's global flags for both.
type localEnv struct {
	t    *testing.T
	envs *keptEnvs
	url  string
	dir  string
}

// newLocalEnv starts the emulator (with the AWS-managed policies the
// modules attach, which moto loads only on request) and writes local.yaml
// with extra appended.
func newLocalEnv(t *testing.T, extra string) *localEnv {
	t.Helper()
	em := localawstest.StartForTest(t, "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
	l := &localEnv{t: t, envs: newKeptEnvs(t), url: em.URL(), dir: t.TempDir()}
	l.envs.set(t, extra)
	return l
}

// run runs kforge with the environment's global flags before args.
func (l *localEnv) run(timeout time.Duration, args ...string) result {
	l.t.Helper()
	global := []string{"--envs-dir", l.envs.dir, "--workdir", filepath.Join(l.dir, ".kforge"), "--endpoint", l.url}
	return kforge(l.t, l.dir, timeout, append(global, args...)...)
}

// addZoneRecords puts a TXT record and an NS delegation into the zone, as
// someone other than kforge would.
func addZoneRecords(t *testing.T, endpoint, zoneID, txt, ns string) {
	t.Helper()
	cfg, err := awsx.Config(context.Background(), "us-east-1", endpoint)
	if err != nil {
		t.Fatal(err)
	}
	set := func(name string, typ r53types.RRType, value string) r53types.Change {
		return r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String(name), Type: typ, TTL: aws.Int64(300), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(value)}}}}
	}
	_, err = awsx.Route53Client(cfg).ChangeResourceRecordSets(context.Background(), &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{
			set(txt, r53types.RRTypeTxt, `"site-verification=kforge-e2e"`),
			set(ns, r53types.RRTypeNs, "ns-1.awsdns-00.com."),
		}},
	})
	if err != nil {
		t.Fatalf("adding records to zone %s: %v", zoneID, err)
	}
}
