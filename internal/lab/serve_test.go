package lab

import (
	"os"
	"path/filepath"
	"testing"
)

// The ready file is the contract between `kforge lab serve` and the `up
// --nodes` that waits for it: absent, partial or without a URL is not ready.
func TestReadyFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lab-ready.json")
	if _, ok := ReadReady(path); ok {
		t.Fatal("a missing ready file reads as ready")
	}
	if err := os.WriteFile(path, []byte(`{"url":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := ReadReady(path); ok {
		t.Fatal("a partly written ready file reads as ready")
	}
	if err := os.WriteFile(path, []byte(`{"lab_id":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := ReadReady(path); ok {
		t.Fatal("a ready file without a URL reads as ready")
	}
	want := Ready{URL: "http://127.0.0.1:40123", LabID: "kf1a2b"}
	if err := writeReady(path, want); err != nil {
		t.Fatal(err)
	}
	got, ok := ReadReady(path)
	if !ok || got != want {
		t.Fatalf("read %+v (%v), want %+v", got, ok, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("ready file mode %v, want 0600", fi.Mode().Perm())
	}
}
