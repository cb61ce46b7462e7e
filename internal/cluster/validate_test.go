package cluster

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/node"
)

func isExit(err error, code int) bool {
	var ee *ExitError
	return errors.As(err, &ee) && ee.Code == code
}

func TestValidateRefusesAnEmulatedCluster(t *testing.T) {
	err := requireAPIServer(true)
	if !isExit(err, ExitFailure) || !strings.Contains(err.Error(), "an emulated cluster has none") || !strings.Contains(err.Error(), "Nothing was validated") {
		t.Fatalf("got %v ", err)
	}
	if requireAPIServer(false) != nil {
		t.Fatal("a real cluster was refused")
	}
}

func pemCert(t *testing.T, cn string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"kubeadm:cluster-admins"}},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(365 * 24 * time.Hour), IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// adminKubeconfig is a kubeconfig of one context, admin@demo, for server
// with its CA and the admin's client certificate and key (all PEM).
func adminKubeconfig(server string, caPEM, certPEM, keyPEM []byte) Kubeconfig {
	var kc Kubeconfig
	kc.CurrentContext = "admin@demo"
	kc.Clusters = []KubeconfigClust{{Name: "demo"}}
	kc.Clusters[0].Cluster.Server = server
	kc.Clusters[0].Cluster.CertificateAuthorityData = base64.StdEncoding.EncodeToString(caPEM)
	kc.Users = []KubeconfigUser{{Name: "admin"}}
	kc.Users[0].User.ClientCertificateData = base64.StdEncoding.EncodeToString(certPEM)
	kc.Users[0].User.ClientKeyData = base64.StdEncoding.EncodeToString(keyPEM)
	kc.Contexts = []KubeconfigCtx{{Name: "admin@demo"}}
	kc.Contexts[0].Context.Cluster, kc.Contexts[0].Context.User = "demo", "admin"
	return kc
}

// certsBucketForTest is an empty certs bucket on a new emulator, with the
// emulator's configuration and address.
func certsBucketForTest(t *testing.T) (aws.Config, string, node.S3Bucket) {
	t.Helper()
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	client := awsx.S3Client(cfg, em.URL())
	const bucket = "kforge-test-certs"
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return cfg, em.URL(), node.S3Bucket{Client: client, Name: bucket}
}

// putObject writes body at key in b, unencrypted (the emulator's bucket
// has no key).
func putObject(t *testing.T, b node.S3Bucket, key string, body []byte) {
	t.Helper()
	if _, err := b.Client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(b.Name), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Error(err)
	}
}

func TestNodeReadinessThroughTheAPIWithTheKubeconfigClientCert(t *testing.T) {
	clientCA, clientCAKey, _, _ := pemCert(t, "kubernetes", true, nil, nil)
	_, _, certPEM, keyPEM := pemCert(t, "kubernetes-admin", false, clientCA, clientCAKey)
	pool := x509.NewCertPool()
	pool.AddCert(clientCA)

	list := corev1.NodeList{Items: []corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-1-10"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-2-20", Labels: map[string]string{"kforge.io/pool": "general"}}, Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1b/i-0b2"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}}},
	}}
	var sawClient string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/nodes" {
			http.NotFound(w, r)
			return
		}
		sawClient = r.TLS.PeerCertificates[0].Subject.CommonName
		_ = json.NewEncoder(w).Encode(list)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	serverCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	kc := adminKubeconfig(srv.URL, serverCA, certPEM, keyPEM)

	client, server, err := kc.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := nodeReadiness(context.Background(), client, server)
	if err != nil {
		t.Fatal(err)
	}
	if sawClient != "kubernetes-admin" {
		t.Errorf("server saw client %q", sawClient)
	}
	r := ValidationResult{Nodes: nodes, TargetGroups: []TargetGroupStatus{{Name: "https", Targets: 2, States: map[string]int{"healthy": 1, "unhealthy": 1}}}}
	r.evaluate()
	want := []string{"node ip-10-0-2-20 is not Ready", "target group https: 1 of 2 targets healthy"}
	if strings.Join(r.Problems, "|") != strings.Join(want, "|") || nodes[1].Pool != "general" || nodes[1].Instance != "i-0b2" || nodes[0].Instance != "" {
		t.Errorf("problems %q, nodes %+v", r.Problems, nodes)
	}

	// Without the client certificate the API refuses the request.
	kc.Users[0].User.ClientKeyData = ""
	if _, _, err := kc.HTTPClient(); err == nil || !strings.Contains(err.Error(), "client-key-data") {
		t.Errorf("missing key not reported: %v", err)
	}
}

// TestValidateWaitsForTheAdminKubeconfig: right after `kforge up` the
// control plane has not published its admin kubeconfig yet; `validate
// --wait` must wait for it, not give up at the first round. The certs
// bucket and the cluster key are the emulator's, the API server a test
// server that requires the kubeconfig's client certificate.
func TestValidateWaitsForTheAdminKubeconfig(t *testing.T) {
	cfg, endpoint, b := certsBucketForTest(t)
	ctx := context.Background()
	putObject(t, b, certstore.EtcdSnapshotKey, []byte("snapshot"))
	putObject(t, b, certstore.JoinKey, joinJSON(t, "abcdef.0123456789abcdef", time.Now().Add(20*time.Hour)))
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}

	clientCA, clientCAKey, _, _ := pemCert(t, "kubernetes", true, nil, nil)
	_, _, certPEM, keyPEM := pemCert(t, "kubernetes-admin", false, clientCA, clientCAKey)
	pool := x509.NewCertPool()
	pool.AddCert(clientCA)
	ready := corev1.NodeList{Items: []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-1-10"},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/nodes":
			_ = json.NewEncoder(w).Encode(ready)
		case "/api/v1/namespaces/kube-system/pods":
			_ = json.NewEncoder(w).Encode(corev1.PodList{})
		case "/apis/cert-manager.io/v1/clusterissuers":
			_, _ = w.Write([]byte(`{"items": [
				{"metadata": {"name": "letsencrypt-staging"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
				{"metadata": {"name": "letsencrypt-prod"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}]}`))
		case "/metrics":
		default:
			http.NotFound(w, r)
		}
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	admin, err := yaml.Marshal(adminKubeconfig(srv.URL, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), certPEM, keyPEM))
	if err != nil {
		t.Fatal(err)
	}

	// Published a second into the wait, as a control plane does once it
	// has initialised.
	go func() {
		time.Sleep(time.Second)
		putObject(t, b, certstore.AdminConfKey, admin)
	}()
	ui := &recordingUI{}
	e := &Env{Name: "dev", Config: &config.Cluster{Name: "dev", Region: "us-east-1"}, Endpoint: endpoint, awsCfg: &cfg, opts: Options{UI: ui}}
	out := &Outputs{CertsBucket: b.Name, KMSKeyARN: aws.ToString(key.KeyMetadata.Arn)}
	r, err := e.validateUntil(ctx, out, ValidateOptions{Wait: time.Minute, Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("validate --wait gave up: %v", err)
	}
	if len(r.Nodes) != 1 || !r.Nodes[0].Ready || r.EtcdBackup == nil || r.KeyState != "Enabled" || len(r.Certificates) != 3 || len(r.Issuers) != 2 || r.JoinMaterial == nil {
		t.Errorf("result %+v", r)
	}
	if len(ui.notes) == 0 || !strings.Contains(ui.notes[0], "does not exist yet") {
		t.Errorf("the rounds before the kubeconfig named no reason: %q", ui.notes)
	}
}
