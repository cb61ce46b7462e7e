package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// schemaPaths lists every key path of the configuration schema, with map
// entries shown as <name>, for example workerPools.<name>.min.
func schemaPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		out = append(out, path)
		ft := f.Type
		if ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct {
			path += ".<name>"
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			out = append(out, schemaPaths(ft, path)...)
		}
	}
	return out
}

// TestDocsListEveryField fails when a configuration key is missing from the
// reference page, so the page cannot fall behind the structs.
func TestDocsListEveryField(t *testing.T) {
	doc, err := os.ReadFile("../../docs/CONFIG.md")
	if err != nil {
		t.Fatalf("reading the schema reference: %v", err)
	}
	paths := schemaPaths(reflect.TypeOf(Cluster{}), "")
	if len(paths) < 40 {
		t.Fatalf("only %d schema paths found: %v", len(paths), paths)
	}
	for _, p := range paths {
		if !strings.Contains(string(doc), "| `"+p+"` |") {
			t.Errorf("docs/CONFIG.md has no table row for `%s`", p)
		}
	}
	// The supported Kubernetes versions and the check date are stated there too.
	for _, r := range SupportedKubernetesVersions() {
		if !strings.Contains(string(doc), r.LatestPatch) {
			t.Errorf("docs/CONFIG.md does not mention %s", r.LatestPatch)
		}
	}
	if !strings.Contains(string(doc), KubernetesReleasesCheckedOn()) {
		t.Errorf("docs/CONFIG.md does not state the date the version list was checked (%s)", KubernetesReleasesCheckedOn())
	}
}
