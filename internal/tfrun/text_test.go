package tfrun

import (
	"reflect"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	at := func(event, action string) Progress {
		return Progress{Done: 3, Total: 41, Resource: "module.network.aws_vpc.this", Action: action, Event: event, Elapsed: 75*time.Second + 400*time.Millisecond}
	}
	for _, c := range []struct {
		p    Progress
		want string
	}{
		{at("start", "create"), "[  3/41  1:15] creating module.network.aws_vpc.this..."},
		{at("progress", "delete"), "[  3/41  1:15] still destroying module.network.aws_vpc.this"},
		{at("complete", "replace"), "[  3/41  1:15] replaced module.network.aws_vpc.this"},
		{at("complete", "import"), "[  3/41  1:15] import done module.network.aws_vpc.this"},
		{at("errored", "update"), "[  3/41  1:15] FAILED to update module.network.aws_vpc.this"},
		{at("refresh", "read"), ""},
	} {
		if got := c.p.Line(); got != c.want {
			t.Errorf("%s %s: Line() = %q, want %q", c.p.Event, c.p.Action, got, c.want)
		}
	}
}

func TestSummaryRows(t *testing.T) {
	s := Summary{
		Modules: []ModuleChanges{{Add: 1}, {Module: "module.dns", Add: 2, Replace: 1}},
		Totals:  ModuleChanges{Add: 3, Replace: 1},
	}
	want := [][]string{
		{"MODULE", "ADD", "CHANGE", "DESTROY", "REPLACE"},
		{"(root)", "1", "0", "0", "0"},
		{"module.dns", "2", "0", "0", "1"},
		{"total", "3", "0", "0", "1"},
	}
	if got := s.Rows(); !reflect.DeepEqual(got, want) {
		t.Errorf("Rows() = %q, want %q", got, want)
	}
}
