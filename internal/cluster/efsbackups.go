package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
)

// The file system's automatic backups (efsBackups, storage/backup.tf) are
// one switch anyone with the console can turn off, and nothing on the
// nodes notices: the volumes keep working, the recovery points stop. So
// status reads the switch and warns when it is off where the config wants
// it on.

// BackupPolicyReader is the EFS call the backup check makes.
type BackupPolicyReader interface {
	DescribeBackupPolicy(context.Context, *efs.DescribeBackupPolicyInput, ...func(*efs.Options)) (*efs.DescribeBackupPolicyOutput, error)
}

// noBackupPolicy is the state shown for a file system that has no backup
// policy at all (EFS answers PolicyNotFound): automatic backups are off.
const noBackupPolicy = "none"

// efsBackupState reads the file system's backup policy: ENABLED,
// ENABLING, DISABLED, DISABLING, or noBackupPolicy.
func efsBackupState(ctx context.Context, api BackupPolicyReader, fileSystemID string) (string, error) {
	out, err := api.DescribeBackupPolicy(ctx, &efs.DescribeBackupPolicyInput{FileSystemId: aws.String(fileSystemID)})
	var none *efstypes.PolicyNotFound
	switch {
	case errors.As(err, &none):
		return noBackupPolicy, nil
	case err != nil:
		return "", fmt.Errorf("reading the backup policy of the file system %s (needs elasticfilesystem:DescribeBackupPolicy): %w", fileSystemID, err)
	case out.BackupPolicy == nil:
		return noBackupPolicy, nil
	}
	return string(out.BackupPolicy.Status), nil
}

// efsBackupProblem says what a backup state means where the config turns
// backups on (wanted); "" when it is as wanted, or while it turns on.
// Against the emulator the plan leaves the policy out, so nothing is
// wanted there.
func efsBackupProblem(state string, wanted bool, env, fileSystemID string) string {
	if !wanted || state == string(efstypes.StatusEnabled) || state == string(efstypes.StatusEnabling) {
		return ""
	}
	return fmt.Sprintf("automatic backups of the file system %s are %s though efsBackups is on: AWS Backup makes no new recovery point, so nothing the EFS volumes get from now on can be restored, though every volume keeps working; fix: `kforge up %s`, whose plan turns them on again (aws_efs_backup_policy)", fileSystemID, state, env)
}
