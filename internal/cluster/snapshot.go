package cluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kforge/kforge/internal/digest"
)

// snapshotFile copies src to dst unless dst already has the same content,
// and returns dst. Terraform hashes the agent at plan time and reads it again
// at apply time; a snapshot keeps a rebuild of kforge in between from
// breaking the saved plan. Both files are streamed: the agent is tens of
// megabytes and need not sit in memory.
func snapshotFile(src, dst string) (string, error) {
	want, err := digest.File(src)
	if err != nil {
		return "", fmt.Errorf("reading the agent binary %s: %w", src, err)
	}
	if have, err := digest.File(dst); err == nil && have == want {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", filepath.Dir(dst), err)
	}
	tmp := dst + ".tmp"
	if err := copyFile(src, tmp, 0o755); err != nil {
		return "", fmt.Errorf("copying the agent binary: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("copying the agent binary: %w", err)
	}
	return dst, nil
}

// copyFile writes src's content to dst with the given mode.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
