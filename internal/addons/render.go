package addons

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"regexp"

	"github.com/kforge/kforge/internal/upstream"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Config is what the add-ons are rendered from (a subset of cluster.json).
type Config struct {
	ClusterName       string
	KubernetesVersion string
	Region            string
	APIHost           string
	// Domain is the cluster's domain; its apex is an alias of the ingress
	// NLB.
	Domain        string
	PodCIDR       string
	EFSID         string
	ACMEEmail     string
	HTTPNodePort  int32
	HTTPSNodePort int32
}

var efsIDPattern = regexp.MustCompile(`^fs-[0-9a-f]{8,40}$`)

func (c Config) validate() error {
	for _, f := range []struct{ name, value string }{{"cluster_name", c.ClusterName}, {"region", c.Region}, {"domain", c.Domain}} {
		if f.value == "" {
			return fmt.Errorf("add-ons: %s is empty", f.name)
		}
	}
	if !efsIDPattern.MatchString(c.EFSID) {
		return fmt.Errorf("add-ons: efs_id %q is not an EFS file system id (fs-...)", c.EFSID)
	}
	if _, err := mail.ParseAddress(c.ACMEEmail); err != nil {
		return fmt.Errorf("add-ons: acme_email %q: %w", c.ACMEEmail, err)
	}
	for name, p := range map[string]int32{"http_node_port": c.HTTPNodePort, "https_node_port": c.HTTPSNodePort} {
		if p < 30000 || p > 32767 {
			return fmt.Errorf("add-ons: %s %d is outside 30000-32767", name, p)
		}
	}
	return nil
}

// Objects returns every object kforge renders except the ClusterIssuers, in
// apply order (namespaces and RBAC before workloads).
func Objects(c Config) ([]runtime.Object, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	ca, err := clusterAutoscaler(c)
	if err != nil {
		return nil, err
	}
	var objs []runtime.Object
	objs = append(objs, ca...)
	objs = append(objs, efsCSI(c)...)
	objs = append(objs, metricsServer()...)
	objs = append(objs, traefik(c)...)
	objs = append(objs, denyInstanceMetadata(), corednsBudget())
	objs = append(objs, reservedAPIHost(c.APIHost)...)
	objs = append(objs, loadBalancerServices()...)
	pinImages(objs)
	return objs, nil
}

// pinImages points every container at its digest when upstream.Downloads
// pins one, so the one table decides what nodes run.
func pinImages(objs []runtime.Object) {
	for _, o := range objs {
		var spec *corev1.PodSpec
		switch w := o.(type) {
		case *appsv1.Deployment:
			spec = &w.Spec.Template.Spec
		case *appsv1.DaemonSet:
			spec = &w.Spec.Template.Spec
		default:
			continue
		}
		for i := range spec.InitContainers {
			spec.InitContainers[i].Image = upstream.PinnedRef(spec.InitContainers[i].Image)
		}
		for i := range spec.Containers {
			spec.Containers[i].Image = upstream.PinnedRef(spec.Containers[i].Image)
		}
	}
}

// Render returns Objects as one multi-document YAML stream.
func Render(c Config) ([]byte, error) {
	objs, err := Objects(c)
	if err != nil {
		return nil, err
	}
	return RenderObjects(objs)
}

// RenderObjects returns objects (from Objects, possibly filtered) as one
// multi-document YAML stream.
func RenderObjects(objs []runtime.Object) ([]byte, error) {
	docs := make([]any, len(objs))
	for i, o := range objs {
		docs[i] = o
	}
	return marshalDocs(docs...)
}

// RenderIssuers returns the Let's Encrypt ClusterIssuers (applied once
// cert-manager's webhook serves).
func RenderIssuers(c Config) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	issuers := clusterIssuers(c)
	docs := make([]any, len(issuers))
	for i := range issuers {
		docs[i] = issuers[i]
	}
	return marshalDocs(docs...)
}

// marshalDocs writes docs as one YAML stream without their status: it is
// the API server's to write, and a typed object's zero status (a
// PodDisruptionBudget's counts) would read as a claim about the cluster.
func marshalDocs(docs ...any) ([]byte, error) {
	var buf bytes.Buffer
	for i, d := range docs {
		var fields map[string]any
		j, err := json.Marshal(d)
		if err == nil {
			err = json.Unmarshal(j, &fields)
		}
		if err != nil {
			return nil, fmt.Errorf("marshalling add-on document %d: %w", i, err)
		}
		delete(fields, "status")
		b, err := yaml.Marshal(fields)
		if err != nil {
			return nil, fmt.Errorf("marshalling add-on document %d: %w", i, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
