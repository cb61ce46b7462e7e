package cluster

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/node"
)

// joinJSON is join material as the control plane publishes it.
func joinJSON(t *testing.T, token string, expires time.Time) []byte {
	t.Helper()
	b, err := json.Marshal(node.JoinMaterial{APIEndpoint: "api.dev.example.com:6443", Token: token,
		CACertHashes: []string{"sha256:" + strings.Repeat("a", 64)}, Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// validate reads the published join material's expiry from the bucket (the
// emulator's S3): none and expired are problems naming the refresh timer,
// a token that is still valid is a line, and the token itself shows
// nowhere.
func TestValidateReportsTheJoinMaterialsExpiry(t *testing.T) {
	_, _, b := certsBucketForTest(t)
	ctx := context.Background()
	now := time.Now()
	read := func() JoinExpiry {
		t.Helper()
		je, err := publishedJoinExpiry(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		return je
	}

	if p := read().Problem(now); !strings.Contains(p, "no join material in the certs bucket (workers/join.json)") || !strings.Contains(p, "journalctl -u kforge-refresh-token") {
		t.Errorf("nothing published: problem %q", p)
	}

	const token = "abcdef.0123456789abcdef"
	putObject(t, b, certstore.JoinKey, joinJSON(t, token, now.Add(17*time.Hour)))
	je := read()
	if p := je.Problem(now); p != "" {
		t.Errorf("a token valid 17 more hours: problem %q", p)
	}
	if got := je.Line(now); got != "join material workers/join.json expires in 17h" {
		t.Errorf("line %q", got)
	}

	putObject(t, b, certstore.JoinKey, joinJSON(t, token, now.Add(-3*time.Hour)))
	je = read()
	p := je.Problem(now)
	if !strings.Contains(p, "the join material (workers/join.json) expired 3h ago") || !strings.Contains(p, "no node launched now (a scale-out, a replacement) can join") {
		t.Errorf("an expired token: problem %q", p)
	}
	for _, s := range []string{p, je.Line(now)} {
		if strings.Contains(s, token) || strings.Contains(s, "0123456789abcdef") {
			t.Errorf("validate prints the bootstrap token: %q", s)
		}
	}
}
