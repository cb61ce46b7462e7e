package sweep

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// IAM kinds.
const (
	KindInstanceProfile = "iam:instance-profile"
	KindRole            = "iam:role"
	KindPolicy          = "iam:policy"
)

func iamTags(tags []iamtypes.Tag) map[string]string {
	return tagMap(tags, func(t iamtypes.Tag) (*string, *string) { return t.Key, t.Value })
}

// roles lists the cluster's roles; each costs one more call for its tags,
// which ListRoles does not return.
func (l *lister) roles(ctx context.Context) error {
	c := iam.NewFromConfig(l.cfg)
	p := iam.NewListRolesPaginator(c, &iam.ListRolesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, r := range out.Roles {
			name := aws.ToString(r.RoleName)
			if !l.namedForCluster(name) {
				continue
			}
			tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: r.RoleName})
			if isNotFound(err) {
				continue // deleted since the listing
			}
			if err != nil {
				return fmt.Errorf("tags of role %s: %w", name, err)
			}
			if why := l.match(iamTags(tags.Tags), name); why != "" {
				l.add(Resource{Kind: KindRole, ID: name, ARN: aws.ToString(r.Arn), Name: name, Why: why})
			}
		}
	}
	return nil
}

func (l *lister) policies(ctx context.Context) error {
	c := iam.NewFromConfig(l.cfg)
	p := iam.NewListPoliciesPaginator(c, &iam.ListPoliciesInput{Scope: "Local"})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, pol := range out.Policies {
			name := aws.ToString(pol.PolicyName)
			if !l.namedForCluster(name) {
				continue
			}
			tags, err := c.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: pol.Arn})
			if isNotFound(err) {
				continue // deleted since the listing
			}
			if err != nil {
				return fmt.Errorf("tags of policy %s: %w", name, err)
			}
			if why := l.match(iamTags(tags.Tags), name); why != "" {
				l.add(Resource{Kind: KindPolicy, ID: aws.ToString(pol.Arn), ARN: aws.ToString(pol.Arn), Name: name, Why: why})
			}
		}
	}
	return nil
}

// instanceProfiles lists the cluster's instance profiles. ListInstanceProfiles
// answers without tags on AWS (moto includes them), so each costs a
// GetInstanceProfile, which has them (moto answers ListInstanceProfileTags
// with malformed XML).
func (l *lister) instanceProfiles(ctx context.Context) error {
	c := iam.NewFromConfig(l.cfg)
	p := iam.NewListInstanceProfilesPaginator(c, &iam.ListInstanceProfilesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, ip := range out.InstanceProfiles {
			name := aws.ToString(ip.InstanceProfileName)
			if !l.namedForCluster(name) {
				continue
			}
			got, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: ip.InstanceProfileName})
			if isNotFound(err) {
				continue // deleted since the listing
			}
			if err != nil {
				return fmt.Errorf("tags of instance profile %s: %w", name, err)
			}
			if why := l.match(iamTags(got.InstanceProfile.Tags), name); why != "" {
				l.add(Resource{Kind: KindInstanceProfile, ID: name, ARN: aws.ToString(ip.Arn), Name: name, Why: why})
			}
		}
	}
	return nil
}

func (d *deleter) instanceProfile(ctx context.Context, r Resource) error {
	id := aws.String(r.ID)
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
}

// role takes the role out of its instance profiles, deletes its inline
// policies and detaches its managed ones, then deletes it.
func (d *deleter) role(ctx context.Context, r Resource) error {
	n := aws.String(r.ID)
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

// policy detaches the policy from every role, user and group, deletes its
// non-default versions, then deletes it.
func (d *deleter) policy(ctx context.Context, r Resource) error {
	a := aws.String(r.ID)
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
