package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// The cluster key encrypts the nodes' root volumes, the certs bucket and
// the file system. Disabled, or scheduled for deletion (which disables it
// for the waiting period), it stops the cluster in ways that look like
// something else: EC2 terminates every new instance at launch (its volume
// cannot be decrypted), a node's agent cannot read its bootstrap material,
// the control plane's backups fail, and the file system's data stops being
// served. The running nodes keep working until they are replaced. So
// status and validate read its state.

// KeyReader is the KMS call the key check makes.
type KeyReader interface {
	DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

// clusterKeyState reads the key's state (Enabled, Disabled,
// PendingDeletion...).
func clusterKeyState(ctx context.Context, api KeyReader, arn string) (string, error) {
	md, err := describeClusterKey(ctx, api, arn)
	if err != nil {
		return "", err
	}
	return string(md.KeyState), nil
}

// describeClusterKey is DescribeKey on the cluster key, its error naming
// the key.
func describeClusterKey(ctx context.Context, api KeyReader, arn string) (*kmstypes.KeyMetadata, error) {
	out, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("reading the cluster key %s: %w", arn, err)
	}
	return out.KeyMetadata, nil
}

// checkStateKey stops plan and up, before Terraform reads anything, while
// the cluster key the state records is pending deletion. The AWS provider
// reads such a key as gone: its plan makes a new key and replaces the file
// system under it (kms_key_id forces a new one), deleting every EFS
// volume's data, and points the alias and the bucket at the new key, while
// the old one could still be saved. A disabled key needs nothing: the plan
// enables it again (is_enabled), and up says so. A key that cannot be read
// is no refusal: the plan goes on as before.
func (e *Env) checkStateKey(ctx context.Context, out *Outputs) error {
	if out.KMSKeyARN == "" {
		return nil
	}
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return err
	}
	note, err := stateKeyVerdict(ctx, kms.NewFromConfig(cfg), e.Name, out.KMSKeyARN)
	if note != "" {
		e.opts.UI.Notef("%s\n", note)
	}
	return err
}

// stateKeyVerdict is checkStateKey's reading of the key: an error that
// refuses the plan, or a note for the user.
func stateKeyVerdict(ctx context.Context, api KeyReader, env, arn string) (note string, err error) {
	md, err := describeClusterKey(ctx, api, arn)
	var notFound *kmstypes.NotFoundException
	switch {
	case errors.As(err, &notFound):
		return fmt.Sprintf("warning: the cluster key %s is gone from KMS: what it encrypted (the file system's data, the certs bucket's objects) cannot be read again, and the plan makes a new key and a new, empty file system", arn), nil
	case err != nil:
		return fmt.Sprintf("note: %v; the plan goes on without the key's state checked", err), nil
	}
	switch md.KeyState {
	case kmstypes.KeyStatePendingDeletion:
		when := ""
		if md.DeletionDate != nil {
			when = " on " + md.DeletionDate.UTC().Format(time.DateOnly)
		}
		return "", Failure("the cluster key %s is pending deletion (KMS deletes it%s). Terraform reads such a key as gone, so this plan would make a new key and replace the file system under it, deleting every EFS volume's data, while the old key can still be saved. Nothing was planned. Fix: `aws kms cancel-key-deletion --key-id %s`, then `kforge up %s`, whose plan enables the key again (cancelling leaves it disabled); or, to give the cluster up, `kforge down %s`", arn, when, arn, env, env)
	case kmstypes.KeyStateDisabled:
		return fmt.Sprintf("note: the cluster key %s is disabled; the plan enables it again (is_enabled), and nodes launch and read their bootstrap material once it is applied", arn), nil
	}
	return "", nil
}

// keyProblem says what a key in state does to the cluster and how to get
// it back; "" for an enabled key.
func keyProblem(state, arn string) string {
	var fix string
	switch kmstypes.KeyState(state) {
	case kmstypes.KeyStateEnabled:
		return ""
	case kmstypes.KeyStatePendingDeletion:
		fix = fmt.Sprintf("`aws kms cancel-key-deletion --key-id %s`, then `aws kms enable-key --key-id %s`, before the waiting period ends: after it the key, and with it every volume, backup and file the cluster keeps, is gone for good", arn, arn)
	case kmstypes.KeyStateDisabled:
		fix = fmt.Sprintf("`aws kms enable-key --key-id %s`", arn)
	default:
		fix = "wait for KMS to finish the key's change of state, or see the key in the KMS console"
	}
	return fmt.Sprintf("the cluster key %s is %s: no node can launch (EC2 cannot decrypt its volume) or read its bootstrap material, the control plane's backups fail and the file system's data is not served, though the running nodes look healthy; fix: %s", arn, state, fix)
}
