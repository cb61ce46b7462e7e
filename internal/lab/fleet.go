package lab

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kforge/kforge/internal/node"
)

// ClusterTag is the tag every instance of a kforge cluster carries.
const ClusterTag = "kforge.io/cluster"

// Fleet turns the instances the emulator runs for one cluster (launched by
// its Auto Scaling Groups) into lab nodes, and stops the nodes of
// instances that are terminated.
type Fleet struct {
	Lab     *Lab
	Cluster string
	EC2     *ec2.Client
	IAM     *iam.Client
	// STS, when set, makes each node's credentials a session of its role
	// named after the instance, as EC2 does, so that the emulator's STS
	// names the instance to the control plane's join approver; else the
	// credentials are made up and the emulator's STS knows no session.
	STS *sts.Client
	// AutoScaling, when set, lets the lab play the Auto Scaling Group's EC2
	// health check for a node that powered itself off (see poweredOff).
	AutoScaling *autoscaling.Client
	// Events and SQS, when set with AutoScaling, let the lab deliver the
	// termination lifecycle events the emulator does not (hooks.go).
	Events *eventbridge.Client
	SQS    *sqs.Client
	// Endpoint is the emulator's address inside the VPC; the nodes' AWS
	// clients are sent there (the lab's one substitution for AWS's DNS).
	Endpoint string
	// Resolver is the VPC resolver's address, the nodes' only name server.
	Resolver netip.Addr
	// Extra is added to every node's spec (caches, lab-only settings).
	Extra func(inst ec2types.Instance, spec *InstanceSpec) error
	// Packages, when set, is the package source the nodes install from
	// (their dnf stand-in) and the lab's node setting that goes with it.
	Packages *Packages
	// MoreReleases are further Kubernetes releases the package source
	// serves beside Packages' (an upgrade's target).
	MoreReleases []*Packages
	// TokenTTL, when set, is the lab nodes' short bootstrap token lifetime
	// (node.LabSettings.TokenTTL), so a run sees tokens rotate and expire.
	TokenTTL string

	mu    sync.Mutex
	nodes map[string]*Instance
	next  int
	// groups is each node's Auto Scaling group (its instance's tag).
	groups map[string]string
	// terminating are the nodes held as in Terminating:Wait (hooks.go).
	terminating map[string]bool
	closing     chan struct{}
	closeOnce   sync.Once
	holds       sync.WaitGroup
}

// Close ends the holds of terminating nodes (each stops its node) and
// waits for them; the lab stops the other nodes.
func (f *Fleet) Close() {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		if f.closing == nil {
			f.closing = make(chan struct{})
		}
		close(f.closing)
		f.mu.Unlock()
	})
	f.holds.Wait()
}

// OnBoot sets Extra, under the fleet's lock (the reconcile loop reads it).
func (f *Fleet) OnBoot(extra func(inst ec2types.Instance, spec *InstanceSpec) error) {
	f.mu.Lock()
	f.Extra = extra
	f.mu.Unlock()
}

// Nodes returns the running nodes by instance id.
func (f *Fleet) Nodes() map[string]*Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]*Instance, len(f.nodes))
	for k, v := range f.nodes {
		out[k] = v
	}
	return out
}

// Reconcile boots a node for every pending or running instance of the
// cluster that has none, and stops the node of every instance that is no
// longer running. It returns the instance ids booted and stopped.
func (f *Fleet) Reconcile(ctx context.Context) (booted, stopped []string, err error) {
	f.mu.Lock()
	if f.nodes == nil {
		f.nodes = map[string]*Instance{}
		f.groups = map[string]string{}
		f.terminating = map[string]bool{}
	}
	if f.closing == nil {
		f.closing = make(chan struct{})
	}
	f.mu.Unlock()
	live := map[string]ec2types.Instance{}
	p := ec2.NewDescribeInstancesPaginator(f.EC2, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + ClusterTag), Values: []string{f.Cluster}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
	}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("listing the cluster's instances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				live[aws.ToString(i.InstanceId)] = i
			}
		}
	}
	var errs []error
	for id, node := range f.Nodes() {
		if _, ok := live[id]; ok {
			if !node.Running() {
				errs = append(errs, f.poweredOff(ctx, live[id]))
			}
			continue
		}
		f.mu.Lock()
		held, group := f.terminating[id], f.groups[id]
		f.mu.Unlock()
		if held {
			continue
		}
		// A group's termination hook holds the instance while the cluster
		// drains its node (hooks.go).
		h, err := f.terminationHook(ctx, group)
		if err != nil {
			errs = append(errs, err)
		}
		if h != nil {
			md := Metadata{}
			if node.Spec.Metadata != nil {
				md = *node.Spec.Metadata
			}
			if err := f.sendLifecycleEvent(ctx, h, id, md.AccountID, md.Region); err != nil {
				errs = append(errs, err)
			} else {
				fmt.Fprintf(f.Lab.Log, "lab: instance %s of %s terminating: lifecycle hook %s, event delivered to the node events queue; the node runs until it is drained (at most %s)\n", id, group, h.Hook, h.Heartbeat)
				f.mu.Lock()
				f.terminating[id] = true
				f.mu.Unlock()
				f.holds.Add(1)
				go f.holdTerminating(id, node, h)
				continue
			}
		}
		if err := node.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
		f.mu.Lock()
		delete(f.nodes, id)
		delete(f.groups, id)
		f.mu.Unlock()
		stopped = append(stopped, id)
	}
	ids := make([]string, 0, len(live))
	for id := range live {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f.mu.Lock()
		_, have := f.nodes[id]
		f.mu.Unlock()
		if have {
			continue
		}
		inst, err := f.boot(ctx, live[id])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.mu.Lock()
		f.nodes[id] = inst
		f.groups[id] = groupOf(live[id])
		f.mu.Unlock()
		booted = append(booted, id)
	}
	return booted, stopped, errors.Join(errs...)
}

// poweredOff reports a node that shut itself down (the agent powers a node
// off when it cannot become Ready) as AWS would see it: the instance
// stops (instance-initiated shutdown behaviour "stop", EC2's default), and
// its Auto Scaling Group's EC2 health check, finding it not running,
// terminates it and launches a replacement. The emulator runs no health
// checks, so the lab makes that call: TerminateInstanceInAutoScalingGroup
// without decrementing the desired capacity. The node is stopped and
// forgotten once the instance is gone (Reconcile).
func (f *Fleet) poweredOff(ctx context.Context, i ec2types.Instance) error {
	id := aws.ToString(i.InstanceId)
	if i.State != nil && i.State.Name == ec2types.InstanceStateNameRunning {
		fmt.Fprintf(f.Lab.Log, "lab: node %s powered off; stopping its instance, as EC2 does\n", id)
		if _, err := f.EC2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
			return fmt.Errorf("instance %s powered off: reporting it stopped: %w", id, err)
		}
	}
	group := groupOf(i)
	if group == "" || f.AutoScaling == nil {
		return nil
	}
	fmt.Fprintf(f.Lab.Log, "lab: node %s powered off; its group %s replaces it (the EC2 health check)\n", id, group)
	if _, err := f.AutoScaling.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(false)}); err != nil {
		return fmt.Errorf("instance %s powered off: replacing it in %s: %w", id, group, err)
	}
	return nil
}

// withTokenTTL adds the short token lifetime to the lab's node setting.
func withTokenTTL(settings []byte, ttl string) ([]byte, error) {
	var s node.LabSettings
	if err := json.Unmarshal(settings, &s); err != nil {
		return nil, fmt.Errorf("the lab's node setting: %w", err)
	}
	s.TokenTTL = ttl
	return json.Marshal(s)
}

// groupOf is the Auto Scaling group that launched the instance.
func groupOf(i ec2types.Instance) string {
	for _, t := range i.Tags {
		if aws.ToString(t.Key) == "aws:autoscaling:groupName" {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func (f *Fleet) boot(ctx context.Context, i ec2types.Instance) (*Instance, error) {
	id := aws.ToString(i.InstanceId)
	ip, err := netip.ParseAddr(aws.ToString(i.PrivateIpAddress))
	if err != nil {
		return nil, fmt.Errorf("instance %s: private IP %q: %w", id, aws.ToString(i.PrivateIpAddress), err)
	}
	md, err := f.metadata(ctx, i)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	index := f.next
	f.next++
	f.mu.Unlock()
	spec := InstanceSpec{
		Index:    index,
		ID:       id,
		Hostname: strings.SplitN(md.Hostname, ".", 2)[0],
		IP:       ip,
		Metadata: &md,
		Files:    nodeFiles(f.Endpoint, f.Resolver),
		Binds:    map[string]string{},
	}
	// A Kubernetes node runs containerd, kubelet and CNI plugins: the
	// capabilities of a real machine's root (network administration for its
	// own namespace's sysctls and links, mounts, cgroups).
	spec.NspawnArgs = append(spec.NspawnArgs, "--capability=all")
	// runc gives every container a session keyring (containerd's
	// NoNewKeyring covers only the CRI's containers, not `ctr run`, which
	// the agent's etcd restore uses); nspawn's default seccomp filter
	// refuses the keyring calls, so nodes are allowed them, as on a machine.
	spec.NspawnArgs = append(spec.NspawnArgs, "--system-call-filter=@keyring")
	if err := kernelModules(&spec); err != nil {
		return nil, fmt.Errorf("instance %s: %w", id, err)
	}
	if f.Packages != nil {
		packageFiles(&spec, append([]*Packages{f.Packages}, f.MoreReleases...))
		kernelView(&spec)
		settings, err := labNodeSettings()
		if err != nil {
			return nil, err
		}
		if f.TokenTTL != "" {
			if settings, err = withTokenTTL(settings, f.TokenTTL); err != nil {
				return nil, err
			}
		}
		spec.Files[node.LabSettingsPath] = File{Data: settings, Mode: 0o644}
	}
	f.mu.Lock()
	extra := f.Extra
	f.mu.Unlock()
	if extra != nil {
		if err := extra(i, &spec); err != nil {
			return nil, fmt.Errorf("instance %s: %w", id, err)
		}
	}
	// containerd's overlay snapshots cannot live on the overlay root.
	spec.Binds[filepath.Join(f.Lab.RunDir, "n"+fmt.Sprint(index)+"-containerd")] = "/var/lib/containerd"
	fmt.Fprintf(f.Lab.Log, "lab: booting %s (%s) at %s\n", id, spec.Hostname, ip)
	return f.Lab.Boot(ctx, spec)
}

// metadata gathers what the instance's metadata service answers: identity
// and placement from EC2, the role from its instance profile, the user
// data of its launch.
func (f *Fleet) metadata(ctx context.Context, i ec2types.Instance) (Metadata, error) {
	id := aws.ToString(i.InstanceId)
	md := Metadata{
		InstanceID:   id,
		InstanceType: string(i.InstanceType),
		ImageID:      aws.ToString(i.ImageId),
		PrivateIP:    aws.ToString(i.PrivateIpAddress),
		Hostname:     aws.ToString(i.PrivateDnsName),
		SubnetID:     aws.ToString(i.SubnetId),
		VPCID:        aws.ToString(i.VpcId),
		// Made-up credentials, which the emulator accepts, unless STS is set.
		AccessKeyID: "ASIALAB" + strings.ToUpper(strings.TrimPrefix(id, "i-")), SecretAccessKey: "lab-secret", SessionToken: "lab-session-" + id,
	}
	if i.Placement != nil {
		md.AvailabilityZone = aws.ToString(i.Placement.AvailabilityZone)
		if n := len(md.AvailabilityZone); n > 1 {
			md.Region = md.AvailabilityZone[:n-1]
		}
	}
	if md.Hostname == "" {
		md.Hostname = "ip-" + strings.ReplaceAll(md.PrivateIP, ".", "-") + ".ec2.internal"
	}
	if len(i.NetworkInterfaces) > 0 {
		md.MAC = aws.ToString(i.NetworkInterfaces[0].MacAddress)
		md.AccountID = aws.ToString(i.NetworkInterfaces[0].OwnerId)
	}
	lt, err := f.launchTemplate(ctx, i)
	if err != nil {
		return md, err
	}
	// The emulator does not copy the launch template's instance profile
	// onto ASG instances; the template names it.
	var arn, name string
	switch {
	case i.IamInstanceProfile != nil:
		arn = aws.ToString(i.IamInstanceProfile.Arn)
	case lt != nil && lt.IamInstanceProfile != nil:
		arn, name = aws.ToString(lt.IamInstanceProfile.Arn), aws.ToString(lt.IamInstanceProfile.Name)
	}
	if name == "" && arn != "" {
		name = arn[strings.LastIndex(arn, "/")+1:]
	}
	if name != "" {
		md.InstanceProfile = arn
		out, err := f.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
		if err != nil {
			return md, fmt.Errorf("instance %s: instance profile %s: %w", id, name, err)
		}
		if md.InstanceProfile == "" {
			md.InstanceProfile = aws.ToString(out.InstanceProfile.Arn)
			arn = md.InstanceProfile
		}
		if len(out.InstanceProfile.Roles) > 0 {
			md.Role = aws.ToString(out.InstanceProfile.Roles[0].RoleName)
			if err := f.roleSession(ctx, &md, aws.ToString(out.InstanceProfile.Roles[0].Arn)); err != nil {
				return md, err
			}
		}
		if md.AccountID == "" {
			if parts := strings.Split(arn, ":"); len(parts) > 4 {
				md.AccountID = parts[4]
			}
		}
	}
	if md.Role == "" {
		return md, fmt.Errorf("instance %s has no instance profile role, on the instance or its launch template; the agent's AWS calls need one", id)
	}
	ud, err := f.userData(ctx, i, lt)
	if err != nil {
		return md, err
	}
	md.UserData = ud
	return md, nil
}

// roleSession gives md a session of role named after the instance, the
// credentials EC2 hands an instance for its profile's role.
func (f *Fleet) roleSession(ctx context.Context, md *Metadata, role string) error {
	if f.STS == nil {
		return nil
	}
	out, err := f.STS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(md.InstanceID)})
	if err != nil {
		return fmt.Errorf("instance %s: a session of its role %s: %w", md.InstanceID, role, err)
	}
	c := out.Credentials
	md.AccessKeyID, md.SecretAccessKey, md.SessionToken = aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)
	return nil
}

// launchTemplate returns the data of the launch template version the
// instance was launched from (its aws:ec2launchtemplate tags), or nil.
func (f *Fleet) launchTemplate(ctx context.Context, i ec2types.Instance) (*ec2types.ResponseLaunchTemplateData, error) {
	var ltID, ltVersion string
	for _, t := range i.Tags {
		switch aws.ToString(t.Key) {
		case "aws:ec2launchtemplate:id":
			ltID = aws.ToString(t.Value)
		case "aws:ec2launchtemplate:version":
			ltVersion = aws.ToString(t.Value)
		}
	}
	if ltID == "" {
		return nil, nil
	}
	if ltVersion == "" {
		ltVersion = "$Latest"
	}
	out, err := f.EC2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(ltID), Versions: []string{ltVersion}})
	if err != nil {
		return nil, fmt.Errorf("instance %s: launch template %s: %w", aws.ToString(i.InstanceId), ltID, err)
	}
	if len(out.LaunchTemplateVersions) == 0 {
		return nil, nil
	}
	return out.LaunchTemplateVersions[0].LaunchTemplateData, nil
}

// userData is the instance's user data, or its launch template's.
func (f *Fleet) userData(ctx context.Context, i ec2types.Instance, lt *ec2types.ResponseLaunchTemplateData) ([]byte, error) {
	id := aws.ToString(i.InstanceId)
	attr, err := f.EC2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: i.InstanceId, Attribute: ec2types.InstanceAttributeNameUserData})
	if err == nil && attr.UserData != nil && aws.ToString(attr.UserData.Value) != "" {
		return decodeUserData(id, aws.ToString(attr.UserData.Value))
	}
	if lt != nil && aws.ToString(lt.UserData) != "" {
		return decodeUserData(id, aws.ToString(lt.UserData))
	}
	return nil, fmt.Errorf("instance %s: no user data on the instance (%v) nor on its launch template", id, err)
}

func decodeUserData(id, b64 string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("instance %s: user data is not base64: %w", id, err)
	}
	return b, nil
}
