package kubeadm

import (
	"maps"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const gib = int64(1) << 30

// The reservation follows GKE's curves: memory 25% of the first 4 GiB, 20%
// of the next 4, 10% of the next 8, 6% of the next 112, 2% above 128 GiB;
// CPU 6% of the first core, 1% of the second, 0.5% of the third and
// fourth, 0.25% above. Each want below is worked out by hand.
func TestReserve(t *testing.T) {
	cases := []struct {
		name      string
		cpus      int
		memory    int64
		cpu, mem  string
		cpuMillis int64
	}{
		// t3.small, t4g.small: 25% of 2 GiB.
		{"2 vCPU 2 GiB", 2, 2 * gib, "70m", "512Mi", 70},
		// t3.medium: 25% of 4 GiB.
		{"2 vCPU 4 GiB", 2, 4 * gib, "70m", "1024Mi", 70},
		// m7i.large: 1024 + 20% of 4 GiB (819.2) = 1843.2, rounded up.
		{"2 vCPU 8 GiB", 2, 8 * gib, "70m", "1844Mi", 70},
		// m7i.xlarge: 60+10+2×5 = 80m; 1843.2 + 10% of 8 GiB (819.2) = 2662.4.
		{"4 vCPU 16 GiB", 4, 16 * gib, "80m", "2663Mi", 80},
		// 5 cores: the fifth's 2.5m rounded down, as EKS's nodeadm does.
		{"5 vCPU 16 GiB", 5, 16 * gib, "82m", "2663Mi", 82},
		// m7i.2xlarge: 80 + 4×2.5 = 90m; 2662.4 + 6% of 16 GiB (983.04) = 3645.44.
		{"8 vCPU 32 GiB", 8, 32 * gib, "90m", "3646Mi", 90},
		// 2662.4 + 6% of 112 GiB (6881.28) = 9543.68.
		{"16 vCPU 128 GiB", 16, 128 * gib, "110m", "9544Mi", 110},
		// m7i.16xlarge: 80 + 60×2.5 = 230m; 9543.68 + 2% of 128 GiB (2621.44) = 12165.12.
		{"64 vCPU 256 GiB", 64, 256 * gib, "230m", "12166Mi", 230},
		// One vCPU, 1 GiB (t3.micro): 60m and 256Mi.
		{"1 vCPU 1 GiB", 1, gib, "60m", "256Mi", 60},
		// MemTotal is below the instance's nominal memory (the kernel keeps
		// its share): 25% of 1948532 KiB = 475.7 MiB, rounded up.
		{"2 GiB instance's MemTotal", 2, 1948532 << 10, "70m", "476Mi", 70},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Reserve(tc.cpus, tc.memory)
			if r.CPUMillicores != tc.cpuMillis {
				t.Errorf("CPU millicores = %d, want %d", r.CPUMillicores, tc.cpuMillis)
			}
			want := map[string]string{"cpu": tc.cpu, "memory": tc.mem, "ephemeral-storage": "1Gi"}
			if got := r.KubeReserved(); !maps.Equal(got, want) {
				t.Errorf("kubeReserved = %v, want %v", got, want)
			}
		})
	}
}

// The patch is a merge patch of kubeReserved alone, named for kubeadm's
// kubeletconfiguration target; a zero reservation is refused.
func TestRenderKubeletPatch(t *testing.T) {
	if KubeletPatchPath != "/etc/kforge/kubeadm-patches/kubeletconfiguration+merge.yaml" {
		t.Errorf("KubeletPatchPath = %s", KubeletPatchPath)
	}
	out, err := RenderKubeletPatch(Reserve(2, 2*gib))
	if err != nil {
		t.Fatal(err)
	}
	var patch KubeletReservedPatch
	if err := yaml.UnmarshalStrict(out, &patch); err != nil {
		t.Fatalf("the patch holds more than kubeReserved: %v\n%s", err, out)
	}
	want := map[string]string{"cpu": "70m", "memory": "512Mi", "ephemeral-storage": "1Gi"}
	if !maps.Equal(patch.KubeReserved, want) {
		t.Errorf("kubeReserved = %v, want %v", patch.KubeReserved, want)
	}
	assertGolden(t, "kubeletconfiguration+merge.yaml", out)
	if _, err := RenderKubeletPatch(Reservation{}); err == nil {
		t.Error("a zero reservation was rendered")
	}
}

// The patches directory reaches kubeadm as patches.directory of the init
// and join configurations; without one neither has patches, and the
// cluster-wide KubeletConfiguration never carries the node's reservation.
func TestPatchesDirectory(t *testing.T) {
	cp := controlPlane()
	w := Worker{NodeName: "ip-10-0-2-10.eu-west-1.compute.internal", ProviderID: "aws:///eu-west-1a/i-0123456789abcdef1",
		APIEndpoint: "api.dev.example.com:6443", Token: "abcdef.0123456789abcdef",
		CACertHashes: []string{"sha256:" + strings.Repeat("a", 64)}, PatchesDir: PatchesDir}
	for _, withDir := range []bool{true, false} {
		if !withDir {
			cp.PatchesDir, w.PatchesDir = "", ""
		}
		initOut, err := RenderControlPlane(cp)
		if err != nil {
			t.Fatal(err)
		}
		joinOut, err := RenderJoin(w)
		if err != nil {
			t.Fatal(err)
		}
		strictDocs(t, initOut)
		strictDocs(t, joinOut)
		docs := strings.Split(string(initOut), "---\n")
		var init InitConfiguration
		var join JoinConfiguration
		if err := yaml.Unmarshal([]byte(docs[0]), &init); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(joinOut, &join); err != nil {
			t.Fatal(err)
		}
		for kind, p := range map[string]*Patches{"InitConfiguration": init.Patches, "JoinConfiguration": join.Patches} {
			switch {
			case withDir && (p == nil || p.Directory != PatchesDir):
				t.Errorf("%s patches = %+v, want directory %s", kind, p, PatchesDir)
			case !withDir && p != nil:
				t.Errorf("%s without a patches directory has patches %+v", kind, p)
			}
		}
		if kubelet := docs[len(docs)-1]; strings.Contains(kubelet, "kubeReserved") {
			t.Errorf("the cluster-wide KubeletConfiguration carries a reservation:\n%s", kubelet)
		}
	}
}
