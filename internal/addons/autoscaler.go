package addons

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// clusterAutoscaler runs Cluster Autoscaler on the control plane's host
// network (whose instance role may change only this cluster's tagged ASGs;
// see withInstanceRole), discovering
// the worker ASGs by the tags the workers module sets.
func clusterAutoscaler(c Config) ([]runtime.Object, error) {
	image, err := ClusterAutoscalerImage(c.KubernetesVersion)
	if err != nil {
		return nil, err
	}
	const name, ns = "cluster-autoscaler", "kube-system"
	labels := map[string]string{"app.kubernetes.io/name": name}
	spec := corev1.PodSpec{
		ServiceAccountName: name,
		PriorityClassName:  "system-cluster-critical",
		SecurityContext:    &corev1.PodSecurityContext{FSGroup: ptr(int64(65534))},
		Containers: []corev1.Container{{
			Name:  name,
			Image: image,
			Command: []string{
				"./cluster-autoscaler",
				"--cloud-provider=aws",
				"--namespace=" + ns,
				"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/" + c.ClusterName,
				"--balance-similar-node-groups=true",
				"--expander=least-waste",
				"--skip-nodes-with-system-pods=false",
				"--skip-nodes-with-local-storage=false",
				"--scale-down-enabled=true",
				"--scale-down-delay-after-add=10m",
				"--scale-down-unneeded-time=10m",
				"--scale-down-utilization-threshold=0.5",
				"--max-node-provision-time=15m",
				"--v=2",
			},
			Env:             []corev1.EnvVar{{Name: "AWS_REGION", Value: c.Region}},
			Resources:       resources("100m", "600Mi"),
			SecurityContext: restricted(65534),
			VolumeMounts:    []corev1.VolumeMount{{Name: "ssl-certs", MountPath: "/etc/ssl/certs/ca-certificates.crt", ReadOnly: true}},
			LivenessProbe:   httpProbe("/health-check", intstr.FromInt32(8085), corev1.URISchemeHTTP),
		}},
		// Amazon Linux 2023 keeps its CA bundle here.
		Volumes: []corev1.Volume{hostPath("ssl-certs", "/etc/ssl/certs/ca-bundle.crt", corev1.HostPathFile)},
	}
	withInstanceRole(&spec)
	// The rules cover what the flags above turn on, narrower than the
	// upstream chart's: turning on the priority expander, provisioning
	// requests or capacity buffers (all off by default) needs the chart's
	// rules for configmaps, podtemplates or their own kinds as well.
	return []runtime.Object{
		serviceAccount(name, ns, labels),
		clusterRole(name, labels,
			rule([]string{""}, []string{"events", "endpoints"}, []string{"create", "patch"}),
			rule([]string{""}, []string{"pods/eviction"}, []string{"create"}),
			rule([]string{""}, []string{"pods/status"}, []string{"update"}),
			named(rule([]string{""}, []string{"endpoints"}, []string{"get", "update"}), name),
			rule([]string{""}, []string{"nodes"}, []string{"watch", "list", "get", "update"}),
			rule([]string{""}, []string{"namespaces", "pods", "services", "replicationcontrollers", "persistentvolumeclaims", "persistentvolumes"}, readVerbs),
			rule([]string{"extensions"}, []string{"replicasets", "daemonsets"}, readVerbs),
			rule([]string{"policy"}, []string{"poddisruptionbudgets"}, readVerbs),
			rule([]string{"apps"}, []string{"statefulsets", "replicasets", "daemonsets"}, readVerbs),
			rule([]string{"storage.k8s.io"}, []string{"storageclasses", "csinodes", "csidrivers", "csistoragecapacities", "volumeattachments"}, readVerbs),
			rule([]string{"batch"}, []string{"jobs", "cronjobs"}, readVerbs),
			rule([]string{"coordination.k8s.io"}, []string{"leases"}, []string{"create"}),
			// Its own leader-election lease only: not the scheduler's or the
			// controller manager's.
			named(rule([]string{"coordination.k8s.io"}, []string{"leases"}, []string{"get", "update"}), name),
			rule([]string{"resource.k8s.io"}, []string{"resourceclaims", "resourceslices", "deviceclasses"}, readVerbs),
		),
		clusterRoleBinding(name, name, name, ns, labels),
		role(name, ns, labels,
			rule([]string{""}, []string{"configmaps"}, []string{"create", "list", "watch"}),
			// Its status ConfigMap only: not coredns, cilium-config or
			// kubeadm-config beside it in kube-system.
			named(rule([]string{""}, []string{"configmaps"}, []string{"delete", "get", "update"}), name+"-status"),
		),
		roleBinding(name, ns, "Role", name, name, ns, labels),
		replacedInPlace(deployment(name, ns, labels, 1, spec)),
	}, nil
}
