package check

import "strings"

// Rows are the report as a table a person reads: a row for the NS check
// and, when the apex was checked, one for the address check.
func (rep Report) Rows() [][]string {
	rows := [][]string{
		{"CHECK", "OK", "DETAIL"},
		{"NS " + rep.Domain, yesNo(rep.NSPropagated), rep.nsDetail()},
	}
	if rep.ApexChecked {
		detail := "apex " + orNone(rep.ApexAddrs) + "; NLB " + rep.NLBDNSName + " " + orNone(rep.NLBAddrs)
		if rep.ApexError != "" {
			detail = rep.ApexError
		}
		rows = append(rows, []string{"A " + rep.Domain, yesNo(rep.ApexPropagated), detail})
	}
	return rows
}

func (rep Report) nsDetail() string {
	if rep.NSError != "" {
		return rep.NSError
	}
	if rep.NSPropagated {
		return strings.Join(rep.NameServers, " ")
	}
	return "resolver: " + orNone(rep.NameServers) + "; zone: " + strings.Join(rep.WantNameServers, " ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, " ")
}
