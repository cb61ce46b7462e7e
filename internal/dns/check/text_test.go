package check

import (
	"reflect"
	"testing"
)

func TestReportRows(t *testing.T) {
	waiting := Report{Domain: "dev.example.com", WantNameServers: []string{"ns-1.awsdns.com"}, NameServers: []string{},
		ApexChecked: true, NLBDNSName: "nlb.elb.amazonaws.com", NLBAddrs: []string{"192.0.2.7"}}
	if got, want := waiting.Rows(), [][]string{
		{"CHECK", "OK", "DETAIL"},
		{"NS dev.example.com", "no", "resolver: (none); zone: ns-1.awsdns.com"},
		{"A dev.example.com", "no", "apex (none); NLB nlb.elb.amazonaws.com 192.0.2.7"},
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("not propagated: Rows() = %q, want %q", got, want)
	}
	done := Report{Domain: "dev.example.com", NameServers: []string{"ns-1.awsdns.com", "ns-2.awsdns.net"}, NSPropagated: true}
	if got, want := done.Rows()[1], []string{"NS dev.example.com", "yes", "ns-1.awsdns.com ns-2.awsdns.net"}; !reflect.DeepEqual(got, want) || len(done.Rows()) != 2 {
		t.Errorf("NS propagated, apex not checked: Rows() = %q, want the NS row %q only", done.Rows(), want)
	}
	failed := Report{Domain: "dev.example.com", NSError: "SERVFAIL", ApexChecked: true, ApexError: "no such host"}
	if got := failed.Rows(); got[1][2] != "SERVFAIL" || got[2][2] != "no such host" {
		t.Errorf("errors: Rows() = %q, want the errors as details", got)
	}
}
