package tfrun

import (
	"path/filepath"
	"testing"
)

func TestPluginDirIsRememberedPerWorkDir(t *testing.T) {
	work := filepath.Join(t.TempDir(), "local")
	if got, err := rememberPluginDir(work, ""); err != nil || got != "" {
		t.Fatalf("nothing recorded yet: got %q, %v; want empty", got, err)
	}
	if got, err := rememberPluginDir(work, "/opt/mirror"); err != nil || got != "/opt/mirror" {
		t.Fatalf("given: got %q, %v", got, err)
	}
	if got, err := rememberPluginDir(work, ""); err != nil || got != "/opt/mirror" {
		t.Errorf("later command without the flag: got %q, %v; want the recorded /opt/mirror", got, err)
	}
	if got, err := rememberPluginDir(work, "/srv/other"); err != nil || got != "/srv/other" {
		t.Fatalf("a new mirror: got %q, %v", got, err)
	}
	if got, _ := rememberPluginDir(work, ""); got != "/srv/other" {
		t.Errorf("the new mirror replaces the old: got %q", got)
	}
}
