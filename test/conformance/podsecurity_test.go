package conformance

import (
	"strings"
	"testing"
)

// privilegedPod is what anyone allowed to create a pod could use to own a
// node: privileged, the host's network and root file system, and a
// toleration for the control plane's taint.
const privilegedPod = `apiVersion: v1
kind: Pod
metadata:
  name: host-root
  namespace: %s
spec:
  hostNetwork: true
  tolerations:
  - key: node-role.kubernetes.io/control-plane
    effect: NoSchedule
  containers:
  - name: shell
    image: registry.k8s.io/pause:3.10.1
    securityContext:
      privileged: true
    volumeMounts:
    - name: root
      mountPath: /host
  volumes:
  - name: root
    hostPath:
      path: /
`

// 14. The API server, started with kforge's admission configuration,
// enforces Pod Security's baseline level in a namespace without a label
// and leaves kube-system, where the CNI and the EFS node plugin run, to
// its privileged pods.
func checkPodSecurityDefault(t *testing.T, e *env, _ artifacts) {
	pod := func(ns string) string {
		return e.write("host-root-"+ns+".yaml", []byte(strings.ReplaceAll(privilegedPod, "%s", ns)))
	}
	_, err := e.kubectl("apply", "--dry-run=server", "-f", pod("default"))
	if err == nil || !strings.Contains(err.Error(), `violates PodSecurity "baseline:latest"`) {
		t.Errorf("a privileged host-network pod with the host's root in namespace default: %v; want it refused by Pod Security baseline", err)
	}
	if _, err := e.kubectl("apply", "--dry-run=server", "-f", pod("kube-system")); err != nil {
		t.Errorf("the same pod in kube-system (exempt): %v; want it admitted", err)
	}
}
