package addons

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// APIService mirrors the fields kforge sets of
// apiregistration.k8s.io/v1 APIService (kube-aggregator's type, whose
// module is not a dependency).
type APIService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              APIServiceSpec `json:"spec"`
}

// APIServiceSpec mirrors apiregistration.k8s.io/v1 APIServiceSpec.
type APIServiceSpec struct {
	Service               *ServiceReference `json:"service"`
	Group                 string            `json:"group"`
	Version               string            `json:"version"`
	InsecureSkipTLSVerify bool              `json:"insecureSkipTLSVerify,omitempty"`
	GroupPriorityMinimum  int32             `json:"groupPriorityMinimum"`
	VersionPriority       int32             `json:"versionPriority"`
}

// ServiceReference mirrors apiregistration.k8s.io/v1 ServiceReference.
type ServiceReference struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// GetObjectKind and DeepCopyObject make APIService a runtime.Object.
func (a *APIService) GetObjectKind() schema.ObjectKind { return &a.TypeMeta }

// DeepCopyObject returns a copy.
func (a *APIService) DeepCopyObject() runtime.Object {
	c := *a
	c.ObjectMeta = *a.ObjectMeta.DeepCopy()
	if a.Spec.Service != nil {
		s := *a.Spec.Service
		c.Spec.Service = &s
	}
	return &c
}

// metricsServer follows the upstream components.yaml. The kubelets serve
// certificates signed by the cluster CA (serverTLSBootstrap, approved by
// the control plane for known instances), which metrics-server verifies
// with the CA of its service account: no --kubelet-insecure-tls.
func metricsServer() []runtime.Object {
	const name, ns = "metrics-server", "kube-system"
	labels := map[string]string{"k8s-app": name}
	spec := corev1.PodSpec{
		ServiceAccountName: name,
		PriorityClassName:  "system-cluster-critical",
		NodeSelector:       map[string]string{"kubernetes.io/os": "linux"},
		Containers: []corev1.Container{{
			Name:  name,
			Image: MetricsServerImage,
			Args: []string{
				"--cert-dir=/tmp",
				"--secure-port=10250",
				"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
				"--kubelet-use-node-status-port",
				"--metric-resolution=15s",
			},
			Ports:           []corev1.ContainerPort{{Name: "https", ContainerPort: 10250, Protocol: corev1.ProtocolTCP}},
			ReadinessProbe:  httpProbe("/readyz", intstr.FromString("https"), corev1.URISchemeHTTPS),
			LivenessProbe:   httpProbe("/livez", intstr.FromString("https"), corev1.URISchemeHTTPS),
			Resources:       resources("100m", "200Mi"),
			SecurityContext: restricted(1000),
			VolumeMounts:    []corev1.VolumeMount{{Name: "tmp-dir", MountPath: "/tmp"}},
		}},
		Volumes: []corev1.Volume{emptyDir("tmp-dir")},
	}
	return []runtime.Object{
		serviceAccount(name, ns, labels),
		clusterRole("system:aggregated-metrics-reader", map[string]string{
			"k8s-app": name,
			"rbac.authorization.k8s.io/aggregate-to-admin": "true",
			"rbac.authorization.k8s.io/aggregate-to-edit":  "true",
			"rbac.authorization.k8s.io/aggregate-to-view":  "true",
		}, rule([]string{"metrics.k8s.io"}, []string{"pods", "nodes"}, readVerbs)),
		clusterRole("system:metrics-server", labels,
			rule([]string{""}, []string{"nodes/metrics"}, []string{"get"}),
			rule([]string{""}, []string{"pods", "nodes"}, readVerbs),
		),
		roleBinding("metrics-server-auth-reader", ns, "Role", "extension-apiserver-authentication-reader", name, ns, labels),
		clusterRoleBinding("metrics-server:system:auth-delegator", "system:auth-delegator", name, ns, labels),
		clusterRoleBinding("system:metrics-server", "system:metrics-server", name, ns, labels),
		&corev1.Service{
			TypeMeta:   typeMeta("v1", "Service"),
			ObjectMeta: meta(name, ns, labels),
			Spec: corev1.ServiceSpec{
				Selector: labels,
				Ports:    []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("https")}},
			},
		},
		deployment(name, ns, labels, 1, spec),
		&APIService{
			TypeMeta:   typeMeta("apiregistration.k8s.io/v1", "APIService"),
			ObjectMeta: meta("v1beta1.metrics.k8s.io", "", labels),
			Spec: APIServiceSpec{
				Service: &ServiceReference{Namespace: ns, Name: name},
				Group:   "metrics.k8s.io", Version: "v1beta1",
				InsecureSkipTLSVerify: true,
				GroupPriorityMinimum:  100,
				VersionPriority:       100,
			},
		},
	}
}
