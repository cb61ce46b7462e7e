package node

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitsPassSystemdAnalyze lints the embedded units with systemd's own
// parser. The agent binary is not installed here, so systemd's complaint
// that /usr/local/bin/kforge is not executable is the one line tolerated.
func TestUnitsPassSystemdAnalyze(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("skipping: systemd-analyze is not installed")
	}
	us, err := Units()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var paths []string
	for name, data := range us {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, _ := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" || strings.Contains(line, "/usr/local/bin/kforge is not executable") {
			continue
		}
		t.Errorf("systemd-analyze: %s", line)
	}
}
