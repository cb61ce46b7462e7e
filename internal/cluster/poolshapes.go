package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/config"
)

// Cluster Autoscaler builds the node it plans with from a pool's first
// instance type (a mixed instances policy's first override) and sizes
// every node of the pool like it, while Auto Scaling launches whichever
// listed type has capacity. A listed type smaller than the first leaves a
// pod Cluster Autoscaler scaled up for Pending on a node too small for
// it; a larger one is capacity it never plans with.

// shape is an instance type's size as the scheduler sees it.
type shape struct {
	vCPUs  int32
	memMiB int64
}

// PoolShapes are the findings of CheckPoolShapes.
type PoolShapes struct {
	// Errors: types smaller than their pool's first.
	Errors []string
	// Warnings: types larger than their pool's first.
	Warnings []string
}

// CheckPoolShapes compares each type of a pool of several with the pool's
// first type (DescribeInstanceTypes); a type EC2 does not describe is not
// compared.
func CheckPoolShapes(ctx context.Context, api InstanceTypeLister, c *config.Cluster) (PoolShapes, error) {
	var res PoolShapes
	var types []string
	for _, p := range c.WorkerPools {
		if len(p.InstanceTypes) > 1 {
			types = append(types, p.InstanceTypes...)
		}
	}
	if len(types) == 0 {
		return res, nil
	}
	slices.Sort(types)
	shapes := map[string]shape{}
	err := describeInstanceTypes(ctx, api, slices.Compact(types), "vCPUs and memory", func(it ec2types.InstanceTypeInfo) {
		if it.VCpuInfo != nil && it.MemoryInfo != nil {
			shapes[string(it.InstanceType)] = shape{aws.ToInt32(it.VCpuInfo.DefaultVCpus), aws.ToInt64(it.MemoryInfo.SizeInMiB)}
		}
	})
	if err != nil {
		return res, err
	}
	for _, name := range slices.Sorted(maps.Keys(c.WorkerPools)) {
		its := c.WorkerPools[name].InstanceTypes
		if len(its) < 2 {
			continue
		}
		first, ok := shapes[its[0]]
		if !ok {
			continue
		}
		for i, t := range its[1:] {
			s, ok := shapes[t]
			if !ok {
				continue
			}
			field := fmt.Sprintf("workerPools.%s.instanceTypes[%d]", name, i+1)
			switch {
			case s.vCPUs < first.vCPUs || s.memMiB < first.memMiB:
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %s has %d vCPUs and %d MiB, less than the pool's first type %s (%d vCPUs, %d MiB): "+
					"Cluster Autoscaler sizes every node of the pool as its first type, so a pod it scales the pool up for may not fit the %s Auto Scaling launches; "+
					"fix: list types of one shape, or put the smallest first",
					field, t, s.vCPUs, s.memMiB, its[0], first.vCPUs, first.memMiB, t))
			case s != first:
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %s (%d vCPUs, %d MiB) is larger than the pool's first type %s (%d vCPUs, %d MiB): "+
					"Cluster Autoscaler plans with the first type's size, so the extra capacity is never planned for",
					field, t, s.vCPUs, s.memMiB, its[0], first.vCPUs, first.memMiB))
			}
		}
	}
	return res, nil
}

// checkPoolShapes refuses a pool that lists a type smaller than its first
// and warns of a larger one; a failed read is a note, never a failure.
func (e *Env) checkPoolShapes(ctx context.Context) error {
	cfg, err := e.AWSConfig(ctx)
	var res PoolShapes
	if err == nil {
		res, err = CheckPoolShapes(ctx, ec2.NewFromConfig(cfg), e.Config)
	}
	if err != nil {
		e.opts.UI.Notef("note: the instance types of each pool were not compared: %v\n", err)
		return nil
	}
	for _, w := range res.Warnings {
		e.opts.UI.Notef("warning: %s\n", w)
	}
	if len(res.Errors) > 0 {
		return UsageError("%s", strings.Join(res.Errors, "\n"))
	}
	return nil
}
