package sweep

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Options tunes Delete.
type Options struct {
	// Endpoint is an emulator endpoint (S3 path style); empty on AWS.
	Endpoint string
	// Wait bounds each wait for AWS to finish a deletion (terminated
	// instances, released ENIs, dependency violations); default 5 minutes.
	Wait time.Duration
	// Poll is the interval between checks; default 2 seconds.
	Poll time.Duration
	// Progress, when set, is told about each resource deleted.
	Progress func(r Resource, err error)
}

// Result is what Delete did.
type Result struct {
	Deleted []Resource
	Failed  []Failure
}

// Failure is a resource Delete could not remove.
type Failure struct {
	Resource Resource
	Err      error
}

// Err joins the failures into one error, or nil.
func (r *Result) Err() error {
	if len(r.Failed) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d resources could not be deleted:", len(r.Failed))
	for _, f := range r.Failed {
		fmt.Fprintf(&b, "\n  %s: %v", f.Resource, f.Err)
	}
	return errors.New(b.String())
}

// Delete removes rs in dependency order (see Order), waiting where AWS
// needs time. It is idempotent: a resource already gone counts as deleted.
// It goes on past a failure and reports every one in the Result.
func Delete(ctx context.Context, cfg aws.Config, rs []Resource, opts Options) *Result {
	if opts.Wait == 0 {
		opts.Wait = 5 * time.Minute
	}
	if opts.Poll == 0 {
		opts.Poll = 2 * time.Second
	}
	d := &deleter{
		opts: opts,
		ec2:  ec2.NewFromConfig(cfg),
		asg:  autoscaling.NewFromConfig(cfg),
		elb:  elbv2.NewFromConfig(cfg),
		efs:  efs.NewFromConfig(cfg),
		iam:  iam.NewFromConfig(cfg),
		kms:  kms.NewFromConfig(cfg),
		r53:  route53.NewFromConfig(cfg),
		s3:   s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = opts.Endpoint != "" }),
	}
	sorted := append([]Resource(nil), rs...)
	sortByOrder(sorted)
	res := &Result{}
	// Security groups referencing each other cannot be deleted one by one:
	// revoke every rule of the groups to delete first.
	for _, r := range sorted {
		if r.Kind == KindSecurityGroup {
			d.revokeRules(ctx, r.ID)
		}
	}
	for _, r := range sorted {
		err := d.delete(ctx, r)
		if err != nil && isNotFound(err) {
			err = nil
		}
		if err != nil {
			res.Failed = append(res.Failed, Failure{Resource: r, Err: err})
		} else {
			res.Deleted = append(res.Deleted, r)
		}
		if opts.Progress != nil {
			opts.Progress(r, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return res
}

type deleter struct {
	opts Options
	ec2  *ec2.Client
	asg  *autoscaling.Client
	elb  *elbv2.Client
	efs  *efs.Client
	iam  *iam.Client
	kms  *kms.Client
	r53  *route53.Client
	s3   *s3.Client
}

func (d *deleter) delete(ctx context.Context, r Resource) error {
	id := aws.String(r.ID)
	switch r.Kind {
	case KindASG:
		if _, err := d.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: id, ForceDelete: aws.Bool(true)}); err != nil {
			return err
		}
		return d.waitGone(ctx, "ASG "+r.ID, func() (bool, error) {
			out, err := d.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{r.ID}})
			return err == nil && len(out.AutoScalingGroups) == 0, err
		})
	case KindInstance:
		if _, err := d.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{r.ID}}); err != nil {
			return err
		}
		return d.waitGone(ctx, "instance "+r.ID, func() (bool, error) {
			out, err := d.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{r.ID}})
			if err != nil {
				return false, err
			}
			for _, rv := range out.Reservations {
				for _, i := range rv.Instances {
					if i.State != nil && !strings.EqualFold(string(i.State.Name), "terminated") {
						return false, nil
					}
				}
			}
			return true, nil
		})
	case KindLoadBalancer:
		if _, err := d.elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: id}); err != nil {
			return err
		}
		return d.waitGone(ctx, "load balancer "+r.Name, func() (bool, error) {
			_, err := d.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{r.ID}})
			return false, err
		})
	case KindTargetGroup:
		return d.retry(ctx, func() error {
			_, err := d.elb.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: id})
			return err
		})
	case KindLaunchTemplate:
		_, err := d.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: id})
		return err
	case KindAccessPoint:
		_, err := d.efs.DeleteAccessPoint(ctx, &efs.DeleteAccessPointInput{AccessPointId: id})
		return err
	case KindMountTarget:
		if _, err := d.efs.DeleteMountTarget(ctx, &efs.DeleteMountTargetInput{MountTargetId: id}); err != nil {
			return err
		}
		return d.waitGone(ctx, "mount target "+r.ID, func() (bool, error) {
			out, err := d.efs.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{MountTargetId: id})
			return err == nil && len(out.MountTargets) == 0, err
		})
	case KindFileSystem:
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
	case KindNATGateway:
		if _, err := d.ec2.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: id}); err != nil {
			return err
		}
		return d.waitGone(ctx, "NAT gateway "+r.ID, func() (bool, error) {
			out, err := d.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{r.ID}})
			return err == nil && (len(out.NatGateways) == 0 || strings.EqualFold(string(out.NatGateways[0].State), "deleted")), err
		})
	case KindEIP:
		out, err := d.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{r.ID}})
		if err != nil {
			return err
		}
		for _, a := range out.Addresses {
			if a.AssociationId != nil {
				if _, err := d.ec2.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: a.AssociationId}); err != nil && !isNotFound(err) {
					return err
				}
			}
		}
		return d.retry(ctx, func() error {
			_, err := d.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: id})
			return err
		})
	case KindENI:
		return d.retry(ctx, func() error {
			out, err := d.ec2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{r.ID}})
			if err != nil {
				return err
			}
			for _, n := range out.NetworkInterfaces {
				// One attached to an instance being terminated goes with it.
				if n.Attachment != nil && n.Attachment.AttachmentId != nil && aws.ToInt32(n.Attachment.DeviceIndex) != 0 {
					_, _ = d.ec2.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: n.Attachment.AttachmentId, Force: aws.Bool(true)})
				}
			}
			_, err = d.ec2.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: id})
			return err
		})
	case KindVolume:
		return d.retry(ctx, func() error {
			_, err := d.ec2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: id})
			return err
		})
	case KindVPCEndpoint:
		out, err := d.ec2.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{r.ID}})
		if err != nil {
			return err
		}
		for _, u := range out.Unsuccessful {
			if u.Error != nil && !strings.Contains(strings.ToLower(aws.ToString(u.Error.Code)), "notfound") {
				return fmt.Errorf("%s: %s", aws.ToString(u.Error.Code), aws.ToString(u.Error.Message))
			}
		}
		return nil
	case KindSubnet:
		return d.retry(ctx, func() error {
			_, err := d.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: id})
			return err
		})
	case KindRouteTable:
		out, err := d.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{r.ID}})
		if err != nil {
			return err
		}
		for _, rt := range out.RouteTables {
			for _, a := range rt.Associations {
				if !aws.ToBool(a.Main) && a.RouteTableAssociationId != nil {
					if _, err := d.ec2.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: a.RouteTableAssociationId}); err != nil && !isNotFound(err) {
						return err
					}
				}
			}
		}
		return d.retry(ctx, func() error {
			_, err := d.ec2.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: id})
			return err
		})
	case KindInternetGateway:
		out, err := d.ec2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{InternetGatewayIds: []string{r.ID}})
		if err != nil {
			return err
		}
		for _, g := range out.InternetGateways {
			for _, a := range g.Attachments {
				if err := d.retry(ctx, func() error {
					_, err := d.ec2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: id, VpcId: a.VpcId})
					return err
				}); err != nil && !isNotFound(err) {
					return err
				}
			}
		}
		_, err = d.ec2.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: id})
		return err
	case KindSecurityGroup:
		return d.retry(ctx, func() error {
			_, err := d.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: id})
			return err
		})
	case KindVPC:
		return d.retry(ctx, func() error {
			_, err := d.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: id})
			return err
		})
	case KindInstanceProfile:
		out, err := d.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: id})
		if err != nil {
			return err
		}
		for _, role := range out.InstanceProfile.Roles {
			if _, err := d.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: id, RoleName: role.RoleName}); err != nil && !isNotFound(err) {
				return err
			}
		}
		_, err = d.iam.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: id})
		return err
	case KindRole:
		return d.deleteRole(ctx, r.ID)
	case KindPolicy:
		return d.deletePolicy(ctx, r.ID)
	case KindBucket:
		return d.deleteBucket(ctx, r.ID)
	case KindKMSAlias:
		_, err := d.kms.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: id})
		return err
	case KindKMSKey:
		_, err := d.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(7)})
		if err != nil && strings.Contains(strings.ToLower(err.Error()), "pending deletion") {
			return nil
		}
		return err
	case KindRecord:
		// zone_name_type; zone ids have no underscore.
		zone, _, _ := strings.Cut(r.ID, "_")
		return d.deleteRecords(ctx, zone, r.Name, strings.TrimPrefix(r.ID, zone+"_"+r.Name+"_"))
	case KindHostedZone:
		if err := d.deleteRecords(ctx, r.ID, "", ""); err != nil {
			return err
		}
		_, err := d.r53.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: id})
		return err
	}
	return fmt.Errorf("unknown kind %q", r.Kind)
}

// revokeRules removes every rule of a security group, so groups that
// reference each other can be deleted.
func (d *deleter) revokeRules(ctx context.Context, id string) {
	out, err := d.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}})
	if err != nil {
		return // reported when deleting the group
	}
	for _, g := range out.SecurityGroups {
		if len(g.IpPermissions) > 0 {
			_, _ = d.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: g.IpPermissions})
		}
		if len(g.IpPermissionsEgress) > 0 {
			_, _ = d.ec2.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: g.GroupId, IpPermissions: g.IpPermissionsEgress})
		}
	}
}

func (d *deleter) deleteRole(ctx context.Context, name string) error {
	n := aws.String(name)
	profiles, err := d.iam.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: n})
	if err != nil {
		return err
	}
	for _, p := range profiles.InstanceProfiles {
		if _, err := d.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: p.InstanceProfileName, RoleName: n}); err != nil && !isNotFound(err) {
			return err
		}
	}
	inline, err := d.iam.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: n})
	if err != nil {
		return err
	}
	for _, p := range inline.PolicyNames {
		if _, err := d.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: n, PolicyName: aws.String(p)}); err != nil && !isNotFound(err) {
			return err
		}
	}
	attached, err := d.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: n})
	if err != nil {
		return err
	}
	for _, p := range attached.AttachedPolicies {
		if _, err := d.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: n, PolicyArn: p.PolicyArn}); err != nil && !isNotFound(err) {
			return err
		}
	}
	_, err = d.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: n})
	return err
}

func (d *deleter) deletePolicy(ctx context.Context, arn string) error {
	a := aws.String(arn)
	ents, err := d.iam.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: a})
	if err != nil {
		return err
	}
	for _, r := range ents.PolicyRoles {
		if _, err := d.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: r.RoleName, PolicyArn: a}); err != nil && !isNotFound(err) {
			return err
		}
	}
	for _, u := range ents.PolicyUsers {
		if _, err := d.iam.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: u.UserName, PolicyArn: a}); err != nil && !isNotFound(err) {
			return err
		}
	}
	for _, g := range ents.PolicyGroups {
		if _, err := d.iam.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: g.GroupName, PolicyArn: a}); err != nil && !isNotFound(err) {
			return err
		}
	}
	versions, err := d.iam.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: a})
	if err != nil {
		return err
	}
	for _, v := range versions.Versions {
		if !v.IsDefaultVersion {
			if _, err := d.iam.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: a, VersionId: v.VersionId}); err != nil && !isNotFound(err) {
				return err
			}
		}
	}
	_, err = d.iam.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: a})
	return err
}

// deleteBucket empties a bucket (every version and delete marker) and
// deletes it.
func (d *deleter) deleteBucket(ctx context.Context, name string) error {
	b := aws.String(name)
	p := s3.NewListObjectVersionsPaginator(d.s3, &s3.ListObjectVersionsInput{Bucket: b})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing objects: %w", err)
		}
		var ids []s3types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		for len(ids) > 0 {
			n := min(len(ids), 1000)
			out, err := d.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &s3types.Delete{Objects: ids[:n], Quiet: aws.Bool(true)}})
			if err != nil {
				return fmt.Errorf("deleting objects: %w", err)
			}
			if len(out.Errors) > 0 {
				e := out.Errors[0]
				return fmt.Errorf("deleting object %s: %s", aws.ToString(e.Key), aws.ToString(e.Message))
			}
			ids = ids[n:]
		}
	}
	_, err := d.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b})
	return err
}

// deleteRecords deletes the records of a zone named name (all when name is
// empty) of type typ (all when empty), except the zone's own NS and SOA.
func (d *deleter) deleteRecords(ctx context.Context, zone, name, typ string) error {
	z, err := d.r53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(zone)})
	if err != nil {
		return err
	}
	apex := recordName(aws.ToString(z.HostedZone.Name))
	p := route53.NewListResourceRecordSetsPaginator(d.r53, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
	var changes []r53types.Change
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, rr := range page.ResourceRecordSets {
			rn := recordName(aws.ToString(rr.Name))
			if rn == apex && (rr.Type == r53types.RRTypeNs || rr.Type == r53types.RRTypeSoa) {
				continue
			}
			if (name != "" && rn != name) || (typ != "" && string(rr.Type) != typ) {
				continue
			}
			changes = append(changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &rr})
		}
	}
	if len(changes) == 0 {
		return nil
	}
	_, err = d.r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zone),
		ChangeBatch:  &r53types.ChangeBatch{Changes: changes, Comment: aws.String("kforge sweep")},
	})
	return err
}

// retry calls fn until it succeeds, fails for good, or opts.Wait passes:
// AWS answers DependencyViolation / in use while dependents are going away.
func (d *deleter) retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(d.opts.Wait)
	for {
		err := fn()
		if err == nil || isNotFound(err) || !isTransient(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.opts.Poll):
		}
	}
}

// waitGone polls gone until it reports true or a not-found error.
func (d *deleter) waitGone(ctx context.Context, what string, gone func() (bool, error)) error {
	deadline := time.Now().Add(d.opts.Wait)
	for {
		ok, err := gone()
		if ok || (err != nil && isNotFound(err)) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for %s to go: %w", what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still there after %s", what, d.opts.Wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.opts.Poll):
		}
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound: the resource is already gone, which is what deleting wants.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	code := strings.ToLower(apiCode(err))
	if strings.Contains(code, "notfound") || strings.Contains(code, "nosuch") || code == "invalidallocationid.notfound" {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not found") || strings.Contains(msg, "does not exist") || strings.Contains(msg, "cannot be found")
}

// isTransient: worth retrying while dependents are being deleted.
func isTransient(err error) bool {
	code := strings.ToLower(apiCode(err))
	for _, c := range []string{"dependencyviolation", "inuse", "resourceinuse", "filesysteminuse", "incorrectstate", "deleteconflict", "throttl"} {
		if strings.Contains(code, c) {
			return true
		}
	}
	return strings.Contains(strings.ToLower(err.Error()), "in use")
}
