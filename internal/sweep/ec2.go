package sweep

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// EC2 kinds.
const (
	KindInstance        = "ec2:instance"
	KindLaunchTemplate  = "ec2:launch-template"
	KindNATGateway      = "ec2:nat-gateway"
	KindEIP             = "ec2:eip"
	KindENI             = "ec2:network-interface"
	KindVolume          = "ec2:volume"
	KindVPCEndpoint     = "ec2:vpc-endpoint"
	KindSubnet          = "ec2:subnet"
	KindRouteTable      = "ec2:route-table"
	KindInternetGateway = "ec2:internet-gateway"
	KindSecurityGroup   = "ec2:security-group"
	KindVPC             = "ec2:vpc"
)

func ec2Tags(tags []ec2types.Tag) map[string]string {
	return tagMap(tags, func(t ec2types.Tag) (*string, *string) { return t.Key, t.Value })
}

// inVPC adds a resource of a VPC matched by its tags or Name tag, or by
// living in a VPC of the cluster.
func (l *lister) inVPC(kind, id, vpc string, tags []ec2types.Tag) {
	m := ec2Tags(tags)
	if why := l.matchInVPC(m, m["Name"], vpc); why != "" {
		l.add(Resource{Kind: kind, ID: id, Name: m["Name"], Parent: vpc, Why: why})
	}
}

func (l *lister) vpcs(ctx context.Context) error {
	p := ec2.NewDescribeVpcsPaginator(l.ec2, &ec2.DescribeVpcsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, v := range out.Vpcs {
			tags := ec2Tags(v.Tags)
			if why := l.match(tags, tags["Name"]); why != "" {
				id := aws.ToString(v.VpcId)
				l.clusterVPCs[id] = true
				l.add(Resource{Kind: KindVPC, ID: id, Name: tags["Name"], Why: why})
			}
		}
	}
	return nil
}

func (l *lister) subnets(ctx context.Context) error {
	p := ec2.NewDescribeSubnetsPaginator(l.ec2, &ec2.DescribeSubnetsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.Subnets {
			l.inVPC(KindSubnet, aws.ToString(x.SubnetId), aws.ToString(x.VpcId), x.Tags)
		}
	}
	return nil
}

func (l *lister) routeTables(ctx context.Context) error {
	p := ec2.NewDescribeRouteTablesPaginator(l.ec2, &ec2.DescribeRouteTablesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.RouteTables {
			main := false
			for _, a := range x.Associations {
				main = main || aws.ToBool(a.Main)
			}
			if main {
				continue // the VPC's main table goes with the VPC
			}
			l.inVPC(KindRouteTable, aws.ToString(x.RouteTableId), aws.ToString(x.VpcId), x.Tags)
		}
	}
	return nil
}

func (l *lister) internetGateways(ctx context.Context) error {
	p := ec2.NewDescribeInternetGatewaysPaginator(l.ec2, &ec2.DescribeInternetGatewaysInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.InternetGateways {
			vpc := ""
			if len(x.Attachments) > 0 {
				vpc = aws.ToString(x.Attachments[0].VpcId)
			}
			l.inVPC(KindInternetGateway, aws.ToString(x.InternetGatewayId), vpc, x.Tags)
		}
	}
	return nil
}

func (l *lister) natGateways(ctx context.Context) error {
	p := ec2.NewDescribeNatGatewaysPaginator(l.ec2, &ec2.DescribeNatGatewaysInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.NatGateways {
			if goneState(string(x.State)) {
				continue
			}
			l.inVPC(KindNATGateway, aws.ToString(x.NatGatewayId), aws.ToString(x.VpcId), x.Tags)
		}
	}
	return nil
}

// elasticIPs needs no paginator: DescribeAddresses has no pagination and
// answers every address of the region.
func (l *lister) elasticIPs(ctx context.Context) error {
	out, err := l.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		return err
	}
	for _, x := range out.Addresses {
		l.inVPC(KindEIP, aws.ToString(x.AllocationId), "", x.Tags)
	}
	return nil
}

func (l *lister) securityGroups(ctx context.Context) error {
	p := ec2.NewDescribeSecurityGroupsPaginator(l.ec2, &ec2.DescribeSecurityGroupsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.SecurityGroups {
			name := aws.ToString(x.GroupName)
			if name == "default" {
				continue // every VPC's own group goes with the VPC
			}
			id, vpc := aws.ToString(x.GroupId), aws.ToString(x.VpcId)
			if why := l.matchInVPC(ec2Tags(x.Tags), name, vpc); why != "" {
				l.add(Resource{Kind: KindSecurityGroup, ID: id, Name: name, Parent: vpc, Why: why})
			}
		}
	}
	return nil
}

func (l *lister) vpcEndpoints(ctx context.Context) error {
	p := ec2.NewDescribeVpcEndpointsPaginator(l.ec2, &ec2.DescribeVpcEndpointsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.VpcEndpoints {
			if goneState(string(x.State)) {
				continue
			}
			l.inVPC(KindVPCEndpoint, aws.ToString(x.VpcEndpointId), aws.ToString(x.VpcId), x.Tags)
		}
	}
	return nil
}

func (l *lister) instances(ctx context.Context) error {
	p := ec2.NewDescribeInstancesPaginator(l.ec2, &ec2.DescribeInstancesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, r := range out.Reservations {
			for _, x := range r.Instances {
				if x.State != nil && goneState(string(x.State.Name)) {
					continue
				}
				m := ec2Tags(x.Tags)
				asg := m["aws:autoscaling:groupName"]
				// The launch templates tag instances at launch; one in a
				// cluster VPC is the cluster's whatever its tags.
				if why := l.matchInVPC(m, m["Name"], aws.ToString(x.VpcId)); why != "" {
					l.add(Resource{Kind: KindInstance, ID: aws.ToString(x.InstanceId), Name: m["Name"], Parent: asg, Why: why})
				}
			}
		}
	}
	return nil
}

// ours returns the ids of the resources of a kind listed so far.
func (l *lister) ours(kind string) map[string]bool {
	ids := map[string]bool{}
	for _, r := range l.out {
		if r.Kind == kind {
			ids[r.ID] = true
		}
	}
	return ids
}

func (l *lister) networkInterfaces(ctx context.Context) error {
	instances := l.ours(KindInstance)
	p := ec2.NewDescribeNetworkInterfacesPaginator(l.ec2, &ec2.DescribeNetworkInterfacesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.NetworkInterfaces {
			id, desc := aws.ToString(x.NetworkInterfaceId), aws.ToString(x.Description)
			parent := ""
			if x.Attachment != nil && aws.ToString(x.Attachment.InstanceId) != "" {
				parent = aws.ToString(x.Attachment.InstanceId)
			}
			for prefix, arn := range l.lbs {
				if strings.HasPrefix(desc, prefix) {
					parent = arn
				}
			}
			// "EFS mount target for fs-0123 (fsmt-0456)": the id as a word,
			// not a prefix of another file system's longer id.
			for _, word := range strings.FieldsFunc(desc, func(r rune) bool { return r == ' ' || r == '(' || r == ')' }) {
				if l.fss[word] {
					parent = word
				}
			}
			if parent == "" && (x.Attachment != nil || strings.EqualFold(string(x.Status), "in-use")) {
				// Attached to something AWS manages: it goes with its owner.
				parent = "attached:" + id
			}
			m := ec2Tags(x.TagSet)
			why := l.matchInVPC(m, m["Name"], aws.ToString(x.VpcId))
			if why == "" && (instances[parent] || l.fss[parent] || strings.HasPrefix(parent, "arn:")) {
				why = "of " + parent
			}
			if why != "" {
				l.add(Resource{Kind: KindENI, ID: id, Name: desc, Parent: parent, Why: why})
			}
		}
	}
	return nil
}

func (l *lister) volumes(ctx context.Context) error {
	instances := l.ours(KindInstance)
	p := ec2.NewDescribeVolumesPaginator(l.ec2, &ec2.DescribeVolumesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.Volumes {
			m := ec2Tags(x.Tags)
			parent := ""
			for _, a := range x.Attachments {
				parent = aws.ToString(a.InstanceId)
			}
			why := l.match(m, m["Name"])
			if why == "" && instances[parent] && !aws.ToBool(firstDeleteOnTermination(x.Attachments)) {
				why = "attached to " + parent
			}
			if why != "" {
				l.add(Resource{Kind: KindVolume, ID: aws.ToString(x.VolumeId), Name: m["Name"], Parent: parent, Why: why})
			}
		}
	}
	return nil
}

func firstDeleteOnTermination(as []ec2types.VolumeAttachment) *bool {
	for _, a := range as {
		return a.DeleteOnTermination
	}
	return aws.Bool(false)
}

func (l *lister) launchTemplates(ctx context.Context) error {
	p := ec2.NewDescribeLaunchTemplatesPaginator(l.ec2, &ec2.DescribeLaunchTemplatesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.LaunchTemplates {
			name, tags := aws.ToString(x.LaunchTemplateName), ec2Tags(x.Tags)
			l.checkName("launch template", name, tags)
			if why := l.match(tags, name); why != "" {
				l.add(Resource{Kind: KindLaunchTemplate, ID: aws.ToString(x.LaunchTemplateId), Name: name, Why: why})
			}
		}
	}
	return nil
}

func (d *deleter) instance(ctx context.Context, r Resource) error {
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
}

func (d *deleter) launchTemplate(ctx context.Context, r Resource) error {
	_, err := d.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(r.ID)})
	return err
}

func (d *deleter) natGateway(ctx context.Context, r Resource) error {
	if _, err := d.ec2.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(r.ID)}); err != nil {
		return err
	}
	return d.waitGone(ctx, "NAT gateway "+r.ID, func() (bool, error) {
		out, err := d.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{r.ID}})
		return err == nil && (len(out.NatGateways) == 0 || strings.EqualFold(string(out.NatGateways[0].State), "deleted")), err
	})
}

func (d *deleter) elasticIP(ctx context.Context, r Resource) error {
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
		_, err := d.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(r.ID)})
		return err
	})
}

func (d *deleter) networkInterface(ctx context.Context, r Resource) error {
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
		_, err = d.ec2.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(r.ID)})
		return err
	})
}

func (d *deleter) volume(ctx context.Context, r Resource) error {
	return d.retry(ctx, func() error {
		_, err := d.ec2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(r.ID)})
		return err
	})
}

func (d *deleter) vpcEndpoint(ctx context.Context, r Resource) error {
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
}

func (d *deleter) subnet(ctx context.Context, r Resource) error {
	return d.retry(ctx, func() error {
		_, err := d.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(r.ID)})
		return err
	})
}

func (d *deleter) routeTable(ctx context.Context, r Resource) error {
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
		_, err := d.ec2.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: aws.String(r.ID)})
		return err
	})
}

func (d *deleter) internetGateway(ctx context.Context, r Resource) error {
	id := aws.String(r.ID)
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
}

func (d *deleter) securityGroup(ctx context.Context, r Resource) error {
	return d.retry(ctx, func() error {
		_, err := d.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(r.ID)})
		return err
	})
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

func (d *deleter) vpc(ctx context.Context, r Resource) error {
	return d.retry(ctx, func() error {
		_, err := d.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(r.ID)})
		return err
	})
}
