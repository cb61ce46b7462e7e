package addons

import (
	"path"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// effectiveUID is the user a container runs as; unset means the image's
// own user, which for the EFS driver and the sig-storage sidecars (no USER
// in their images) is root.
func effectiveUID(pod corev1.PodSpec, c corev1.Container) int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return *c.SecurityContext.RunAsUser
	}
	if pod.SecurityContext != nil && pod.SecurityContext.RunAsUser != nil {
		return *pod.SecurityContext.RunAsUser
	}
	return 0
}

// socketVolume is the volume a container reaches a CSI socket through, and
// whether it does: the mount whose path holds the socket address found in
// its arguments or environment.
func socketVolume(c corev1.Container) (string, bool) {
	var addrs []string
	for _, a := range c.Args {
		if _, v, ok := strings.Cut(a, "="); ok && strings.HasSuffix(v, ".sock") {
			addrs = append(addrs, v)
		}
	}
	for _, e := range c.Env {
		if strings.HasSuffix(e.Value, ".sock") {
			addrs = append(addrs, e.Value)
		}
	}
	for _, addr := range addrs {
		addr = strings.TrimPrefix(strings.TrimPrefix(addr, "unix://"), "unix:")
		for _, m := range c.VolumeMounts {
			if path.Dir(addr) == path.Clean(m.MountPath) {
				return m.Name, true
			}
		}
	}
	return "", false
}

// The EFS driver creates its socket root-owned 0755, and connecting needs
// write permission: every sidecar on that socket runs as the driver's user.
// As rendered before, the controller's provisioner and liveness probe ran
// as 65534 and stayed at "Still connecting".
func TestCSISidecarsRunAsTheirDriversUser(t *testing.T) {
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for key, spec := range podSpecs(decodeStrict(t, manifests)) {
		var driver *corev1.Container
		for i := range spec.Containers {
			if spec.Containers[i].Image == EFSCSIImage {
				driver = &spec.Containers[i]
			}
		}
		if driver == nil {
			continue
		}
		vol, ok := socketVolume(*driver)
		if !ok {
			t.Fatalf("%s: no socket volume found for the driver", key)
		}
		for _, c := range spec.Containers {
			if v, ok := socketVolume(c); !ok || v != vol || c.Name == driver.Name {
				continue
			}
			checked++
			if got, want := effectiveUID(spec, c), effectiveUID(spec, *driver); got != want {
				t.Errorf("%s: %s runs as %d, its driver as %d: it cannot connect to the driver's socket", key, c.Name, got, want)
			}
		}
	}
	if checked < 4 {
		t.Errorf("checked %d sidecars, want the provisioner, registrar and both liveness probes", checked)
	}
}

// The driver creates /etc/amazon/efs at start in every mode, fatally on
// failure, and its image ships without it: its root must be writable, or
// that path a mount.
func TestEFSDriverCanCreateItsConfigDir(t *testing.T) {
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	for key, spec := range podSpecs(decodeStrict(t, manifests)) {
		for _, c := range spec.Containers {
			if c.Image != EFSCSIImage {
				continue
			}
			readOnly := c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem
			mounted := false
			for _, m := range c.VolumeMounts {
				mounted = mounted || path.Clean(m.MountPath) == "/etc/amazon/efs"
			}
			if readOnly && !mounted {
				t.Errorf("%s: %s has a read-only root and no mount at /etc/amazon/efs: the driver exits at start", key, c.Name)
			}
		}
	}
}

// Cluster Autoscaler rewrites and deletes only its own lease, endpoints and
// status ConfigMap: unnamed, it could take over the scheduler's and the
// controller manager's leader leases or rewrite coredns and kubeadm-config.
func TestAutoscalerWritesOnlyItsOwnObjects(t *testing.T) {
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for key, obj := range decodeStrict(t, manifests) {
		var rules []rbacv1.PolicyRule
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			if o.Name == "cluster-autoscaler" {
				rules = o.Rules
			}
		case *rbacv1.Role:
			if o.Name == "cluster-autoscaler" {
				rules = o.Rules
			}
		}
		for _, r := range rules {
			if !slices.Contains(r.Verbs, "update") && !slices.Contains(r.Verbs, "delete") {
				continue
			}
			for _, res := range r.Resources {
				if res == "leases" || res == "endpoints" || res == "configmaps" {
					checked++
					if len(r.ResourceNames) == 0 {
						t.Errorf("%s: %v on %s without resourceNames", key, r.Verbs, res)
					}
				}
			}
		}
	}
	if checked != 3 {
		t.Errorf("checked %d rules, want the lease, endpoints and ConfigMap ones", checked)
	}
}

// No add-on may write a Lease it does not own: the scheduler's and the
// controller manager's leader leases and every node's heartbeat are
// Leases too. Writes to leases name theirs (create cannot be named).
func TestNoAddonWritesAnotherLease(t *testing.T) {
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for key, obj := range decodeStrict(t, manifests) {
		var rules []rbacv1.PolicyRule
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			rules = o.Rules
		case *rbacv1.Role:
			rules = o.Rules
		}
		for _, r := range rules {
			if !slices.Contains(r.Resources, "leases") && !slices.Contains(r.Resources, "*") {
				continue
			}
			for _, verb := range []string{"update", "patch", "delete", "deletecollection", "*"} {
				if slices.Contains(r.Verbs, verb) && len(r.ResourceNames) == 0 {
					t.Errorf("%s: %s on leases without resourceNames", key, verb)
				}
			}
			if len(r.ResourceNames) > 0 {
				named++
			}
		}
	}
	if named != 2 {
		t.Errorf("%d named lease rules, want Cluster Autoscaler's and the EFS provisioner's", named)
	}
}
