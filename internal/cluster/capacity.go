package cluster

import (
	"context"
	"slices"

	"github.com/kforge/kforge/internal/config"
)

// What the account and region can run, checked by plan and up before
// anything is applied: the EC2 vCPU quotas (vcpuquotas.go), which of the
// cluster's zones offer its instance types (offerings.go), whether the
// control plane has the memory for a raised etcd quota (etcdmemory.go),
// whether amiID names an image the nodes can boot (images.go), whether a
// pool's instance types are of one size (poolshapes.go), and the region's
// network quotas: VPCs, gateways, endpoints, addresses (netquotas.go).

// checkCapacity compares the cluster with what the account and region can
// run, before anything is applied: the vCPU quotas and the control plane's
// memory (warnings), the zones' instance type offerings (warnings, or an
// error for a group no zone can serve), the configured image (an error
// for one the nodes cannot boot) and each pool's instance types (an error
// for a type smaller than the pool's first).
func (e *Env) checkCapacity(ctx context.Context) error {
	e.warnVCPUQuotas(ctx)
	e.warnEtcdMemory(ctx)
	if err := e.checkConfiguredImage(ctx); err != nil {
		return err
	}
	if err := e.checkPoolShapes(ctx); err != nil {
		return err
	}
	return e.checkZoneOfferings(ctx)
}

// clusterTypes are the instance types of the control plane and every
// pool, sorted, each once.
func clusterTypes(c *config.Cluster) []string {
	all := []string{c.ControlPlane.InstanceType}
	for _, p := range c.WorkerPools {
		all = append(all, p.InstanceTypes...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}
