package cluster

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The shape kubeadm writes to admin.conf.
const adminConf = `apiVersion: v1
kind: Config
clusters:
- name: kforge-prod
  cluster:
    server: https://api.prod.example.com:6443
    certificate-authority-data: Q0E=
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
contexts:
- name: kubernetes-admin@kforge-prod
  context:
    cluster: kforge-prod
    user: kubernetes-admin
current-context: kubernetes-admin@kforge-prod
`

// A private control plane is reached through an SSM port forward: the
// server is the local end, TLS is still verified against api.<domain>.
func TestPointAtTunnel(t *testing.T) {
	var kc Kubeconfig
	if err := yaml.Unmarshal([]byte(adminConf), &kc); err != nil {
		t.Fatal(err)
	}
	if err := pointAtTunnel(&kc, "api.prod.example.com", 16443); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(kc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server: https://127.0.0.1:16443", "tls-server-name: api.prod.example.com", "certificate-authority-data: Q0E="} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubeconfig lacks %q:\n%s", want, out)
		}
	}
	if err := pointAtTunnel(&kc, "api.prod.example.com", 70000); err == nil {
		t.Error("port 70000 accepted")
	}
}
