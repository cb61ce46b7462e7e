package backend

import "testing"

// Only a Deny of every request without TLS to the bucket and its objects,
// by anyone, counts as the owner's TLS-only statement; a narrower one
// leaves requests without TLS allowed, and kforge adds its own.
func TestHasTLSOnlyStatement(t *testing.T) {
	const arn = "arn:aws:s3:::kforge-state"
	for _, tc := range []struct {
		name, statement string
		want            bool
	}{
		{"kforge's", `{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["` + arn + `","` + arn + `/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, true},
		{"any resource, AWS principal, boolean false", `{"Effect":"Deny","Principal":{"AWS":"*"},"Action":["s3:*"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false}}}`, true},
		{"wildcard bucket pattern", `{"Effect":"Deny","Principal":"*","Action":"*","Resource":["arn:aws:s3:::kforge-*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, true},
		{"objects only", `{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"` + arn + `/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, false},
		{"some actions", `{"Effect":"Deny","Principal":"*","Action":["s3:GetObject","s3:PutObject"],"Resource":["` + arn + `","` + arn + `/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, false},
		{"one principal", `{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, false},
		{"another condition beside it", `{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"},"StringEquals":{"aws:PrincipalAccount":"111122223333"}}}`, false},
		{"NotAction", `{"Effect":"Deny","Principal":"*","NotAction":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, false},
		{"an Allow", `{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, false},
		{"another bucket", `{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::other","arn:aws:s3:::other/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"Version":"2012-10-17","Statement":[` + tc.statement + `]}`
			if got := hasTLSOnlyStatement(doc, "us-east-1", "kforge-state"); got != tc.want {
				t.Errorf("hasTLSOnlyStatement = %v, want %v\n%s", got, tc.want, doc)
			}
		})
	}
	if hasTLSOnlyStatement("", "us-east-1", "kforge-state") {
		t.Error("no policy counted as TLS-only")
	}
	if !hasTLSOnlyStatement(TLSOnlyPolicy("us-east-1", "kforge-state"), "us-east-1", "kforge-state") {
		t.Error("kforge's own policy does not count")
	}
}
