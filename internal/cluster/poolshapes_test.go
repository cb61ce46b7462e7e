package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// Each type of a pool against the pool's first, with the shapes EC2
// describes (the emulator's copy of them): one shape passes, a smaller
// type is refused, a larger one is a warning.
func TestPoolTypesOfOneShape(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	pools := func(ps map[string][]string) *config.Cluster {
		c := &config.Cluster{WorkerPools: map[string]config.WorkerPool{}}
		for name, types := range ps {
			c.WorkerPools[name] = config.WorkerPool{InstanceTypes: types}
		}
		return c
	}
	res, err := CheckPoolShapes(ctx, ec2.NewFromConfig(cfg), pools(map[string][]string{
		"general": {"t4g.medium", "c6g.large", "c7g.large"}, // 2 vCPUs, 4 GiB each
		"batch":   {"m6i.xlarge", "m5.large"},               // 4 vCPUs and 16 GiB, then 2 and 8
		"web":     {"c6g.large", "m6g.large"},               // 2 vCPUs, 4 GiB, then 2 and 8
		"single":  {"t3.medium"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || !strings.HasPrefix(res.Errors[0], "workerPools.batch.instanceTypes[1]: m5.large has 2 vCPUs and 8192 MiB, less than the pool's first type m6i.xlarge (4 vCPUs, 16384 MiB)") {
		t.Errorf("errors %q, want the smaller m5.large of batch", res.Errors)
	}
	if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], "workerPools.web.instanceTypes[1]: m6g.large (2 vCPUs, 8192 MiB) is larger than the pool's first type c6g.large") {
		t.Errorf("warnings %q, want the larger m6g.large of web", res.Warnings)
	}

	// What plan and up do: exit 2 naming the field, before anything is applied.
	ui := &recordingUI{}
	e := &Env{Name: "dev", Config: pools(map[string][]string{"batch": {"m6i.xlarge", "m5.large"}}), awsCfg: &cfg, opts: Options{UI: ui}}
	if err := e.checkPoolShapes(ctx); !isExit(err, ExitUsage) || !strings.Contains(err.Error(), "fix: list types of one shape, or put the smallest first") {
		t.Errorf("a smaller type: %v, want exit 2 with the fix", err)
	}

	// Pools of one type each: nothing to compare, no call.
	if res, err := CheckPoolShapes(ctx, noInstanceTypes{}, pools(map[string][]string{"general": {"t3.medium"}})); err != nil || len(res.Errors)+len(res.Warnings) != 0 {
		t.Errorf("pools of one type: %+v, %v; want no call", res, err)
	}
}
