// Command pins resolves and checks the digests of upstream.Downloads on a
// machine with network access (`make pins`). For each entry it fetches the
// artefact's current digest: files by downloading them and hashing the
// bytes, images with `crane digest` (the manifest-list digest). A pinned
// entry whose digest differs fails the run; an unpinned one is printed with
// the digest to pin, for a reviewer to copy into internal/upstream/downloads.go
// after checking it against the project's release notes or signatures.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/kforge/kforge/internal/upstream"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	failed := false
	for _, d := range upstream.Downloads {
		got, err := resolve(ctx, d)
		switch {
		case err != nil:
			fmt.Printf("ERROR     %s: %v\n", d.Ref, err)
			failed = true
		case d.Digest == "":
			// A pinned digest names where it was read (Download.Source); the
			// reviewer replaces this with the publisher's record when there
			// is one (release notes, a promoter manifest, a signature).
			source := fmt.Sprintf("%s, read on %s", how(d), time.Now().UTC().Format(time.DateOnly))
			fmt.Printf("UNPINNED  %s\n          Digest: %q, Source: %q,\n", d.Ref, got, source)
		case d.Digest != got:
			fmt.Printf("MISMATCH  %s: pinned %s, upstream now %s\n", d.Ref, d.Digest, got)
			failed = true
		default:
			fmt.Printf("ok        %s %s\n", d.Ref, got)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// how says how resolve read an entry's digest.
func how(d upstream.Download) string {
	if d.Kind == upstream.KindImage {
		return "crane digest " + d.Ref
	}
	return "SHA-256 of " + d.Ref
}

func resolve(ctx context.Context, d upstream.Download) (string, error) {
	if d.Kind == upstream.KindImage {
		out, err := exec.CommandContext(ctx, "crane", "digest", d.Ref).Output()
		if err != nil {
			return "", fmt.Errorf("crane digest (go install github.com/google/go-containerregistry/cmd/crane@latest): %w", err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.Ref, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET: %s", resp.Status)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return "", fmt.Errorf("reading: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
