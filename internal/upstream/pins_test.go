package upstream

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPins checks every vendored file against its row, and that nothing is
// vendored without one.
func TestPins(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Pins {
		seen[p.Path] = true
		data, err := os.ReadFile(p.Path)
		if err != nil {
			t.Errorf("pin %s: %v", p.Path, err)
			continue
		}
		if err := Verify(p.Path, data); err != nil {
			t.Error(err)
		}
		if p.Licence == "" || p.Repository == "" || p.Ref == "" || len(p.Commit) != 40 {
			t.Errorf("pin %s: licence, repository, ref and a full commit are required: %+v", p.Path, p)
		}
		if _, err := os.Stat(p.LicenceIn); err != nil {
			t.Errorf("pin %s: licence file: %v", p.Path, err)
		}
	}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".go") {
			return err
		}
		if !seen[path] {
			t.Errorf("%s is vendored but has no row in Pins", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCiliumChart checks the embedded chart is the pinned one and that its
// Chart.yaml names the pinned version.
func TestCiliumChart(t *testing.T) {
	data, err := CiliumChart()
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatal("cilium/Chart.yaml not found in the chart")
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "cilium/Chart.yaml" {
			continue
		}
		raw, _ := io.ReadAll(tr)
		if !strings.Contains(string(raw), "\nversion: "+CiliumChartVersion+"\n") {
			t.Fatalf("cilium/Chart.yaml does not say version: %s:\n%s", CiliumChartVersion, raw)
		}
		return
	}
}
