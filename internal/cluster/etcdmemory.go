package cluster

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/kubeadm"
)

// etcd maps its database into memory, and the API server caches the same
// objects beside it: a control plane with less memory than twice etcd's
// quota pages or is killed by the kernel well before etcd refuses writes.
// kforge warns when a raised quota outgrows the control plane; at etcd's
// default the check is not made (a t3.small control plane of a small
// cluster is fine), so a default cluster's up makes no extra call.
const etcdMemoryFactor = 2

// CheckEtcdMemory returns a warning when controlPlane.etcdQuotaGiB is
// raised past what the control plane's memory holds, or "" when it is
// not. The memory is the instance type's (DescribeInstanceTypes); a type
// EC2 does not describe is not compared.
func CheckEtcdMemory(ctx context.Context, api InstanceTypeLister, c *config.Cluster) (string, error) {
	quota, typ := c.ControlPlane.EtcdQuotaGiB, c.ControlPlane.InstanceType
	if quota <= kubeadm.DefaultEtcdQuotaGiB {
		return "", nil
	}
	var memMiB int64
	err := describeInstanceTypes(ctx, api, []string{typ}, "memory", func(it ec2types.InstanceTypeInfo) {
		if it.MemoryInfo != nil {
			memMiB = aws.ToInt64(it.MemoryInfo.SizeInMiB)
		}
	})
	if err != nil || memMiB == 0 {
		return "", err
	}
	wantMiB := int64(etcdMemoryFactor*quota) << 10
	if memMiB >= wantMiB {
		return "", nil
	}
	return fmt.Sprintf("controlPlane.etcdQuotaGiB %d wants a control plane of at least %d MiB, and its %s has %d MiB: etcd maps its database into memory "+
		"beside the API server's cache of the same objects, so a database near the quota would leave the control plane short of memory; "+
		"choose a larger controlPlane.instanceType, or a lower quota",
		quota, wantMiB, typ, memMiB), nil
}

// warnEtcdMemory prints CheckEtcdMemory's warning; a failed read is a
// note, never a failure of the command.
func (e *Env) warnEtcdMemory(ctx context.Context) {
	cfg, err := e.AWSConfig(ctx)
	if err == nil {
		var warning string
		if warning, err = CheckEtcdMemory(ctx, ec2.NewFromConfig(cfg), e.Config); warning != "" {
			e.opts.UI.Notef("warning: %s\n", warning)
		}
	}
	if err != nil {
		e.opts.UI.Notef("note: the control plane's memory was not compared with etcd's quota: %v\n", err)
	}
}
