package config

import (
	"io/fs"
	"path/filepath"
)

// memFS serves files from memory, keyed by their cleaned path.
func memFS(files map[string]string) func(string) ([]byte, error) {
	return func(path string) ([]byte, error) {
		data, ok := files[filepath.Clean(path)]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(data), nil
	}
}
