package kubeadm

import (
	"fmt"
	"strconv"
	"strings"
)

// etcd's backend quota (--quota-backend-bytes): at it, etcd raises the
// NOSPACE alarm and refuses every write until space is reclaimed and the
// alarm disarmed. The bounds are kforge's, in whole GiB:
//   - 2 GiB is etcd's own default, which kforge keeps unless told.
//   - 8 GiB is etcd's suggested maximum for normal environments. The
//     control plane's backup sends a snapshot that large in parts (S3
//     takes at most 5 GiB in one request).
const (
	DefaultEtcdQuotaGiB = 2
	MinEtcdQuotaGiB     = 2
	MaxEtcdQuotaGiB     = 8
)

// etcdQuotaFlag is etcd's flag for the quota, as kubeadm passes it.
const etcdQuotaFlag = "quota-backend-bytes"

// EtcdQuotaBytes is a quota of gib GiB in bytes.
func EtcdQuotaBytes(gib int) int64 { return int64(gib) << 30 }

// CheckEtcdQuotaGiB reports a quota outside kforge's bounds; 0 stands for
// etcd's default.
func CheckEtcdQuotaGiB(gib int) error {
	if gib != 0 && (gib < MinEtcdQuotaGiB || gib > MaxEtcdQuotaGiB) {
		return fmt.Errorf("etcd quota %d GiB is outside %d-%d GiB", gib, MinEtcdQuotaGiB, MaxEtcdQuotaGiB)
	}
	return nil
}

// EtcdQuotaHolds reports whether a quota of gib GiB (0: etcd's default)
// holds a database of dbBytes: below it, etcd takes writes.
func EtcdQuotaHolds(gib int, dbBytes int64) bool {
	if gib == 0 {
		gib = DefaultEtcdQuotaGiB
	}
	return dbBytes < EtcdQuotaBytes(gib)
}

// localEtcd is the control plane's local etcd: its data directory, and its
// quota when one is set (0 leaves etcd's default and the flag out, as
// before the setting existed).
func localEtcd(quotaGiB int) *LocalEtcd {
	etcd := &LocalEtcd{DataDir: "/var/lib/etcd"}
	if quotaGiB != 0 {
		etcd.ExtraArgs = []Arg{{Name: etcdQuotaFlag, Value: strconv.FormatInt(EtcdQuotaBytes(quotaGiB), 10)}}
	}
	return etcd
}

// EtcdQuotaFromCommand is the quota in an etcd command line (the static
// pod's, as kubeadm writes it: --quota-backend-bytes=N); etcd's default
// when the flag is absent.
func EtcdQuotaFromCommand(command []string) (int64, error) {
	for _, arg := range command {
		if v, ok := strings.CutPrefix(arg, "--"+etcdQuotaFlag+"="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("etcd's %q is not a positive number of bytes", arg)
			}
			return n, nil
		}
	}
	return EtcdQuotaBytes(DefaultEtcdQuotaGiB), nil
}
