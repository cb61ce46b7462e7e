package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kforge/kforge/internal/config"
)

// AMILatest is the one value --ami takes: the newest Amazon Linux 2023
// release from AWS's public SSM parameter.
const AMILatest = "latest"

// al2023Parameter is the public parameter terraform/cluster/ami.tf reads.
func al2023Parameter(arch string) string {
	return "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-" + arch
}

// AMIChange is one architecture's pinned image and the latest release.
type AMIChange struct {
	Arch    string `json:"architecture"`
	Current string `json:"current"`
	Latest  string `json:"latest"`
	// Record is the Terraform address that pins it in the state.
	Record string `json:"record"`
}

// validateAMI refuses --ami values and combinations that cannot work.
func validateAMI(cfg *config.Cluster, o RollOptions) error {
	if o.AMI == "" {
		return nil
	}
	if o.AMI != AMILatest {
		return UsageError("--ami %q: the only value is latest; to boot a specific image set amiID: %s in envs/%s.yaml, then kforge up and kforge roll", o.AMI, o.AMI, cfg.Environment)
	}
	if cfg.AMIID != "" {
		return UsageError("--ami latest: amiID %s in the environment file pins every node's image; remove amiID there to follow Amazon Linux releases with --ami latest, or change it to the image you want", cfg.AMIID)
	}
	return nil
}

// amiArches are the image architectures the cluster's nodes need, as
// terraform/cluster/ami.tf keys its records.
func amiArches(cfg *config.Cluster) []string {
	var out []string
	for _, a := range cfg.AgentArchitectures() {
		if a == "amd64" {
			a = "x86_64"
		}
		out = append(out, a)
	}
	return out
}

// latestAMIs compares the images pinned in the state (the amis output)
// with the latest releases.
func (e *Env) latestAMIs(ctx context.Context, out *Outputs) ([]AMIChange, error) {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	client := ssm.NewFromConfig(cfg)
	var changes []AMIChange
	for _, arch := range amiArches(e.Config) {
		p, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(al2023Parameter(arch))})
		if err != nil {
			return nil, fmt.Errorf("reading the latest Amazon Linux 2023 image (%s): %w", al2023Parameter(arch), err)
		}
		c := AMIChange{Arch: arch, Latest: aws.ToString(p.Parameter.Value), Record: fmt.Sprintf("terraform_data.ami[%q]", arch)}
		c.Current = e.pinnedAMI(out, arch)
		changes = append(changes, c)
	}
	return changes, nil
}

// pinnedAMI is the image the groups of arch boot now: the control plane's
// when it has that architecture, else a pool's.
func (e *Env) pinnedAMI(out *Outputs, arch string) string {
	archOf := func(instanceType string) string {
		c := &config.Cluster{ControlPlane: config.ControlPlane{InstanceType: instanceType}}
		return amiArches(c)[0]
	}
	if archOf(e.Config.ControlPlane.InstanceType) == arch {
		for group, ami := range out.AMIs {
			if _, isPool := e.Config.WorkerPools[group]; !isPool {
				return ami
			}
		}
	}
	for _, pool := range slices.Sorted(maps.Keys(e.Config.WorkerPools)) {
		if p := e.Config.WorkerPools[pool]; len(p.InstanceTypes) > 0 && archOf(p.InstanceTypes[0]) == arch {
			return out.AMIs[pool]
		}
	}
	return ""
}

// moveAMIs replaces the records whose image is not the latest, through an
// up with -replace: every launch template of that architecture gets a new
// version with the new image, and the roll that follows replaces the nodes.
func (e *Env) moveAMIs(ctx context.Context, changes []AMIChange, o RollOptions) (*Outputs, error) {
	var replace []string
	for _, c := range changes {
		if c.Current != c.Latest {
			replace = append(replace, c.Record)
			e.opts.UI.Notef("roll: image for %s: %s -> %s (replacing %s)\n", c.Arch, c.Current, c.Latest, c.Record)
		}
	}
	if len(replace) == 0 {
		e.opts.UI.Notef("roll: every node group already boots the latest Amazon Linux 2023 image\n")
		return nil, nil
	}
	up, err := RunUp(ctx, e, UpOptions{Replace: replace, Progress: o.Progress, RollsNext: true})
	if err != nil {
		return nil, fmt.Errorf("pinning the latest image: %w", err)
	}
	return &up.Outputs, nil
}

// AMILines is the text view of --ami latest's images.
func (res *RollResult) AMILines() []string {
	var lines []string
	for _, c := range res.AMIs {
		switch {
		case c.Current == c.Latest:
			lines = append(lines, fmt.Sprintf("image %s: %s is the latest Amazon Linux 2023 release", c.Arch, c.Current))
		case res.DryRun:
			lines = append(lines, fmt.Sprintf("image %s: %s -> %s: an up replaces %s, every %s launch template gets a new version, and the roll below then counts all their instances outdated", c.Arch, c.Current, c.Latest, c.Record, c.Arch))
		default:
			lines = append(lines, fmt.Sprintf("image %s: %s -> %s (%s replaced)", c.Arch, c.Current, c.Latest, c.Record))
		}
	}
	if len(lines) > 0 {
		lines = append(lines, "")
	}
	return lines
}
