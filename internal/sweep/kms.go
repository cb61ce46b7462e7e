package sweep

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMS kinds.
const (
	KindKMSAlias = "kms:alias"
	KindKMSKey   = "kms:key"
)

// kmsKeys lists the cluster's customer managed keys that are not already
// scheduled for deletion; keys carry no name, so only the tag matches.
// ListKeys lists every key of the region, but a key whose key policy does
// not enable IAM access denies even an administrator: such a key is not
// the cluster's (kforge's key policy gives the account that access), so
// it is skipped rather than failing the listing.
func (l *lister) kmsKeys(ctx context.Context) error {
	c := kms.NewFromConfig(l.cfg)
	p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, k := range out.Keys {
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if isAccessDenied(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("describing key %s: %w", aws.ToString(k.KeyId), err)
			}
			md := d.KeyMetadata
			if md.KeyManager == kmstypes.KeyManagerTypeAws || md.KeyState == kmstypes.KeyStatePendingDeletion || md.KeyState == kmstypes.KeyStatePendingReplicaDeletion {
				continue // deleting a key means scheduling its deletion
			}
			tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId})
			if isAccessDenied(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("tags of key %s: %w", aws.ToString(k.KeyId), err)
			}
			m := tagMap(tags.Tags, func(t kmstypes.Tag) (*string, *string) { return t.TagKey, t.TagValue })
			if why := l.match(m, ""); why != "" {
				l.add(Resource{Kind: KindKMSKey, ID: aws.ToString(k.KeyId), ARN: aws.ToString(k.KeyArn), Why: why})
			}
		}
	}
	return nil
}

// isAccessDenied reports KMS's AccessDeniedException, which the SDK has no
// typed error for.
func isAccessDenied(err error) bool {
	return apiCode(err) == "AccessDeniedException"
}

func (l *lister) kmsAliases(ctx context.Context) error {
	p := kms.NewListAliasesPaginator(kms.NewFromConfig(l.cfg), &kms.ListAliasesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, a := range out.Aliases {
			name := aws.ToString(a.AliasName)
			// An alias has no tags, and kforge makes exactly one, named
			// after the cluster: "alias/prod-eu" is not prod's.
			if name == "alias/"+l.t.Cluster {
				why := "name " + name
				l.add(Resource{Kind: KindKMSAlias, ID: name, ARN: aws.ToString(a.AliasArn), Name: name, Parent: aws.ToString(a.TargetKeyId), Why: why})
			}
		}
	}
	return nil
}

func (d *deleter) kmsAlias(ctx context.Context, r Resource) error {
	_, err := d.kms.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(r.ID)})
	return err
}

// kmsKey schedules the key's deletion after the shortest window AWS allows.
func (d *deleter) kmsKey(ctx context.Context, r Resource) error {
	_, err := d.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(r.ID), PendingWindowInDays: aws.Int32(7)})
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "pending deletion") {
		return nil
	}
	return err
}
