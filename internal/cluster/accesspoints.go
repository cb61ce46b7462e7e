package cluster

import (
	"context"
	"fmt"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/sweep"
)

// accessPoints lists the access points of the file systems in the state.
// The EFS CSI driver makes one for each volume it provisions; Terraform
// does not know them, and AWS refuses to delete a file system that still
// has any, so the destroy would fail on every run until they were gone.
// RunDown names them before its confirmation (each is a volume whose data
// goes with the file system) and deletes them before the destroy.
func (e *Env) accessPoints(ctx context.Context, st *tfjson.State) ([]sweep.Resource, error) {
	ids, aps, err := e.stateAccessPoints(ctx, st)
	if err != nil {
		return nil, err
	}
	if len(aps) > 0 {
		e.opts.UI.Infof("%d EFS access points of file system %s (the EFS CSI driver's, one per provisioned volume) will be deleted before the destroy, since AWS does not delete a file system that has any; those volumes' data goes with the file system%s.\n",
			len(aps), strings.Join(ids, ", "), volumeBackups(backupPolicyInState(st), e.Emulated()))
	}
	return aps, nil
}

// volumeBackups ends the access points' line with what is left of the
// volumes' data after the destroy, so the confirmation is given knowing
// it. The emulator's plan leaves the policy out whatever the setting.
func volumeBackups(backedUp, emulated bool) string {
	switch {
	case backedUp:
		return "; AWS Backup keeps its recovery points (efsBackups) until they expire, 35 days by default, and a volume can be restored from them (docs/OPERATIONS.md, \"EFS volumes: backups\")"
	case emulated:
		return ""
	}
	return "; kforge made no backup of it (efsBackups is off), so that data cannot be restored"
}

// backupPolicyInState says whether the state holds the file system's
// backup policy (storage/backup.tf), that is whether the applied plan
// turned its automatic backups on.
func backupPolicyInState(st *tfjson.State) bool {
	found := false
	walkManaged(st, func(r *tfjson.StateResource) {
		found = found || r.Type == "aws_efs_backup_policy"
	})
	return found
}

// deleteAccessPoints deletes what accessPoints listed.
func (e *Env) deleteAccessPoints(ctx context.Context, aps []sweep.Resource) ([]sweep.Resource, error) {
	if len(aps) == 0 {
		return nil, nil
	}
	res, err := e.deleteResources(ctx, aps, e.sweepProgress())
	if res == nil {
		return nil, err
	}
	return res.Deleted, err
}

// deleteLateAccessPoints deletes the access points that the state's file
// systems have after a failed destroy: the cluster made them after
// deleteAccessPoints, before its nodes were terminated.
func (e *Env) deleteLateAccessPoints(ctx context.Context, st *tfjson.State) ([]sweep.Resource, error) {
	ids, aps, err := e.stateAccessPoints(ctx, st)
	if err != nil || len(aps) == 0 {
		return nil, err
	}
	e.opts.UI.Notef("The destroy could not delete file system %s: the EFS CSI driver provisioned %d more volumes before the nodes were gone. Deleting their access points, and destroying the rest once more.\n",
		strings.Join(ids, ", "), len(aps))
	return e.deleteAccessPoints(ctx, aps)
}

// stateAccessPoints lists the access points of the state's file systems,
// and returns those file systems' IDs.
func (e *Env) stateAccessPoints(ctx context.Context, st *tfjson.State) (ids []string, aps []sweep.Resource, err error) {
	if ids = fileSystemIDs(st); len(ids) == 0 {
		return nil, nil, nil
	}
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	if aps, err = sweep.AccessPoints(ctx, cfg, ids); err != nil {
		return nil, nil, fmt.Errorf("cluster %s: %w", e.Config.Name, err)
	}
	return ids, aps, nil
}

// fileSystemIDs are the IDs of the EFS file systems in the state.
func fileSystemIDs(st *tfjson.State) []string {
	return managedAttributes(st, "aws_efs_file_system", "id")
}
