package check

import "strings"

// Rows are the report as a table a person reads: a row for the NS check,
// when the apex was checked one for the address check, and one for CAA.
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
	if rep.CAAChecked {
		rows = append(rows, []string{"CAA " + rep.Domain, yesNo(rep.CAAAllowed), rep.caaDetail()})
	}
	return rows
}

func (rep Report) caaDetail() string {
	switch {
	case rep.CAAError != "":
		return rep.CAAError
	case !rep.CAAAllowed:
		return rep.CAAReason
	case rep.CAADomain == "":
		return "none at " + rep.Domain + " or above: Let's Encrypt may issue"
	}
	at := rep.CAADomain
	if rep.CAAAliasTarget != "" {
		at += " (alias of " + rep.CAAAliasTarget + ")"
	}
	detail := at + ": " + strings.Join(rep.CAARecords, "; ")
	if rep.CAAReason != "" {
		detail += " (" + rep.CAAReason + ")"
	}
	return detail
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
