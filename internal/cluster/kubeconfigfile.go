package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// KubeconfigOptions choose the server of the admin kubeconfig and where it
// is written (empty: admin.conf in the environment's work directory).
type KubeconfigOptions struct {
	Server KubeconfigServer
	File   string
}

// KubeconfigResult says where the kubeconfig was written.
type KubeconfigResult struct {
	File string `json:"kubeconfig"`
}

// RunKubeconfig fetches the admin kubeconfig (see FetchKubeconfig) and
// writes it with mode 0600: it holds the cluster's admin credential.
func RunKubeconfig(ctx context.Context, e *Env, opts KubeconfigOptions) (*KubeconfigResult, error) {
	kc, err := e.FetchKubeconfig(ctx, opts.Server)
	if err != nil {
		return nil, err
	}
	file := opts.File
	if file == "" {
		file = filepath.Join(e.Dir, "admin.conf")
	}
	if err := writeKubeconfig(kc, file); err != nil {
		return nil, err
	}
	return &KubeconfigResult{File: file}, nil
}

// writeKubeconfig writes kc to file, its directory created 0700 if
// missing. The admin key is never readable by others, not even for a
// moment: it goes to a new 0600 file in that directory, which then
// replaces file (a link at file is replaced, not written through).
func writeKubeconfig(kc *Kubeconfig, file string) error {
	data, err := yaml.Marshal(kc)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig: %w", err)
	}
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; removes a failed write
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return nil
}
