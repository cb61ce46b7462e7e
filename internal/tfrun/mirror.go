package tfrun

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// A provider mirror is a directory holding
// registry.terraform.io/hashicorp/aws/<version>/<os_arch>/ (unpacked) or
// registry.terraform.io/hashicorp/aws/<zip files> (packed), as
// `terraform providers mirror` writes it and `terraform init -plugin-dir`
// reads it.

// IsMirror reports whether dir holds the hashicorp/aws provider.
func IsMirror(dir string) bool {
	entries, err := os.ReadDir(filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws"))
	return err == nil && len(entries) > 0
}

// Mirror is a provider mirror kforge found without being told.
type Mirror struct {
	Dir string
	// From says where it was found, for the note that names it.
	From string
}

// FindMirror looks for a provider mirror for an environment given none:
// first one another environment of the same work directory root remembers
// (.kforge/<other>/plugin-dir), then the standard places Terraform itself
// knows: the CLI configuration's filesystem_mirror paths and the implied
// local mirror directories. ok is false when there is none.
func FindMirror(workDir string) (m Mirror, ok bool) {
	// Other environments' remembered mirrors, in name order.
	recorded, _ := filepath.Glob(filepath.Join(filepath.Dir(workDir), "*", pluginDirFile))
	sort.Strings(recorded)
	for _, path := range recorded {
		if filepath.Dir(path) == filepath.Clean(workDir) {
			continue
		}
		data, err := os.ReadFile(path)
		if dir := strings.TrimSpace(string(data)); err == nil && dir != "" && IsMirror(dir) {
			return Mirror{Dir: dir, From: "remembered by environment " + filepath.Base(filepath.Dir(path))}, true
		}
	}
	for _, c := range standardMirrors() {
		if IsMirror(c.Dir) {
			return c, true
		}
	}
	return Mirror{}, false
}

// standardMirrors lists the places Terraform looks for providers on its own
// (https://developer.hashicorp.com/terraform/cli/config/config-file#provider-installation).
func standardMirrors() []Mirror {
	var out []Mirror
	cfg := os.Getenv("TF_CLI_CONFIG_FILE")
	home, _ := os.UserHomeDir()
	if cfg == "" && home != "" {
		cfg = filepath.Join(home, ".terraformrc")
	}
	for _, dir := range cliConfigMirrors(cfg) {
		out = append(out, Mirror{Dir: dir, From: "filesystem_mirror in " + cfg})
	}
	xdg := os.Getenv("XDG_DATA_HOME")
	if xdg == "" && home != "" {
		xdg = filepath.Join(home, ".local", "share")
	}
	implied := []string{}
	if home != "" {
		implied = append(implied, filepath.Join(home, ".terraform.d", "plugins"))
	}
	if xdg != "" {
		implied = append(implied, filepath.Join(xdg, "terraform", "plugins"))
	}
	implied = append(implied, "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins")
	for _, dir := range implied {
		out = append(out, Mirror{Dir: dir, From: "a standard Terraform plugin directory"})
	}
	return out
}

var mirrorPath = regexp.MustCompile(`^\s*path\s*=\s*"([^"]+)"`)

// cliConfigMirrors returns the path of every filesystem_mirror block of a
// Terraform CLI configuration file (read line by line; a mirror written on
// one line with its braces is missed, which only costs the hint).
func cliConfigMirrors(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var dirs []string
	inMirror := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "filesystem_mirror"):
			inMirror = true
		case inMirror && mirrorPath.MatchString(line):
			dirs = append(dirs, mirrorPath.FindStringSubmatch(line)[1])
			inMirror = false
		}
	}
	return dirs
}

// noMirrorHint follows an init that could not reach the registry.
const noMirrorHint = `Terraform could not download the hashicorp/aws provider, and kforge found no provider mirror (none remembered by another environment, none in the Terraform CLI configuration or the standard plugin directories).
Offline, give one with --plugin-dir DIR or KFORGE_PLUGIN_DIR=DIR: a directory holding registry.terraform.io/hashicorp/aws/..., as ` + "`terraform providers mirror DIR`" + ` writes it on a connected machine. kforge remembers it per environment.`

// registryFailure reports whether init failed looking up or downloading a
// provider from the registry.
func registryFailure(text string) bool {
	for _, s := range []string{"registry.terraform.io", "Failed to query available provider packages", "Failed to install provider", "could not connect to registry"} {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}
