package addons

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// The workers' token group gets kubeadm's join roles and nothing that
// approves a certificate request.
func TestWorkerJoinRBAC(t *testing.T) {
	got, err := RenderWorkerJoinRBAC()
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "worker-join-rbac.yaml", got)
	for _, obj := range WorkerJoinRBAC() {
		var ref rbacv1.RoleRef
		var subjects []rbacv1.Subject
		switch o := obj.(type) {
		case *rbacv1.ClusterRoleBinding:
			ref, subjects = o.RoleRef, o.Subjects
		case *rbacv1.RoleBinding:
			ref, subjects = o.RoleRef, o.Subjects
		default:
			t.Fatalf("%T is not a binding", obj)
		}
		if ref.Name == "system:certificates.k8s.io:certificatesigningrequests:nodeclient" || ref.Name == "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient" {
			t.Errorf("the workers' token group is bound to %s", ref.Name)
		}
		if len(subjects) != 1 || subjects[0].Kind != rbacv1.GroupKind || subjects[0].Name != WorkerTokenGroup {
			t.Errorf("%s: subjects %+v, want the group %s alone", ref.Name, subjects, WorkerTokenGroup)
		}
	}
}
