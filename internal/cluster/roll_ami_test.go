package cluster

import (
	"context"
	"regexp"
	"testing"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// --ami latest reads the public parameter Terraform reads (the emulator
// serves it as AWS does), per architecture the nodes need, and compares it
// with the image each architecture's groups boot now.
func TestLatestAMIsReadsThePublicParameter(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	c := &config.Cluster{
		ControlPlane: config.ControlPlane{InstanceType: "t3.medium"},
		WorkerPools: map[string]config.WorkerPool{
			"general": {InstanceTypes: []string{"t3.large"}},
			"arm":     {InstanceTypes: []string{"m7g.large"}},
		},
	}
	e := &Env{Name: "dev", Config: c, awsCfg: &cfg}
	out := &Outputs{AMIs: map[string]string{"controller": "ami-0123456789abcdef0", "general": "ami-0123456789abcdef0", "arm": "ami-0aaaaaaaaaaaaaaaa"}}
	changes, err := e.latestAMIs(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Arch != "x86_64" || changes[1].Arch != "arm64" {
		t.Fatalf("changes %+v: want x86_64 then arm64", changes)
	}
	ami := regexp.MustCompile(`^ami-[0-9a-f]+$`)
	for _, ch := range changes {
		if !ami.MatchString(ch.Latest) || ch.Latest == ch.Current {
			t.Errorf("%s: latest %q, current %q: want an AMI id from the parameter, different from the fixture's", ch.Arch, ch.Latest, ch.Current)
		}
	}
	if changes[0].Current != "ami-0123456789abcdef0" || changes[1].Current != "ami-0aaaaaaaaaaaaaaaa" || changes[1].Record != `terraform_data.ami["arm64"]` {
		t.Errorf("current images or records wrong: %+v", changes)
	}
}
