package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ErrUnsupported marks a machine that cannot run the lab; the message says
// which capability is missing and how it was checked.
var ErrUnsupported = errors.New("this machine cannot run the lab")

// CheckHost verifies what the lab needs of the machine: root, the programs
// it drives and the kernel features it uses.
func CheckHost() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces, mounts and systemd-nspawn need it)")
	}
	for prog, pkg := range map[string]string{
		"systemd-nspawn": "systemd-container", "debootstrap": "debootstrap",
		"ip": "iproute2", "nsenter": "util-linux", "mount": "mount",
	} {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, fmt.Sprintf("%s (apt-get install %s)", prog, pkg))
		}
	}
	fsys, _ := os.ReadFile("/proc/filesystems")
	if !strings.Contains(string(fsys), "\toverlay\n") {
		missing = append(missing, "overlayfs in the kernel (/proc/filesystems has no overlay)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s", ErrUnsupported, strings.Join(missing, "; "))
	}
	return nil
}
