package kubeapi

import (
	"context"
	"net"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestStartsAgainWhenAPortIsTaken: the first probe hands out etcd's client
// port while another listener holds it. etcd exits on the bind, and the
// start must be made again on other ports rather than leave the API server
// on an etcd that is not its own.
func TestStartsAgainWhenAPortIsTaken(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	calls := 0
	probePorts = func(t testing.TB, n int) []int {
		calls++
		ports := freePorts(t, n)
		if calls == 1 {
			ports[0] = held.Addr().(*net.TCPAddr).Port
		}
		return ports
	}
	defer func() { probePorts = freePorts }()

	kube := Start(t)
	if calls != 2 {
		t.Fatalf("ports were probed %d times, want 2 (one start again after the taken port)", calls)
	}
	if _, err := kube.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("the API server of the second start: %v", err)
	}
}
