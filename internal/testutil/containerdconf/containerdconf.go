// Package containerdconf holds real outputs of `containerd config default`
// (each file's header says how it was made) and reads a containerd
// configuration's sandbox image as containerd does, for the tests of the
// node agent's containerd configuration.
package containerdconf

import (
	"embed"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// Versions are the containerd releases whose default configuration is
// here: 2.3.7, the release the lab's nodes run, and 1.7.35, the newest 1.x,
// the line distributions still package.
var Versions = []string{"2.3.7", "1.7.35"}

//go:embed testdata/*.toml
var files embed.FS

// Default is the output of `containerd config default` of a release in
// Versions.
func Default(t testing.TB, version string) string {
	t.Helper()
	b, err := files.ReadFile("testdata/containerd-" + version + "-config-default.toml")
	if err != nil {
		t.Fatalf("no default configuration of containerd %s: %v", version, err)
	}
	return string(b)
}

// SandboxImage decodes conf as TOML and returns the pod sandbox image
// where containerd reads it: pinned_images.sandbox of the CRI images plugin
// (2.x), or sandbox_image of the CRI plugin (1.x).
func SandboxImage(t testing.TB, conf string) string {
	t.Helper()
	var doc map[string]any
	if _, err := toml.Decode(conf, &doc); err != nil {
		t.Fatalf("containerd configuration is not TOML: %v", err)
	}
	path := []string{"plugins", "io.containerd.cri.v1.images", "pinned_images", "sandbox"}
	if plugins, _ := doc["plugins"].(map[string]any); plugins["io.containerd.cri.v1.images"] == nil {
		path = []string{"plugins", "io.containerd.grpc.v1.cri", "sandbox_image"}
	}
	var v any = doc
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("containerd configuration has no table at %s", k)
		}
		v = m[k]
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("containerd configuration: %s is %#v, not a string", strings.Join(path, "."), v)
	}
	return s
}
