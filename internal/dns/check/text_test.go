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

func TestReportRowsCAA(t *testing.T) {
	for _, tt := range []struct {
		rep  Report
		want []string
	}{
		{Report{Domain: "dev.example.com", CAAChecked: true, CAAAllowed: true, CAARecords: []string{}},
			[]string{"CAA dev.example.com", "yes", "none at dev.example.com or above: Let's Encrypt may issue"}},
		{Report{Domain: "dev.example.com", CAAChecked: true, CAAAllowed: true, CAADomain: "example.com", CAARecords: []string{`0 issue "letsencrypt.org"`, `0 iodef "mailto:a@example.com"`}},
			[]string{"CAA dev.example.com", "yes", `example.com: 0 issue "letsencrypt.org"; 0 iodef "mailto:a@example.com"`}},
		{Report{Domain: "dev.example.com", CAAChecked: true, CAADomain: "example.com", CAAReason: "forbidden, fix it"},
			[]string{"CAA dev.example.com", "no", "forbidden, fix it"}},
		{Report{Domain: "dev.example.com", CAAChecked: true, CAAError: "SERVFAIL"},
			[]string{"CAA dev.example.com", "no", "SERVFAIL"}},
	} {
		rows := tt.rep.Rows()
		if got := rows[len(rows)-1]; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("CAA row = %q, want %q", got, tt.want)
		}
	}
}

func TestParseIssueValue(t *testing.T) {
	ok := map[string]issueValue{
		"letsencrypt.org":   {issuer: "letsencrypt.org", params: map[string]string{}},
		" letsencrypt.org ": {issuer: "letsencrypt.org", params: map[string]string{}},
		"letsencrypt.org;":  {issuer: "letsencrypt.org", params: map[string]string{}},
		";":                 {params: map[string]string{}},
		"":                  {params: map[string]string{}},
		"letsencrypt.org; accounturi=https://x.example/acct/1; validationmethods=http-01": {issuer: "letsencrypt.org",
			params: map[string]string{"accounturi": "https://x.example/acct/1", "validationmethods": "http-01"}},
	}
	for in, want := range ok {
		got, err := parseIssueValue(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseIssueValue(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"%%%%%", "letsencrypt.org; nonsense", "lets encrypt.org", "-x.org", "letsencrypt.org; a=b c", "letsencrypt.org; =b"} {
		if v, err := parseIssueValue(bad); err == nil {
			t.Errorf("parseIssueValue(%q) = %+v, want an error", bad, v)
		}
	}
	for list, want := range map[string]bool{"http-01": true, "dns-01,http-01": true, "dns-01": false, "http-01,bad_method": false, "": false} {
		v := issueValue{params: map[string]string{"validationmethods": list}}
		if got := v.allowsMethod("http-01"); got != want {
			t.Errorf("validationmethods=%q allows http-01: %v, want %v", list, got, want)
		}
	}
}
