package sweep

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
)

// EFS kinds.
const (
	KindAccessPoint = "efs:access-point"
	KindMountTarget = "efs:mount-target"
	KindFileSystem  = "efs:file-system"
)

// fileSystems lists the cluster's file systems with their mount targets
// and access points. A file system matches by tag or name, or by having a
// mount target in a cluster VPC. One deleted between the calls (a destroy
// that just ran; AWS answers FileSystemNotFound, 404) is gone, not an error.
func (l *lister) fileSystems(ctx context.Context) error {
	c := efs.NewFromConfig(l.cfg)
	p := efs.NewDescribeFileSystemsPaginator(c, &efs.DescribeFileSystemsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.FileSystems {
			if err := l.fileSystem(ctx, c, x); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileSystem adds x, its mount targets and access points if x is the
// cluster's.
func (l *lister) fileSystem(ctx context.Context, c *efs.Client, x efstypes.FileSystemDescription) error {
	id := aws.ToString(x.FileSystemId)
	m := tagMap(x.Tags, func(t efstypes.Tag) (*string, *string) { return t.Key, t.Value })
	ours := l.match(m, aws.ToString(x.Name))
	var targets []Resource
	mp := efs.NewDescribeMountTargetsPaginator(c, &efs.DescribeMountTargetsInput{FileSystemId: x.FileSystemId})
	for mp.HasMorePages() {
		out, err := mp.NextPage(ctx)
		if isNotFound(err) {
			return nil // deleted since DescribeFileSystems (a destroy just ran): nothing left to list
		}
		if err != nil {
			return err
		}
		for _, mt := range out.MountTargets {
			if ours == "" && !l.clusterVPCs[aws.ToString(mt.VpcId)] {
				continue
			}
			if ours == "" {
				ours = "mount target in cluster VPC " + aws.ToString(mt.VpcId)
			}
			targets = append(targets, Resource{Kind: KindMountTarget, ID: aws.ToString(mt.MountTargetId), Parent: id, Why: "of file system " + id})
		}
	}
	if ours == "" {
		return nil
	}
	aps, gone, err := accessPointsOf(ctx, c, id)
	if gone {
		return nil // deleted since DescribeFileSystems
	}
	if err != nil {
		return err
	}
	l.fss[id] = true
	l.out = append(l.out, targets...)
	l.add(Resource{Kind: KindFileSystem, ID: id, ARN: aws.ToString(x.FileSystemArn), Name: aws.ToString(x.Name), Why: ours})
	for _, a := range aps {
		l.add(a)
	}
	return nil
}

// AccessPoints lists the access points of the given file systems. The EFS
// CSI driver makes one for each volume it provisions, unknown to Terraform,
// and AWS refuses to delete a file system that still has any, so
// `kforge down` deletes them before terraform destroy. A file system
// already gone has none.
func AccessPoints(ctx context.Context, cfg aws.Config, fileSystemIDs []string) ([]Resource, error) {
	c := efs.NewFromConfig(cfg)
	var all []Resource
	for _, id := range fileSystemIDs {
		aps, gone, err := accessPointsOf(ctx, c, id)
		if err != nil && !gone {
			return nil, fmt.Errorf("access points of file system %s: %w", id, err)
		}
		all = append(all, aps...)
	}
	return all, nil
}

// accessPointsOf lists the access points of file system id; gone reports
// that the file system no longer exists (FileSystemNotFound, 404).
func accessPointsOf(ctx context.Context, c *efs.Client, id string) (aps []Resource, gone bool, err error) {
	p := efs.NewDescribeAccessPointsPaginator(c, &efs.DescribeAccessPointsInput{FileSystemId: aws.String(id)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, isNotFound(err), err
		}
		for _, a := range out.AccessPoints {
			aps = append(aps, Resource{Kind: KindAccessPoint, ID: aws.ToString(a.AccessPointId), ARN: aws.ToString(a.AccessPointArn), Parent: id, Why: "of file system " + id})
		}
	}
	return aps, false, nil
}

// accessPoint deletes r and waits until it is gone, not merely deleting:
// an access point in state deleting may still keep its file system from
// being deleted, and terraform destroy deletes the file system without
// retrying.
func (d *deleter) accessPoint(ctx context.Context, r Resource) error {
	id := aws.String(r.ID)
	if _, err := d.efs.DeleteAccessPoint(ctx, &efs.DeleteAccessPointInput{AccessPointId: id}); err != nil {
		return err
	}
	return d.waitGone(ctx, "access point "+r.ID, func() (bool, error) {
		out, err := d.efs.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{AccessPointId: id})
		return err == nil && (len(out.AccessPoints) == 0 || out.AccessPoints[0].LifeCycleState == efstypes.LifeCycleStateDeleted), err
	})
}

func (d *deleter) mountTarget(ctx context.Context, r Resource) error {
	id := aws.String(r.ID)
	if _, err := d.efs.DeleteMountTarget(ctx, &efs.DeleteMountTargetInput{MountTargetId: id}); err != nil {
		return err
	}
	return d.waitGone(ctx, "mount target "+r.ID, func() (bool, error) {
		out, err := d.efs.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{MountTargetId: id})
		return err == nil && len(out.MountTargets) == 0, err
	})
}

func (d *deleter) fileSystem(ctx context.Context, r Resource) error {
	id := aws.String(r.ID)
	if err := d.retry(ctx, func() error {
		_, err := d.efs.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: id})
		return err
	}); err != nil {
		return err
	}
	return d.waitGone(ctx, "file system "+r.ID, func() (bool, error) {
		out, err := d.efs.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: id})
		return err == nil && (len(out.FileSystems) == 0 || goneState(string(out.FileSystems[0].LifeCycleState))), err
	})
}
