package addons

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	efsDriver = "efs.csi.aws.com"
	// efsCrossAccountSecret is the only Secret the EFS CSI controller reads.
	efsCrossAccountSecret = "x-account"
	efsSecretsRole        = "efs-csi-external-provisioner-role-describe-secrets"
	efsLeaseRole          = "efs-csi-external-provisioner-lease"
	// efsLeaderLease is csi-provisioner's leader election lease: efsDriver
	// with its dots made dashes.
	efsLeaderLease = "efs-csi-aws-com"
	// ClusterTagKey tags the AWS resources of one cluster; the EFS CSI
	// policy conditions access-point tagging and deletion on it.
	ClusterTagKey = "kforge.io/cluster"
)

// efsCSI is the AWS EFS CSI driver: the controller (dynamic provisioning
// through access points) on the control plane's host network, whose
// instance role holds the EFS permissions; the node plugin on every node;
// and the efs-sc class.
func efsCSI(c Config) []runtime.Object {
	const ns = "kube-system"
	ctrlLabels := map[string]string{"app.kubernetes.io/name": "efs-csi-controller"}
	nodeLabels := map[string]string{"app.kubernetes.io/name": "efs-csi-node"}
	sock := corev1.VolumeMount{Name: "socket-dir", MountPath: "/var/lib/csi/sockets/pluginproxy/"}

	ctrl := corev1.PodSpec{
		ServiceAccountName: "efs-csi-controller-sa",
		PriorityClassName:  "system-cluster-critical",
		Containers: []corev1.Container{
			{
				Name:  "efs-plugin",
				Image: EFSCSIImage,
				Args: []string{
					"--endpoint=unix:///var/lib/csi/sockets/pluginproxy/csi.sock",
					"--logtostderr", "--v=2",
					"--delete-access-point-root-dir=false",
					// Every access point it creates carries this cluster's tag;
					// the IAM policy lets it tag on creation and delete only
					// access points with that tag (terraform/modules/iam).
					"--tags=" + ClusterTagKey + ":" + c.ClusterName,
				},
				Env:          []corev1.EnvVar{{Name: "AWS_REGION", Value: c.Region}},
				Ports:        []corev1.ContainerPort{{Name: "healthz", ContainerPort: 9909, Protocol: corev1.ProtocolTCP}},
				VolumeMounts: []corev1.VolumeMount{sock},
				LivenessProbe: &corev1.Probe{
					ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("healthz")}},
					InitialDelaySeconds: 10, TimeoutSeconds: 3, PeriodSeconds: 10, FailureThreshold: 5,
				},
				Resources: resources("10m", "128Mi"),
				// A writable root, as upstream's: the driver creates
				// /etc/amazon/efs at start in every mode (InitConfigDir, fatal
				// on failure; the image ships without it) and starts the
				// efs-utils watchdog, which writes its config and logs.
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false)},
			},
			{
				Name:  "csi-provisioner",
				Image: CSIProvisionerImage,
				Args: []string{
					"--csi-address=$(ADDRESS)", "--v=2", "--feature-gates=Topology=true",
					"--extra-create-metadata", "--leader-election",
				},
				Env:             []corev1.EnvVar{{Name: "ADDRESS", Value: "/var/lib/csi/sockets/pluginproxy/csi.sock"}},
				VolumeMounts:    []corev1.VolumeMount{sock},
				Resources:       resources("10m", "64Mi"),
				SecurityContext: socketPeer(),
			},
			{
				Name:            "liveness-probe",
				Image:           CSILivenessProbe,
				Args:            []string{"--csi-address=/csi/csi.sock", "--health-port=9909"},
				VolumeMounts:    []corev1.VolumeMount{{Name: "socket-dir", MountPath: "/csi"}},
				Resources:       resources("10m", "32Mi"),
				SecurityContext: socketPeer(),
			},
		},
		Volumes: []corev1.Volume{emptyDir("socket-dir")},
	}
	withInstanceRole(&ctrl)

	bidir := corev1.MountPropagationBidirectional
	node := corev1.PodSpec{
		ServiceAccountName: "efs-csi-node-sa",
		PriorityClassName:  "system-node-critical",
		HostNetwork:        true,
		// The node's own resolver, as upstream: mount.efs resolves the file
		// system's name through the VPC's DNS, so mounts do not wait on
		// CoreDNS.
		DNSPolicy:    corev1.DNSClusterFirst,
		NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
		// The node plugin must run wherever a pod may mount a volume, so it
		// tolerates every taint a worker pool may carry, but never on the
		// control plane: it is privileged and on the host network, where the
		// control plane's role (and the CA key it can read) is one request
		// away, and nothing there mounts EFS.
		Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		Affinity:    offControlPlane(),
		Containers: []corev1.Container{
			{
				Name:  "efs-plugin",
				Image: EFSCSIImage,
				Args:  []string{"--endpoint=$(CSI_ENDPOINT)", "--logtostderr", "--v=2"},
				Env: []corev1.EnvVar{
					{Name: "CSI_ENDPOINT", Value: "unix:/csi/csi.sock"},
					{Name: "CSI_NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				},
				SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)},
				Ports:           []corev1.ContainerPort{{Name: "healthz", ContainerPort: 9809, Protocol: corev1.ProtocolTCP}},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "kubelet-dir", MountPath: "/var/lib/kubelet", MountPropagation: &bidir},
					{Name: "plugin-dir", MountPath: "/csi"},
					{Name: "efs-state-dir", MountPath: "/var/run/efs"},
					{Name: "efs-utils-config", MountPath: "/var/amazon/efs"},
					{Name: "efs-utils-config-legacy", MountPath: "/etc/amazon/efs-legacy"},
				},
				LivenessProbe: &corev1.Probe{
					ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("healthz")}},
					InitialDelaySeconds: 10, TimeoutSeconds: 3, PeriodSeconds: 2, FailureThreshold: 5,
				},
				// No memory limit, as upstream: every mount runs an efs-proxy
				// in this container (tens of MiB each), and an OOM kill stops
				// all of the node's proxies at once, hanging every pod there
				// that uses EFS, since its mounts are hard.
				Resources: requestsOnly("10m", "128Mi"),
			},
			{
				Name:  "csi-driver-registrar",
				Image: CSIRegistrarImage,
				Args:  []string{"--csi-address=$(ADDRESS)", "--kubelet-registration-path=$(DRIVER_REG_SOCK_PATH)", "--v=2"},
				Env: []corev1.EnvVar{
					{Name: "ADDRESS", Value: "/csi/csi.sock"},
					{Name: "DRIVER_REG_SOCK_PATH", Value: "/var/lib/kubelet/plugins/efs.csi.aws.com/csi.sock"},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "plugin-dir", MountPath: "/csi"},
					{Name: "registration-dir", MountPath: "/registration"},
				},
				Resources:       resources("10m", "32Mi"),
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true)},
			},
			{
				Name:            "liveness-probe",
				Image:           CSILivenessProbe,
				Args:            []string{"--csi-address=/csi/csi.sock", "--health-port=9809", "--v=2"},
				VolumeMounts:    []corev1.VolumeMount{{Name: "plugin-dir", MountPath: "/csi"}},
				Resources:       resources("10m", "32Mi"),
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true)},
			},
		},
		Volumes: []corev1.Volume{
			hostPath("kubelet-dir", "/var/lib/kubelet", corev1.HostPathDirectory),
			hostPath("plugin-dir", "/var/lib/kubelet/plugins/efs.csi.aws.com/", corev1.HostPathDirectoryOrCreate),
			hostPath("registration-dir", "/var/lib/kubelet/plugins_registry/", corev1.HostPathDirectory),
			hostPath("efs-state-dir", "/var/run/efs", corev1.HostPathDirectoryOrCreate),
			hostPath("efs-utils-config", "/var/amazon/efs", corev1.HostPathDirectoryOrCreate),
			hostPath("efs-utils-config-legacy", "/etc/amazon/efs", corev1.HostPathDirectoryOrCreate),
		},
	}

	return []runtime.Object{
		serviceAccount("efs-csi-controller-sa", ns, ctrlLabels),
		serviceAccount("efs-csi-node-sa", ns, nodeLabels),
		clusterRole("efs-csi-external-provisioner-role", ctrlLabels,
			rule([]string{""}, []string{"persistentvolumes"}, []string{"get", "list", "watch", "create", "patch", "delete"}),
			rule([]string{""}, []string{"persistentvolumeclaims"}, []string{"get", "list", "watch", "update"}),
			rule([]string{"storage.k8s.io"}, []string{"storageclasses"}, readVerbs),
			rule([]string{""}, []string{"events"}, []string{"list", "watch", "create", "update", "patch"}),
			rule([]string{"storage.k8s.io"}, []string{"csinodes"}, readVerbs),
			rule([]string{""}, []string{"nodes"}, readVerbs),
		),
		clusterRoleBinding("efs-csi-provisioner-binding", "efs-csi-external-provisioner-role", "efs-csi-controller-sa", ns, ctrlLabels),
		// The driver reads one Secret: x-account in its own namespace, the
		// optional cross-account mount settings. Upstream grants exactly
		// that through a Role; a cluster-wide grant would hand every Secret
		// to whoever subverts the controller.
		role(efsSecretsRole, ns, ctrlLabels, rbacv1.PolicyRule{
			APIGroups: []string{""}, Resources: []string{"secrets"},
			ResourceNames: []string{efsCrossAccountSecret}, Verbs: readVerbs,
		}),
		roleBinding(efsSecretsRole, ns, "Role", efsSecretsRole, "efs-csi-controller-sa", ns, ctrlLabels),
		// csi-provisioner's leader lease and no other: a cluster-wide grant
		// would let it take over the scheduler's and the controller
		// manager's leases beside it, or renew a dead node's heartbeat.
		// The lease is named after the driver, with every character but
		// [a-zA-Z0-9-] made '-' (csi-lib-utils' leaderelection).
		role(efsLeaseRole, ns, ctrlLabels,
			rule([]string{"coordination.k8s.io"}, []string{"leases"}, []string{"create"}),
			named(rule([]string{"coordination.k8s.io"}, []string{"leases"}, []string{"get", "update"}), efsLeaderLease),
		),
		roleBinding(efsLeaseRole, ns, "Role", efsLeaseRole, "efs-csi-controller-sa", ns, ctrlLabels),
		// The node plugin reads its own Node at start (for the startup taint,
		// which no pool may carry: config.EFSNotReadyTaint) and nothing else.
		clusterRole("efs-csi-node-role", nodeLabels,
			rule([]string{""}, []string{"nodes"}, []string{"get"}),
		),
		clusterRoleBinding("efs-csi-node-binding", "efs-csi-node-role", "efs-csi-node-sa", ns, nodeLabels),
		&storagev1.CSIDriver{
			TypeMeta:   typeMeta("storage.k8s.io/v1", "CSIDriver"),
			ObjectMeta: meta(efsDriver, "", nil),
			Spec:       storagev1.CSIDriverSpec{AttachRequired: ptr(false)},
		},
		replacedInPlace(deployment("efs-csi-controller", ns, ctrlLabels, 1, ctrl)),
		daemonSet("efs-csi-node", ns, nodeLabels, node),
		&storagev1.StorageClass{
			TypeMeta: typeMeta("storage.k8s.io/v1", "StorageClass"),
			ObjectMeta: metaWithAnnotations("efs-sc", "", nil, map[string]string{
				// The cluster's only dynamic class, so it is the default.
				"storageclass.kubernetes.io/is-default-class": "true",
			}),
			Provisioner: efsDriver,
			Parameters: map[string]string{
				"provisioningMode": "efs-ap",
				"fileSystemId":     c.EFSID,
				"directoryPerms":   "700",
				"basePath":         "/dynamic",
			},
			ReclaimPolicy:     ptr(corev1.PersistentVolumeReclaimDelete),
			VolumeBindingMode: ptr(storagev1.VolumeBindingImmediate),
		},
	}
}
