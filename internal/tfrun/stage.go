package tfrun

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// RootModule is the directory of the root module inside the staged tree.
const RootModule = "cluster"

// Stage copies the tree fsys (the embedded terraform/ directory, rooted so
// that "cluster" and "modules" are at its top) into dir. Files are rewritten
// only when their content changed, so Terraform's .terraform directory and
// lock file, and file times, survive; files that are no longer embedded are
// removed. It reports whether anything changed.
func Stage(fsys fs.FS, dir string) (bool, error) {
	changed := false
	want := map[string]bool{}
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			want[target] = true
			return os.MkdirAll(target, 0o755)
		}
		if skipStaged(path) {
			return nil
		}
		want[target] = true
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		if old, err := os.ReadFile(target); err == nil && bytes.Equal(old, data) {
			return nil
		}
		changed = true
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		return false, fmt.Errorf("staging terraform modules into %s: %w", dir, err)
	}
	// Remove files a previous kforge version staged that are gone now, but
	// never what Terraform or kforge keep next to the modules.
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == dir || want[path] {
			return nil
		}
		if keepInWorkdir(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		changed = true
		if err := os.RemoveAll(path); err != nil {
			return err
		}
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("cleaning staged terraform modules in %s: %w", dir, err)
	}
	return changed, nil
}

// skipStaged leaves out what a developer's checkout may hold next to the
// modules but kforge must not ship: local state, caches, tfvars.
func skipStaged(path string) bool {
	base := filepath.Base(path)
	return strings.Contains(path, ".terraform/") || strings.HasSuffix(base, ".tfstate") ||
		strings.HasSuffix(base, ".tfstate.backup") || base == ".terraform.lock.hcl" ||
		strings.HasSuffix(base, ".tfvars") || strings.HasSuffix(base, ".tfvars.json")
}

// keepInWorkdir names what lives in the staged tree but is not embedded.
func keepInWorkdir(name string) bool {
	switch name {
	case ".terraform", ".terraform.lock.hcl", TFVarsFile, BackendFile, "terraform.tfstate", "terraform.tfstate.backup":
		return true
	}
	return strings.HasSuffix(name, ".tfplan")
}
