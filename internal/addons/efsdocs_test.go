package addons

import (
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// TestOperationsDescribesEFSVolumesAsRendered keeps docs/OPERATIONS.md's
// account of an efs-sc volume (where its directory is, what deleting its
// claim leaves) in step with the class and the driver's flags: the
// restore runbook starts from that directory.
func TestOperationsDescribesEFSVolumesAsRendered(t *testing.T) {
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeStrict(t, manifests)
	sc := objs["StorageClass/efs-sc"].(*storagev1.StorageClass)
	doc, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(doc)), " ")

	dir := "`" + strings.TrimSuffix(sc.Parameters["basePath"], "/") + "/<PersistentVolume name>`"
	if !strings.Contains(text, "root directory is "+dir) {
		t.Errorf("docs/OPERATIONS.md's restore runbook does not name a volume's directory as %s (the class's basePath, then the volume's name)", dir)
	}

	args := objs["Deployment/efs-csi-controller"].(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Args
	keepsData := slices.Contains(args, "--delete-access-point-root-dir=false")
	saysKept := strings.Contains(text, "deletes its access point, not its data")
	if keepsData != saysKept {
		t.Errorf("the EFS controller keeps a deleted volume's directory: %t; docs/OPERATIONS.md says it does: %t", keepsData, saysKept)
	}
}
