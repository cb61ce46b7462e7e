package cluster

import (
	"context"
	"fmt"

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
	out, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("reading the cluster key %s: %w", arn, err)
	}
	return string(out.KeyMetadata.KeyState), nil
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
