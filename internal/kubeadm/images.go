package kubeadm

import (
	"fmt"
	"sort"
	"strings"
)

// ImagesListArgs are the arguments of `kubeadm config images list` for a
// Kubernetes release ("1.36.6"): kubeadm itself names the images it pulls
// for that release, so nothing in kforge keeps its own list of tags.
func ImagesListArgs(version string) []string {
	return []string{"config", "images", "list", "--kubernetes-version", "v" + version}
}

// ParseImages reads the output of `kubeadm config images list`: one image
// reference a line, returned sorted.
func ParseImages(out string) []string {
	var refs []string
	for l := range strings.Lines(out) {
		if l = strings.TrimSpace(l); l != "" {
			refs = append(refs, l)
		}
	}
	sort.Strings(refs)
	return refs
}

// Image returns the reference among refs of the image called name ("pause",
// "etcd"): the last element of its repository, whatever the registry.
func Image(refs []string, name string) (string, error) {
	for _, ref := range refs {
		if imageName(ref) == name {
			return ref, nil
		}
	}
	return "", fmt.Errorf("kubeadm config images list names no %s image (it names %s)", name, strings.Join(refs, ", "))
}

// imageName is "pause" for "registry.k8s.io/pause:3.10.1".
func imageName(ref string) string {
	repo, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo[strings.LastIndex(repo, "/")+1:]
}
