package config

import (
	"fmt"

	"github.com/kforge/kforge/internal/kubeadm"
)

// Defaults for settings a configuration may leave out. docs/CONFIG.md lists
// the same values; TestDocsListEveryField keeps the two in step for keys.
const (
	DefaultAZCount            = 2
	DefaultVPCCIDR            = "10.0.0.0/16"
	DefaultPodCIDR            = "10.244.0.0/16"
	DefaultServiceCIDR        = "10.96.0.0/12"
	DefaultHTTPNodePort       = 30080
	DefaultHTTPSNodePort      = 30443
	DefaultControllerType     = "t3.medium"
	DefaultVolumeSize         = 30
	DefaultRegistrar          = "none"
	DefaultCertsForceDestroy  = true
	DefaultLogRetentionDays   = 90
	DefaultBackupInterval     = "15m"
	defaultStateKeyFormat     = "%s/%s/terraform.tfstate" // cluster, environment
	defaultWorkerInstanceType = "t3.medium"
)

// applyDefaults fills every setting the files left out. set holds the paths
// the files did set, so an explicit zero (azCount: 0) is validated, not replaced.
func applyDefaults(c *Cluster, envName string, set map[string]position) {
	isSet := func(path string) bool { _, ok := set[path]; return ok }
	str := func(path string, field *string, def string) {
		if !isSet(path) {
			*field = def
		}
	}
	num := func(path string, field *int, def int) {
		if !isSet(path) {
			*field = def
		}
	}

	str("environment", &c.Environment, envName)
	num("network.azCount", &c.Network.AZCount, DefaultAZCount)
	str("network.vpcCIDR", &c.Network.VPCCIDR, DefaultVPCCIDR)
	if c.Network.ExcludeZoneIDs == nil {
		c.Network.ExcludeZoneIDs = []string{}
	}
	if c.Network.AdminCIDRs == nil {
		c.Network.AdminCIDRs = []string{}
	}
	for i := range c.Network.WorkerEgress {
		if c.Network.WorkerEgress[i].Protocol == "" {
			c.Network.WorkerEgress[i].Protocol = "tcp"
		}
	}
	str("dns.registrar", &c.DNS.Registrar, DefaultRegistrar)
	str("kubernetes.version", &c.Kubernetes.Version, DefaultKubernetesVersion)
	str("kubernetes.podCIDR", &c.Kubernetes.PodCIDR, DefaultPodCIDR)
	str("kubernetes.serviceCIDR", &c.Kubernetes.ServiceCIDR, DefaultServiceCIDR)
	num("ingress.httpNodePort", &c.Ingress.HTTPNodePort, DefaultHTTPNodePort)
	num("ingress.httpsNodePort", &c.Ingress.HTTPSNodePort, DefaultHTTPSNodePort)
	str("controlPlane.instanceType", &c.ControlPlane.InstanceType, DefaultControllerType)
	num("controlPlane.volumeSize", &c.ControlPlane.VolumeSize, DefaultVolumeSize)
	str("controlPlane.backupInterval", &c.ControlPlane.BackupInterval, DefaultBackupInterval)
	num("controlPlane.etcdQuotaGiB", &c.ControlPlane.EtcdQuotaGiB, kubeadm.DefaultEtcdQuotaGiB)
	if !isSet("certsBucketForceDestroy") {
		c.CertsBucketForceDestroy = DefaultCertsForceDestroy
	}
	// Backups of the volumes' data and audit trails are on by default in
	// production, off elsewhere (cost).
	if !isSet("efsBackups") {
		c.EFSBackups = c.isProd()
	}
	if !isSet("logging.vpcFlowLogs") {
		c.Logging.VPCFlowLogs = c.isProd()
	}
	if !isSet("logging.bucketAccessLogs") {
		c.Logging.BucketAccessLogs = c.isProd()
	}
	num("logging.retentionDays", &c.Logging.RetentionDays, DefaultLogRetentionDays)
	str("state.region", &c.State.Region, c.Region)
	if !isSet("state.key") && c.Name != "" {
		c.State.Key = fmt.Sprintf(defaultStateKeyFormat, c.Name, c.Environment)
	}
	if c.Tags == nil {
		c.Tags = map[string]string{}
	}

	for name, p := range c.WorkerPools {
		path := joinPath("workerPools", name)
		if !isSet(path + ".instanceTypes") {
			p.InstanceTypes = []string{defaultWorkerInstanceType}
		}
		if !isSet(path + ".desired") {
			p.Desired = p.Min
		}
		num(path+".volumeSize", &p.VolumeSize, DefaultVolumeSize)
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		if p.Taints == nil {
			p.Taints = []string{}
		}
		str(path+".capacity", &p.Capacity, CapacityOnDemand)
		if !isSet(path + ".ingress") {
			p.Ingress = !p.HasHardTaint()
		}
		c.WorkerPools[name] = p
	}
}
