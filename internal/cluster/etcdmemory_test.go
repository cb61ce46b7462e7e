package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// noInstanceTypes fails every DescribeInstanceTypes: a check that must not
// call EC2 fails with it.
type noInstanceTypes struct{}

func (noInstanceTypes) DescribeInstanceTypes(context.Context, *ec2.DescribeInstanceTypesInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	return nil, errors.New("DescribeInstanceTypes called")
}

// The control plane's memory against a raised etcd quota, with the
// emulator's instance type table (EC2's memory sizes).
func TestCheckEtcdMemory(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	api := ec2.NewFromConfig(cfg)
	for _, tc := range []struct {
		typ   string
		quota int
		want  string // in the warning; "" for none
	}{
		{"m5.large", 8, "controlPlane.etcdQuotaGiB 8 wants a control plane of at least 16384 MiB, and its m5.large has 8192 MiB: etcd maps its database into memory"},
		{"m5.large", 8, "choose a larger controlPlane.instanceType, or a lower quota"},
		{"t3.medium", 3, "at least 6144 MiB, and its t3.medium has 4096 MiB"},
		{"r5.large", 8, ""},
		{"m5.large", 4, ""},
	} {
		c := &config.Cluster{ControlPlane: config.ControlPlane{InstanceType: tc.typ, EtcdQuotaGiB: tc.quota}}
		got, err := CheckEtcdMemory(ctx, api, c)
		if err != nil {
			t.Fatal(err)
		}
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s with a %d GiB quota: %q, want %q", tc.typ, tc.quota, got, tc.want)
		}
	}
	// At etcd's default quota nothing is read: a default cluster's up
	// makes the calls it made before.
	c := &config.Cluster{ControlPlane: config.ControlPlane{InstanceType: "t3.small", EtcdQuotaGiB: 2}}
	if got, err := CheckEtcdMemory(ctx, noInstanceTypes{}, c); got != "" || err != nil {
		t.Errorf("at the default quota: %q, %v; want no call", got, err)
	}
	// What up and plan print.
	ui := &recordingUI{}
	e := &Env{Name: "prod", Config: &config.Cluster{ControlPlane: config.ControlPlane{InstanceType: "m5.large", EtcdQuotaGiB: 8}}, awsCfg: &cfg, opts: Options{UI: ui}}
	e.warnEtcdMemory(ctx)
	if len(ui.notes) != 1 || !strings.HasPrefix(ui.notes[0], "warning: controlPlane.etcdQuotaGiB 8 wants a control plane of at least 16384 MiB") {
		t.Errorf("warnEtcdMemory printed %q, want one warning", ui.notes)
	}
}
