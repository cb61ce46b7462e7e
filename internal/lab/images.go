package lab

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kforge/kforge/test/k8sbin"
)

// imageFile is one file of an image's single layer.
type imageFile struct {
	src, path string // host file, path inside the image
}

// imageRecipe is how the lab builds one image kubeadm expects: the same
// binaries the nodes run, at the paths and with the entry points of the
// upstream images (kubeadm's manifests name the command; CoreDNS and pause
// rely on their entry point).
type imageRecipe struct {
	files      []imageFile
	entrypoint []string
}

const imagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// buildImages writes one image archive per reference kubeadm lists into
// dir, named after the image. kube-proxy is left out: kforge's kubeadm
// configuration disables the kube-proxy add-on, so kubeadm never pulls it.
func buildImages(ctx context.Context, log io.Writer, k8s *k8sbin.Result, refs []string, dir string) error {
	for _, ref := range refs {
		tag, err := name.NewTag(ref)
		if err != nil {
			return fmt.Errorf("image reference %q from kubeadm: %w", ref, err)
		}
		repo := tag.RepositoryStr()
		base := repo[strings.LastIndex(repo, "/")+1:]
		var r imageRecipe
		switch base {
		case "kube-proxy":
			continue
		case "kube-apiserver", "kube-controller-manager", "kube-scheduler":
			r = imageRecipe{files: []imageFile{{k8s.Path(base), "/usr/local/bin/" + base}}, entrypoint: []string{"/usr/local/bin/" + base}}
		case "etcd":
			// etcdctl (the backup's snapshot) and etcdutl (the restore) come
			// with etcd in the upstream image.
			tools, err := buildEtcdTools(ctx, log, tag.TagStr())
			if err != nil {
				return err
			}
			r = imageRecipe{files: []imageFile{
				{k8s.Path("etcd"), "/usr/local/bin/etcd"},
				{filepath.Join(tools, "etcdctl"), "/usr/local/bin/etcdctl"},
				{filepath.Join(tools, "etcdutl"), "/usr/local/bin/etcdutl"},
			}, entrypoint: []string{"/usr/local/bin/etcd"}}
		case "coredns":
			if err := checkCorefile(ctx, k8s.Version); err != nil {
				return err
			}
			dns, err := buildCoreDNS(ctx, log, tag.TagStr())
			if err != nil {
				return err
			}
			r = imageRecipe{files: []imageFile{{filepath.Join(dns, "coredns"), "/coredns"}}, entrypoint: []string{"/coredns"}}
		case "pause":
			pause, err := buildPause(ctx, k8s.Version, tag.TagStr())
			if err != nil {
				return err
			}
			r = imageRecipe{files: []imageFile{{pause, "/pause"}}, entrypoint: []string{"/pause"}}
		default:
			return fmt.Errorf("kubeadm %s expects image %s, which the lab does not know how to build", k8s.Version, ref)
		}
		fmt.Fprintf(log, "lab: building image %s\n", ref)
		if err := writeImage(tag, r, filepath.Join(dir, base+".tar")); err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
	}
	return nil
}

// writeImage builds a one-layer image and writes it as an image archive
// that `ctr images import` reads, tagged ref.
func writeImage(ref name.Tag, r imageRecipe, dst string) error {
	layerTar, err := os.CreateTemp("", "kforge-lab-layer-")
	if err != nil {
		return err
	}
	defer os.Remove(layerTar.Name())
	tw := tar.NewWriter(layerTar)
	dirs := map[string]bool{}
	for _, f := range r.files {
		var parents []string
		for d := filepath.Dir(f.path); d != "/" && !dirs[d]; d = filepath.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755}); err != nil {
				return err
			}
		}
		in, err := os.Open(f.src)
		if err != nil {
			return err
		}
		st, err := in.Stat()
		if err != nil {
			in.Close()
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(f.path, "/"), Mode: 0o755, Size: st.Size()}); err != nil {
			in.Close()
			return err
		}
		_, err = io.Copy(tw, in)
		in.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := layerTar.Close(); err != nil {
		return err
	}
	layer, err := tarball.LayerFromFile(layerTar.Name())
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config = v1.Config{Entrypoint: r.entrypoint, Env: []string{"PATH=" + imagePath}, WorkingDir: "/"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	return tarball.WriteToFile(dst, ref, img)
}

// buildPause compiles Kubernetes' own pause.c (from the k8s.io/kubernetes
// module of the same release) statically, as its build does.
func buildPause(ctx context.Context, version, tag string) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(cache, "bin", "pause-"+tag, "pause")
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	src, err := moduleDir(ctx, "k8s.io/kubernetes@v"+version)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	cc := exec.CommandContext(ctx, "cc", "-Os", "-Wall", "-static", "-DVERSION=v"+tag, "-o", dst+".tmp", filepath.Join(src, "build/pause/linux/pause.c"))
	if out, err := cc.CombinedOutput(); err != nil {
		return "", fmt.Errorf("compiling pause %s (a C compiler with a static libc, e.g. Debian's gcc and libc6-dev): %w: %s", tag, err, out)
	}
	return dst, os.Rename(dst+".tmp", dst)
}
