package cost

import (
	"fmt"
	"slices"
	"strings"
)

// unlimitedByDefault lists the burstable families that launch in unlimited
// mode unless told otherwise (EC2 User Guide, "Unlimited mode for
// burstable performance instances": "T4g, T3a, and T3 instances launch as
// unlimited by default"); T2, also burstable, launches as standard.
var unlimitedByDefault = map[string]bool{"t2": false, "t3": true, "t3a": true, "t4g": true}

// baselineBySize is the baseline utilization per vCPU, in percent, of the
// T3, T3a and T4g sizes: the same for the three families (EC2 User Guide,
// "Key concepts and definitions for burstable performance instances",
// credit table).
var baselineBySize = map[string]float64{
	"nano": 5, "micro": 10, "small": 20, "medium": 20, "large": 30, "xlarge": 40, "2xlarge": 40,
}

// burstableBaseline returns the baseline utilization per vCPU, in percent,
// of a T3, T3a or T4g type.
func burstableBaseline(typ string) (float64, bool) {
	family, size, _ := strings.Cut(typ, ".")
	if !unlimitedByDefault[family] { // T2's baselines differ; not in the tables
		return 0, false
	}
	b, ok := baselineBySize[size]
	return b, ok
}

// cpuCredits adds a no-price line for the surplus CPU credits of the
// burstable types among types when they run in unlimited mode (credits is
// the launch template's or instance's credit specification, "" for the
// default): an instance whose 24-hour average CPU stays at or below its
// baseline pays nothing more; above it, each vCPU-hour of surplus costs the
// family's rate. The usage is not known from a plan, so the rate and the
// baseline are named instead of a price.
func (p *pricer) cpuCredits(address, who string, types []string, credits string, ctl bool) {
	if credits == "standard" {
		return
	}
	var burst []string
	for _, typ := range types {
		family, _, _ := strings.Cut(typ, ".")
		byDefault, burstable := unlimitedByDefault[family]
		unlimited := credits == "unlimited" || credits == "" && byDefault
		if burstable && unlimited && !slices.Contains(burst, typ) {
			burst = append(burst, typ)
		}
	}
	if len(burst) == 0 {
		return
	}
	// The baseline(s): one figure when the types share it.
	baselines := map[float64]bool{}
	known := true
	for _, typ := range burst {
		b, ok := burstableBaseline(typ)
		known = known && ok
		baselines[b] = true
	}
	var above string
	switch {
	case known && len(baselines) == 1:
		b, _ := burstableBaseline(burst[0])
		above = fmt.Sprintf("above the %g %% baseline (%s)", b, strings.Join(burst, ", "))
	default:
		var each []string
		for _, typ := range burst {
			if b, ok := burstableBaseline(typ); ok {
				each = append(each, fmt.Sprintf("%s %g %%", typ, b))
			} else {
				each = append(each, typ)
			}
		}
		above = "above the baseline (" + strings.Join(each, ", ") + ")"
	}
	// The rate(s): one figure when the families share it.
	rates := map[string][]string{}
	var order []string
	for _, typ := range burst {
		family, _, _ := strings.Cut(typ, ".")
		r := "no rate in the price table"
		if v, ok := p.prices.CPUCreditVCPUHourly[family]; ok {
			r = fmt.Sprintf("%.2f %s", v, p.prices.Currency)
		}
		if _, seen := rates[r]; !seen {
			order = append(order, r)
		}
		rates[r] = append(rates[r], typ)
	}
	rate := order[0]
	if len(order) > 1 {
		var each []string
		for _, r := range order {
			each = append(each, fmt.Sprintf("%s (%s)", r, strings.Join(rates[r], ", ")))
		}
		rate = strings.Join(each, ", ")
	}
	p.add(Line{
		Address:    address,
		Service:    "EC2",
		Item:       fmt.Sprintf("%sCPU credits %s: %s per vCPU-hour (unlimited mode)", who, above, rate),
		NoPrice:    "unlimited mode (the T3/T3a/T4g default) bills surplus credits when the 24-hour average CPU exceeds the baseline; usage not estimated",
		Controller: ctl,
	})
}
