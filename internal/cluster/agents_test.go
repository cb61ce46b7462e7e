package cluster

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/config"
)

// writeELF writes the smallest file debug/elf accepts as a linux executable
// of the given machine: a 64-bit little-endian header, no sections.
func writeELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Phentsize: 56, Shentsize: 64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := binary.Write(f, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
}

func mixedEnv(flag string) *Env {
	return &Env{
		Name: "dev",
		Config: &config.Cluster{
			ControlPlane: config.ControlPlane{InstanceType: "t4g.small"},
			WorkerPools:  map[string]config.WorkerPool{"general": {InstanceTypes: []string{"t3.medium"}}},
		},
		opts: Options{AgentBinary: flag},
	}
}

func TestAgentBinariesPerArchitecture(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the running binary stands in for its own architecture only on linux")
	}
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	dir := t.TempDir()
	otherPath := filepath.Join(dir, "kforge-linux-"+other)
	writeELF(t, otherPath, machine[other])

	// The flag gives the other architecture; this executable covers its own.
	got, err := mixedEnv(otherPath).AgentBinaries()
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	if got[other] != otherPath || got[runtime.GOARCH] != self || len(got) != 2 {
		t.Errorf("agents %v; want %s from the flag and %s = this executable", got, other, runtime.GOARCH)
	}

	// Nothing for the other architecture: a usage error naming it and the fix.
	_, err = mixedEnv("").AgentBinaries()
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "no linux kforge binary for "+other) || !strings.Contains(err.Error(), "GOARCH="+other) {
		t.Errorf("missing %s agent: %v (exit %d)", other, err, exitCode(err))
	}

	// A file for an architecture nodes cannot run, and two of one kind, are refused.
	riscv := filepath.Join(dir, "riscv")
	writeELF(t, riscv, elf.EM_RISCV)
	if _, err := mixedEnv(riscv).AgentBinaries(); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "nodes run amd64 or arm64") {
		t.Errorf("riscv agent: %v", err)
	}
	second := filepath.Join(dir, "second")
	writeELF(t, second, machine[other])
	if _, err := mixedEnv(otherPath + "," + second).AgentBinaries(); err == nil || !strings.Contains(err.Error(), "two "+other) {
		t.Errorf("two %s agents: %v", other, err)
	}
}

// exitCode is the exit code an error carries (1 when none).
func exitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}
