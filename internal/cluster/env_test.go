package cluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The work directory lies where kforge runs, often an infrastructure
// repository, and will hold the admin kubeconfig: real git ignores it
// whole. A .gitignore the user has edited is kept.
func TestWorkDirectoryIsIgnoredByGit(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	if out, err := exec.Command(git, "-C", repo, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	workDir := filepath.Join(repo, ".kforge")
	o := Options{EnvsDir: repoEnvs(t), WorkDir: workDir, Endpoint: "http://127.0.0.1:1", UI: &recordingUI{}}
	e, err := Open(context.Background(), "local", NeedEmulator, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.Dir, "admin.conf"), []byte("stand-in"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(git, "-C", repo, "status", "--porcelain", "--untracked-files=all").CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("git status in a repository holding the work directory: %v\n%s\nwant nothing to commit", err, out)
	}

	edited := "*\n!notes.md\n"
	if err := os.WriteFile(filepath.Join(workDir, ".gitignore"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), "local", NeedEmulator, o); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(workDir, ".gitignore")); string(got) != edited {
		t.Errorf("the edited .gitignore became %q", got)
	}
}
