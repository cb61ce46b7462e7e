package sweep

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/efs"
)

// An access point AWS still reports as deleting may keep its file system
// from being deleted, and terraform destroy deletes the file system once,
// without retrying: the sweep waits until the access point is gone. moto
// deletes an access point at once, so a small stand-in for EFS's REST API
// answers deleting twice and then AccessPointNotFound; it proves only the
// wait, not what EFS does meanwhile.
func TestAccessPointDeleteWaitsPastDeleting(t *testing.T) {
	var describes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodDelete && r.URL.Path == "/2015-02-01/access-points/fsap-0123456789abcdef0":
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && r.URL.Path == "/2015-02-01/access-points" && r.URL.Query().Get("AccessPointId") == "fsap-0123456789abcdef0":
			if describes.Add(1) <= 2 {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"AccessPoints":[{"AccessPointId":"fsap-0123456789abcdef0","FileSystemId":"fs-0123456789abcdef0","LifeCycleState":"deleting"}]}`))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-Errortype", "AccessPointNotFound")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"ErrorCode":"AccessPointNotFound","Message":"Access point 'fsap-0123456789abcdef0' does not exist."}`))
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}
	d := &deleter{opts: Options{Wait: time.Minute, Poll: time.Millisecond}, efs: efs.NewFromConfig(cfg)}
	if err := d.accessPoint(context.Background(), Resource{Kind: KindAccessPoint, ID: "fsap-0123456789abcdef0"}); err != nil {
		t.Fatal(err)
	}
	if n := describes.Load(); n != 3 {
		t.Errorf("the wait read the access point %d times; want 3: twice deleting, then gone", n)
	}
}
