package addons

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// WorkerTokenGroup is the group of the bootstrap tokens the control plane
// publishes for workers (`kubeadm token create --groups`). kubeadm binds
// its automatic approval of bootstrap client CSRs
// (kubeadm:node-autoapprove-bootstrap), which every `kubeadm init` and
// `kubeadm upgrade apply` makes again, to its own group only
// (system:bootstrappers:kubeadm:default-node-token): the controller manager
// never approves a request made with a token of this group, whatever
// kubeadm made. Only the control plane's approver does, with the
// instance's proof of identity.
const WorkerTokenGroup = "system:bootstrappers:kforge:workers"

// WorkerJoinRBAC gives WorkerTokenGroup what `kubeadm join` and the
// worker's agent need of the token, no more: the roles kubeadm binds to
// its own group, except the automatic approval. They are kubeadm's own
// roles (kubeadm init and upgrade apply keep them up to date).
func WorkerJoinRBAC() []runtime.Object {
	labels := map[string]string{"app.kubernetes.io/managed-by": "kforge"}
	bind := func(name, namespace, kind, role string) runtime.Object {
		subjects := []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: WorkerTokenGroup}}
		ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role}
		if namespace == "" {
			return &rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
				ObjectMeta: meta(name, "", labels), RoleRef: ref, Subjects: subjects}
		}
		return &rbacv1.RoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"),
			ObjectMeta: meta(name, namespace, labels), RoleRef: ref, Subjects: subjects}
	}
	return []runtime.Object{
		// Post the kubelet's client CSR and read it back.
		bind("kforge:worker-bootstrap", "", "ClusterRole", "system:node-bootstrapper"),
		// kubeadm join refuses a name that a Ready Node already has.
		bind("kforge:worker-get-nodes", "", "ClusterRole", "kubeadm:get-nodes"),
		// The cluster's kubeadm and kubelet configuration.
		bind("kforge:worker-kubeadm-config", "kube-system", "Role", "kubeadm:nodes-kubeadm-config"),
		bind("kforge:worker-kubelet-config", "kube-system", "Role", "kubeadm:kubelet-config"),
	}
}

// RenderWorkerJoinRBAC returns WorkerJoinRBAC as one YAML stream.
func RenderWorkerJoinRBAC() ([]byte, error) {
	return RenderObjects(WorkerJoinRBAC())
}
