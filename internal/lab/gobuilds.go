package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// The package source's Go builds. Each is cached on its own under
// CacheDir()/bin, so a build that is already there costs nothing.

// goBuildParallelism is how many Go builds run at once. go build already
// compiles on every core; two at a time overlap one build's module
// downloads and single-threaded link with the other's compiles.
const goBuildParallelism = 2

func buildContainerd(ctx context.Context, log io.Writer) (string, error) {
	// containerd and its runc shim; runc itself is Debian's (in the base).
	return goTools(ctx, log, "containerd-"+ContainerdVersion, []string{"github.com/containerd/containerd/v2@" + ContainerdVersion},
		[]string{"github.com/containerd/containerd/v2/cmd/containerd", "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2", "github.com/containerd/containerd/v2/cmd/ctr"},
		"no_btrfs,no_devmapper,no_zfs")
}

func buildCNIPlugins(ctx context.Context, log io.Writer) (string, error) {
	return goTools(ctx, log, "cni-plugins-"+CNIPluginsVersion, []string{"github.com/containernetworking/plugins@" + CNIPluginsVersion},
		[]string{"github.com/containernetworking/plugins/plugins/main/bridge", "github.com/containernetworking/plugins/plugins/ipam/host-local",
			"github.com/containernetworking/plugins/plugins/main/loopback", "github.com/containernetworking/plugins/plugins/meta/portmap"}, "")
}

// buildEtcdTools builds etcdctl (the backup's snapshot) and etcdutl (the
// restore) of the release of etcd's image tag ("3.6.8-0"). They are modules
// of their own (go.etcd.io/etcd/etcdctl/v3, etcdutl/v3), which the
// Kubernetes module graph test/k8sbin builds etcd from does not contain;
// the dependencies they share with etcd come from the shared build cache.
func buildEtcdTools(ctx context.Context, log io.Writer, imageTag string) (string, error) {
	v := "v" + strings.SplitN(imageTag, "-", 2)[0]
	return goTools(ctx, log, "etcd-tools-"+v,
		[]string{"go.etcd.io/etcd/etcdctl/v3@" + v, "go.etcd.io/etcd/etcdutl/v3@" + v},
		[]string{"go.etcd.io/etcd/etcdctl/v3", "go.etcd.io/etcd/etcdutl/v3"}, "")
}

// goBuilds lists the package source's Go builds for the images kubeadm
// expects (refs), largest first so the small ones fill in behind them.
func goBuilds(refs []string) ([]func(context.Context, io.Writer) error, error) {
	builds := []func(context.Context, io.Writer) error{
		func(ctx context.Context, log io.Writer) error { _, err := buildContainerd(ctx, log); return err },
	}
	for _, ref := range refs {
		tag, err := name.NewTag(ref)
		if err != nil {
			return nil, fmt.Errorf("image reference %q from kubeadm: %w", ref, err)
		}
		repo, t := tag.RepositoryStr(), tag.TagStr()
		switch repo[strings.LastIndex(repo, "/")+1:] {
		case "etcd":
			builds = append(builds, func(ctx context.Context, log io.Writer) error { _, err := buildEtcdTools(ctx, log, t); return err })
		case "coredns":
			builds = append(builds, func(ctx context.Context, log io.Writer) error { _, err := buildCoreDNS(ctx, log, t); return err })
		}
	}
	builds = append(builds, func(ctx context.Context, log io.Writer) error { _, err := buildCNIPlugins(ctx, log); return err })
	return builds, nil
}

// runParallel runs fns at most n at a time; the first failure cancels the
// rest, and every failure is returned.
func runParallel(ctx context.Context, n int, fns []func(context.Context, io.Writer) error, log io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	sem := make(chan struct{}, n)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	lw := &lockedWriter{w: log}
	for _, fn := range fns {
		// Taken here, not in the goroutine, so builds start in list order.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, lw); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil && len(errs) == 0 {
		return err
	}
	fmt.Fprintf(log, "lab: Go builds done in %s (%d at a time)\n", time.Since(start).Round(time.Second), n)
	return nil
}

// lockedWriter serialises the parallel builds' log lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
