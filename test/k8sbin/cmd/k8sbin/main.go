// Command k8sbin builds (or finds in the cache) the upstream Kubernetes
// binaries for one release and prints the directory that holds them:
//
//	go run ./test/k8sbin/cmd/k8sbin build --minor 1.36
//	go run ./test/k8sbin/cmd/k8sbin build --version 1.36.3
//	go run ./test/k8sbin/cmd/k8sbin build --supported
//
// Progress goes to stderr; stdout holds only the directory (one line per
// release with --supported), so scripts can write
// BIN=$(go run ./test/k8sbin/cmd/k8sbin build --minor 1.36).
// --supported fills the cache for every minor kforge supports, as
// `make conformance` will want them; CI runs it in the background while the
// other suites leave the CPU idle.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/test/k8sbin"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 || args[0] != "build" {
		fmt.Fprintln(os.Stderr, "usage: k8sbin build (--minor 1.36 | --version 1.36.3 | --supported) [--cache DIR] [--json]")
		return 2
	}
	fs := flag.NewFlagSet("k8sbin build", flag.ContinueOnError)
	minor := fs.String("minor", "", "Kubernetes minor release; the newest patch the module proxy serves is built")
	version := fs.String("version", "", "exact Kubernetes release (wins over --minor)")
	cache := fs.String("cache", "", "cache directory (default <user cache dir>/kforge/k8s)")
	supported := fs.Bool("supported", false, "every minor kforge supports, oldest first (config.SupportedKubernetesVersions)")
	asJSON := fs.Bool("json", false, "print the build's manifest instead of the directory")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var builds []k8sbin.Options
	switch {
	case *supported && (*minor != "" || *version != ""):
		fmt.Fprintln(os.Stderr, "k8sbin build: --supported builds every supported minor; drop --minor and --version")
		return 2
	case *supported:
		for _, r := range config.SupportedKubernetesVersions() {
			builds = append(builds, k8sbin.Options{Minor: r.Minor})
		}
	case *minor != "" || *version != "":
		builds = []k8sbin.Options{{Minor: *minor, Version: *version}}
	default:
		fmt.Fprintln(os.Stderr, "k8sbin build: set --minor (for example --minor 1.36), --version or --supported")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for _, opts := range builds {
		opts.CacheDir, opts.Log = *cache, os.Stderr
		r, err := k8sbin.Build(ctx, opts)
		if err != nil {
			fmt.Fprintln(os.Stderr, "k8sbin:", err)
			if errors.Is(err, context.Canceled) {
				return 130
			}
			return 1
		}
		if *asJSON {
			fmt.Printf("{\"version\":%q,\"etcdVersion\":%q,\"dir\":%q}\n", r.Version, r.EtcdVersion, r.Dir)
			continue
		}
		fmt.Println(r.Dir)
	}
	return 0
}
