package digest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	// FIPS 180-2's example digest of "abc".
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	got, err := File(path)
	if err != nil || got != want {
		t.Fatalf("File = %q, %v; want %q", got, err, want)
	}
	if _, err := File(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(err) {
		t.Fatalf("File(missing) error = %v, want not-exist", err)
	}
}
