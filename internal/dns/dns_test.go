package dns

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestSameNameServers(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		want bool
	}{
		{"identical", []string{"ns-1.awsdns-01.org", "ns-2.awsdns-02.com"}, []string{"ns-1.awsdns-01.org", "ns-2.awsdns-02.com"}, true},
		{"case", []string{"NS-1.AWSDNS-01.ORG"}, []string{"ns-1.awsdns-01.org"}, true},
		{"trailing dot", []string{"ns-1.awsdns-01.org."}, []string{"ns-1.awsdns-01.org"}, true},
		{"order", []string{"b.example", "a.example"}, []string{"a.example", "b.example"}, true},
		{"duplicates and spaces", []string{" a.example ", "a.example", "b.example"}, []string{"b.example", "a.example."}, true},
		{"one missing", []string{"a.example", "b.example"}, []string{"a.example"}, false},
		{"different", []string{"curitiba.porkbun.com", "fortaleza.porkbun.com"}, []string{"ns-1.awsdns-01.org"}, false},
		{"both empty", nil, []string{}, true},
		{"empty vs one", nil, []string{"a.example"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SameNameServers(tt.a, tt.b); got != tt.want {
				t.Errorf("SameNameServers(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	d := Compare([]string{"Old.Example.", "keep.example"}, []string{"keep.example.", "new.example"})
	if !slices.Equal(d.Add, []string{"new.example"}) || !slices.Equal(d.Remove, []string{"old.example"}) || !slices.Equal(d.Keep, []string{"keep.example"}) {
		t.Fatalf("Compare = %+v", d)
	}
	if d.Empty() {
		t.Fatal("diff with changes reported empty")
	}
	if !Compare([]string{"A.example."}, []string{"a.example"}).Empty() {
		t.Fatal("equal sets reported a change")
	}
}

func TestRegisteredDomain(t *testing.T) {
	tests := []struct {
		in, want   string
		registered bool
	}{
		{"example.com", "example.com", true},
		{"Example.COM.", "example.com", true},
		{"dev.example.com", "example.com", false},
		{"a.b.example.co.uk", "example.co.uk", false},
		{"example.co.uk", "example.co.uk", true},
	}
	for _, tt := range tests {
		got, err := RegisteredDomain(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("RegisteredDomain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		reg, err := IsRegisteredDomain(tt.in)
		if err != nil || reg != tt.registered {
			t.Errorf("IsRegisteredDomain(%q) = %v, %v; want %v", tt.in, reg, err, tt.registered)
		}
	}
}

func TestValidateDomain(t *testing.T) {
	for _, bad := range []string{"", "com", "exa_mple.com", "-a.example.com", "a..example.com", strings.Repeat("a", 64) + ".com"} {
		if err := ValidateDomain(bad); err == nil {
			t.Errorf("ValidateDomain(%q) accepted a bad domain", bad)
		}
	}
	for _, good := range []string{"example.com", "dev.example.com.", "x-1.example.io"} {
		if err := ValidateDomain(good); err != nil {
			t.Errorf("ValidateDomain(%q) = %v", good, err)
		}
	}
}

// memRegistrar is an in-memory Registrar recording calls.
type memRegistrar struct {
	ns       map[string][]string
	sets     int
	failSet  error
	override []string // what NameServers reports after a set, when not nil
}

func (m *memRegistrar) Describe() string { return "memory" }
func (m *memRegistrar) NameServers(_ context.Context, d string) ([]string, error) {
	return m.ns[d], nil
}
func (m *memRegistrar) SetNameServers(_ context.Context, d string, ns []string) error {
	m.sets++
	if m.failSet != nil {
		return m.failSet
	}
	if m.override != nil {
		ns = m.override
	}
	m.ns[d] = ns
	return nil
}

func TestPlanAndApply(t *testing.T) {
	ctx := context.Background()
	zone := []string{"ns-1.awsdns-01.org.", "ns-2.awsdns-02.com."}

	t.Run("different then applied", func(t *testing.T) {
		m := &memRegistrar{ns: map[string][]string{"example.com": {"curitiba.porkbun.com"}}}
		p, err := PlanDelegation(ctx, m, "example.com", zone)
		if err != nil {
			t.Fatal(err)
		}
		if p.InSync() || len(p.Diff.Add) != 2 || len(p.Diff.Remove) != 1 {
			t.Fatalf("plan = %+v", p)
		}
		if err := ApplyDelegation(ctx, m, p); err != nil {
			t.Fatal(err)
		}
		if m.sets != 1 || !SameNameServers(m.ns["example.com"], zone) {
			t.Fatalf("after apply: sets=%d ns=%v", m.sets, m.ns["example.com"])
		}
	})
	t.Run("equal makes no call", func(t *testing.T) {
		m := &memRegistrar{ns: map[string][]string{"example.com": {"NS-2.AWSDNS-02.COM", "ns-1.awsdns-01.org"}}}
		p, err := PlanDelegation(ctx, m, "example.com", zone)
		if err != nil {
			t.Fatal(err)
		}
		if !p.InSync() {
			t.Fatalf("plan not in sync: %+v", p)
		}
		if err := ApplyDelegation(ctx, m, p); err != nil || m.sets != 0 {
			t.Fatalf("apply: err=%v sets=%d", err, m.sets)
		}
	})
	t.Run("no zone name servers", func(t *testing.T) {
		m := &memRegistrar{ns: map[string][]string{}}
		if _, err := PlanDelegation(ctx, m, "example.com", nil); err == nil {
			t.Fatal("expected an error for an empty zone NS list")
		}
	})
	t.Run("set fails", func(t *testing.T) {
		m := &memRegistrar{ns: map[string][]string{}, failSet: errors.New("boom")}
		p, _ := PlanDelegation(ctx, m, "example.com", zone)
		if err := ApplyDelegation(ctx, m, p); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("read back differs", func(t *testing.T) {
		m := &memRegistrar{ns: map[string][]string{}, override: []string{"other.example"}}
		p, _ := PlanDelegation(ctx, m, "example.com", zone)
		if err := ApplyDelegation(ctx, m, p); err == nil || !strings.Contains(err.Error(), "other.example") {
			t.Fatalf("err = %v", err)
		}
	})
}

// memDSRegistrar is a memRegistrar that also reads DS records.
type memDSRegistrar struct {
	memRegistrar
	ds     []DSRecord
	dsErr  error
	dsRead int
}

func (m *memDSRegistrar) DSRecords(context.Context, string) ([]DSRecord, error) {
	m.dsRead++
	return m.ds, m.dsErr
}

func TestPlanAndApplyWithDSReader(t *testing.T) {
	ctx := context.Background()
	zone := []string{"ns-1.awsdns-01.org.", "ns-2.awsdns-02.com."}

	t.Run("no DS records: as before", func(t *testing.T) {
		m := &memDSRegistrar{memRegistrar: memRegistrar{ns: map[string][]string{"example.com": {"curitiba.porkbun.com"}}}, ds: []DSRecord{}}
		p, err := PlanDelegation(ctx, m, "example.com", zone)
		if err != nil {
			t.Fatal(err)
		}
		if err := ApplyDelegation(ctx, m, p); err != nil || m.sets != 1 || m.dsRead != 2 {
			t.Fatalf("apply: err=%v sets=%d dsRead=%d (plan and apply each read the DS records)", err, m.sets, m.dsRead)
		}
	})
	t.Run("DS records: refused, the error names them", func(t *testing.T) {
		m := &memDSRegistrar{memRegistrar: memRegistrar{ns: map[string][]string{"example.com": {"curitiba.porkbun.com"}}}, ds: []DSRecord{{KeyTag: "31589"}, {}}}
		_, err := PlanDelegation(ctx, m, "Example.COM.", zone)
		var dsErr *DSRecordsError
		if !errors.As(err, &dsErr) || dsErr.Domain != "example.com" || dsErr.Target != "memory" || dsErr.Delegated {
			t.Fatalf("err = %v", err)
		}
		// No hint from a registrar that gives none; a record without a key tag still counts.
		if msg := err.Error(); !strings.Contains(msg, "key tags 31589, ?") || !strings.Contains(msg, "remove the DS records at memory, wait") {
			t.Errorf("message: %s", msg)
		}
		// Applying a plan made elsewhere still refuses.
		err = ApplyDelegation(ctx, m, Plan{Domain: "example.com", Target: "memory", Wanted: NormalizeSet(zone), Diff: Compare(nil, zone)})
		if !errors.Is(err, ErrDSRecords) || m.sets != 0 {
			t.Fatalf("apply: err=%v sets=%d", err, m.sets)
		}
	})
	t.Run("DS records and in sync: refused as a broken delegation", func(t *testing.T) {
		m := &memDSRegistrar{memRegistrar: memRegistrar{ns: map[string][]string{"example.com": zone}}, ds: []DSRecord{{KeyTag: "31589"}}}
		_, err := PlanDelegation(ctx, m, "example.com", zone)
		var dsErr *DSRecordsError
		if !errors.As(err, &dsErr) || !dsErr.Delegated || !strings.Contains(err.Error(), "already delegates") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("DS records unreadable: refused, the cause kept", func(t *testing.T) {
		boom := errors.New("boom")
		m := &memDSRegistrar{memRegistrar: memRegistrar{ns: map[string][]string{}}, dsErr: boom}
		_, err := PlanDelegation(ctx, m, "example.com", zone)
		if !errors.Is(err, boom) || errors.Is(err, ErrDSRecords) || !strings.Contains(err.Error(), "DNSSEC DS records of example.com from memory") {
			t.Fatalf("err = %v", err)
		}
		if m.sets != 0 {
			t.Fatalf("sets = %d", m.sets)
		}
	})
}
