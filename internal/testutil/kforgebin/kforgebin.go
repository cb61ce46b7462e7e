// Package kforgebin builds the kforge binary a test suite runs, once, in
// the suite's TestMain.
package kforgebin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildTemp builds ./cmd/kforge of the module at root into a new temporary
// directory named after prefix and returns the binary's path and a
// function that removes the directory. The build's output goes to stderr.
func BuildTemp(root, prefix string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "kforge")
	if err := Build(root, bin); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// Build builds ./cmd/kforge of the module at root into out, with env added
// to the build's environment (GOOS, GOARCH, CGO_ENABLED for another
// platform's agent).
func Build(root, out string, env ...string) error {
	build := exec.Command("go", "build", "-o", out, "./cmd/kforge")
	build.Dir = root
	build.Env = append(os.Environ(), env...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building %s: %w", filepath.Base(out), err)
	}
	return nil
}

// Short reports whether the test binary was asked for -short, before the
// testing package has parsed its flags (as TestMain must know).
func Short() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" || a == "-short" || a == "-short=true" {
			return true
		}
	}
	return false
}
