package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// imdsv2 is a small IMDSv2 server: GETs without a session token obtained
// by PUT /latest/api/token are refused, as on an instance with
// http_tokens = "required".
type imdsv2 struct {
	values   map[string]string
	puts     atomic.Int32
	refusals atomic.Int32
}

const imdsToken = "session-token-1"

func (s *imdsv2) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut || r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "bad token request", http.StatusBadRequest)
			return
		}
		s.puts.Add(1)
		w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
		_, _ = w.Write([]byte(imdsToken))
		return
	}
	if r.Header.Get("X-aws-ec2-metadata-token") != imdsToken {
		s.refusals.Add(1)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	v, ok := s.values[strings.TrimPrefix(r.URL.Path, "/latest/meta-data/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write([]byte(v))
}

func TestReadInstanceThroughIMDSv2(t *testing.T) {
	base := map[string]string{
		"instance-id":                 "i-0123456789abcdef0",
		"instance-type":               "m7g.large",
		"placement/availability-zone": "eu-west-1b",
		"placement/region":            "eu-west-1",
		"local-ipv4":                  "10.0.2.20",
		"local-hostname":              "ip-10-0-2-20.eu-west-1.compute.internal ip-10-0-2-20",
	}
	cases := []struct {
		name     string
		publicIP string
		drop     string
		wantErr  string
	}{
		{name: "private subnet, no public address"},
		{name: "public address", publicIP: "203.0.113.9"},
		{name: "missing instance id", drop: "instance-id", wantErr: "instance-id"},
		{name: "missing instance type", drop: "instance-type", wantErr: "instance-type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values := map[string]string{}
			for k, v := range base {
				values[k] = v
			}
			if tc.publicIP != "" {
				values["public-ipv4"] = tc.publicIP
			}
			delete(values, tc.drop)
			srv := &imdsv2{values: values}
			ts := httptest.NewServer(srv)
			defer ts.Close()

			// Without a token the server refuses, so the client must be using IMDSv2.
			resp, err := http.Get(ts.URL + "/latest/meta-data/instance-id")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("token-less GET answered %d", resp.StatusCode)
			}

			client := imds.New(imds.Options{Endpoint: ts.URL, ClientEnableState: imds.ClientEnabled})
			inst, err := ReadInstance(context.Background(), client)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error naming %s, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Instance{ID: "i-0123456789abcdef0", InstanceType: "m7g.large", AvailabilityZone: "eu-west-1b", Region: "eu-west-1",
				PrivateIP: "10.0.2.20", PublicIP: tc.publicIP, Hostname: "ip-10-0-2-20.eu-west-1.compute.internal"}
			if inst != want {
				t.Errorf("got %+v, want %+v", inst, want)
			}
			if inst.ProviderID() != "aws:///eu-west-1b/i-0123456789abcdef0" {
				t.Errorf("provider id %s", inst.ProviderID())
			}
			if srv.puts.Load() == 0 {
				t.Error("client never requested an IMDSv2 session token")
			}
		})
	}
}
