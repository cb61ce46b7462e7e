package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/node"
)

// Every node that joins later (a scale-out, a replaced or resized node)
// reads workers/join.json, whose bootstrap token kforge-refresh-token.timer
// on the control plane renews once it has under node.RefreshBefore left.
// A timer that keeps failing shows nowhere on a working cluster until the
// token expires, and then every later node waits for join material that
// never comes while Cluster Autoscaler keeps launching more. So validate
// reads the material's expiry (never its token).

// JoinExpiry is when the published join material's token expires.
type JoinExpiry struct {
	Key string `json:"key"`
	// Expires is zero when the bucket holds no join material.
	Expires time.Time `json:"expires,omitzero"`
}

// publishedJoinExpiry reads workers/join.json through the bucket (GetObject
// and, the object being SSE-KMS, kms:Decrypt, which admin.conf already
// needs).
func publishedJoinExpiry(ctx context.Context, b node.S3Bucket) (JoinExpiry, error) {
	je := JoinExpiry{Key: certstore.JoinKey}
	j, err := node.ReadJoin(ctx, b)
	switch {
	case errors.Is(err, node.ErrNotFound):
		return je, nil
	case err != nil:
		return je, fmt.Errorf("reading the join material s3://%s/%s (needs s3:GetObject on it and kms:Decrypt with the cluster key): %w", b.Name, je.Key, err)
	}
	je.Expires = j.Expires
	return je, nil
}

// Problem is why no node could join now, or "": the token has expired, or
// nothing is published. A token close to its expiry is not yet one: the
// lab's tokens live minutes, a cluster's a day, and the timer renews well
// before the end.
func (je JoinExpiry) Problem(now time.Time) string {
	fix := "see `journalctl -u kforge-refresh-token` on the control plane"
	if je.Expires.IsZero() {
		return fmt.Sprintf("no join material in the certs bucket (%s): the control plane publishes it in its bootstrap, and until then no worker can join; %s", je.Key, fix)
	}
	if now.Before(je.Expires) {
		return ""
	}
	return fmt.Sprintf("the join material (%s) expired %s ago: kforge-refresh-token.timer renews it once it has under %s left, so its runs have failed since, and no node launched now (a scale-out, a replacement) can join; %s",
		je.Key, toMinutes(now.Sub(je.Expires)), toMinutes(node.RefreshBefore), fix)
}

// Line is the join material as validate prints it.
func (je JoinExpiry) Line(now time.Time) string {
	if je.Expires.IsZero() {
		return "join material none"
	}
	if now.Before(je.Expires) {
		return fmt.Sprintf("join material %s expires in %s", je.Key, toMinutes(je.Expires.Sub(now)))
	}
	return fmt.Sprintf("join material %s expired %s ago", je.Key, toMinutes(now.Sub(je.Expires)))
}
