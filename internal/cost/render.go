package cost

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	tfjson "github.com/hashicorp/terraform-json"
)

// Money formats a range: "12.34" or "12.34..56.78".
func (r Range) Money() string {
	if fmt.Sprintf("%.2f", r.Low) == fmt.Sprintf("%.2f", r.High) {
		return fmt.Sprintf("%.2f", r.Low)
	}
	return fmt.Sprintf("%.2f..%.2f", r.Low, r.High)
}

// WriteJSON writes the estimate as indented JSON.
func (e *Estimate) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(e); err != nil {
		return fmt.Errorf("writing cost estimate as JSON: %w", err)
	}
	return nil
}

// WriteText writes the estimate as a table, the total, the assumptions and
// the EKS comparison.
func (e *Estimate) WriteText(w io.Writer) error {
	var b strings.Builder
	title := "Monthly on-demand cost"
	if e.SpotPricesAsOf != "" {
		title = "Monthly cost (on-demand, Spot at typical prices)"
	}
	if e.Environment != "" {
		title += " of " + e.Environment
	}
	fmt.Fprintf(&b, "%s in %s (%s; prices as of %s)\n\n", title, e.Region, e.Currency, e.PricesAsOf)

	rows := [][4]string{{"SERVICE", "ITEM", "MONTHLY", "RESOURCE"}}
	for _, l := range e.Lines {
		amount := l.Monthly.Money()
		if !l.Priced {
			amount = "no price"
		}
		rows = append(rows, [4]string{l.Service, l.Item, amount, l.Address})
	}
	rows = append(rows, [4]string{"", "Total (desired..max workers)", e.Total.Money(), ""})
	var width [4]int
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for i, r := range rows {
		if i == len(rows)-1 {
			fmt.Fprintf(&b, "%s\n", strings.Repeat("-", width[0]+width[1]+width[2]+4))
		}
		line := fmt.Sprintf("%s  %s  %s  %s", pad(r[0], width[0]), pad(r[1], width[1]), padLeft(r[2], width[2]), r[3])
		fmt.Fprintf(&b, "%s\n", strings.TrimRight(line, " "))
	}

	for _, l := range e.Lines {
		if !l.Priced {
			fmt.Fprintf(&b, "no price: %s: %s\n", l.Address, l.NoPrice)
		}
	}
	a := e.Assumptions
	fmt.Fprintf(&b, "\nAssumptions: %g hours/month; %g GB processed by the NLB (%.3f NLCU on average); %g GB processed per NAT gateway; "+
		"%g GB on EFS; %g GB per S3 bucket; %g GB of VPC flow logs",
		a.HoursPerMonth, a.NLBDataGB, a.NLBCapacityUnits(), a.NATDataGB, a.EFSStorageGB, a.S3StorageGB, a.FlowLogsGB)
	for _, n := range e.NotIncluded {
		fmt.Fprintf(&b, "; %s not included", n)
	}
	fmt.Fprintf(&b, ".\n")
	fmt.Fprintf(&b, "\nSame workers on EKS: %s %s/month (control-plane fee %.2f added, control-plane node %s removed; difference %s).\n",
		e.EKS.Total.Money(), e.Currency, e.EKS.ControlPlaneFee, e.EKS.ControllerRemove.Money(), signed(e.EKS.Difference))
	if len(e.Levers) == 0 {
		fmt.Fprintf(&b, "\nBiggest savings left: none of Spot, Graviton, one AZ or no NAT gateway applies any more.\n")
	}
	if len(e.Levers) > 0 {
		fmt.Fprintf(&b, "\nBiggest savings left (%s/month):\n", e.Currency)
		for i, l := range e.Levers {
			fmt.Fprintf(&b, "  %d. %s: -%s: %s\n     tradeoff: %s\n", i+1, l.Name, l.Saving.Money(), l.Change, l.Tradeoff)
		}
	}
	for _, n := range e.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	fmt.Fprintf(&b, "Prices: %s\n", e.PricesSource)
	if e.SpotPricesAsOf != "" {
		fmt.Fprintf(&b, "Spot prices (typical, as of %s): %s\n", e.SpotPricesAsOf, e.SpotPricesSource)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing cost estimate: %w", err)
	}
	return nil
}

// Summary is a one-line estimate for previews such as `kforge up`.
func (e *Estimate) Summary() string {
	s := fmt.Sprintf("estimated cost: %s %s/month on demand in %s (EKS with the same workers: %s)",
		e.Total.Money(), e.Currency, e.Region, e.EKS.Total.Money())
	if e.Unpriced > 0 {
		s += fmt.Sprintf("; %d item(s) without a price", e.Unpriced)
	}
	return s
}

func signed(r Range) string {
	f := func(v float64) string { return fmt.Sprintf("%+.2f", v) }
	if f(r.Low) == f(r.High) {
		return f(r.Low)
	}
	return f(r.Low) + ".." + f(r.High)
}

func pad(s string, n int) string {
	return s + strings.Repeat(" ", n-utf8.RuneCountInString(s))
}

func padLeft(s string, n int) string {
	return strings.Repeat(" ", n-utf8.RuneCountInString(s)) + s
}

// PreviewLine estimates a plan and returns Summary(), for commands that show
// the cost next to a plan they are about to apply.
func PreviewLine(plan *tfjson.Plan) (string, error) {
	e, err := FromPlan(plan, Options{})
	if err != nil {
		return "", err
	}
	return e.Summary(), nil
}

// MarshalJSON writes the amounts rounded to the cent: float sums such as
// 33.288000000000004 say nothing more and make diffs noisy.
func (r Range) MarshalJSON() ([]byte, error) {
	cents := func(v float64) float64 { return math.Round(v*100) / 100 }
	return json.Marshal(struct {
		Low  float64 `json:"low"`
		High float64 `json:"high"`
	}{cents(r.Low), cents(r.High)})
}
