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

// kmsAliases lists the cluster's alias: kforge makes exactly one, named
// after the cluster ("alias/prod-eu" is not prod's). An alias has no tags,
// so it counts only when the key it names is the cluster's: a key listed
// above, or one pending deletion (a down that scheduled the key and failed
// before its alias) with the cluster's tag. A team's own "alias/prod" on
// its own key is not prod's, whatever its name.
func (l *lister) kmsAliases(ctx context.Context) error {
	c := kms.NewFromConfig(l.cfg)
	keys := l.ours(KindKMSKey)
	p := kms.NewListAliasesPaginator(c, &kms.ListAliasesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, a := range out.Aliases {
			name, key := aws.ToString(a.AliasName), aws.ToString(a.TargetKeyId)
			if name != "alias/"+l.t.Cluster || key == "" {
				continue
			}
			why := "on key " + key
			if !keys[key] {
				tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(key)})
				if isAccessDenied(err) || isNotFound(err) {
					continue
				}
				if err != nil {
					return fmt.Errorf("tags of key %s of %s: %w", key, name, err)
				}
				if l.match(tagMap(tags.Tags, func(t kmstypes.Tag) (*string, *string) { return t.TagKey, t.TagValue }), name) == "" {
					continue
				}
			}
			l.add(Resource{Kind: KindKMSAlias, ID: name, ARN: aws.ToString(a.AliasArn), Name: name, Parent: key, Why: why})
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
