package cli

import (
	"strings"
	"testing"

	"github.com/kyso-dev/kyso/bench"
)

// TestPrintReportByPart: the text report gives each part's rate and ratio (none for a run in
// one part), each measurement of the limit with a hint when they differ by more than a
// fifth, and the store's capacity under its writes.
func TestPrintReportByPart(t *testing.T) {
	var out strings.Builder
	printReport(&out, &bench.Report{KeyAlgorithm: "RSA-2048", DocumentsPerSession: 1, Parts: 3,
		PartsTransactionsPerSecond: []float64{749.4, 733, 676.6}, PartsRatio: []float64{0.751, 0.9, 0.784},
		Limit: &bench.Limit{Measurements: 4, MeasuredTransactionsPerSecond: []float64{823, 856, 701.4, 1154},
			Components: []bench.Component{{Name: "writes", PerTransaction: 3, OpsPerSecond: 120_000, MsPerTx: 0.025, CapacityPerSecond: 51_990}}}})
	for _, want := range []string{"749, 733, 677", "0.75, 0.90, 0.78", "823, 856, 701, 1154", "differ by 65 %", "17330 transactions/s", "51990"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report without %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	printReport(&out, &bench.Report{KeyAlgorithm: "RSA-2048", DocumentsPerSession: 1, Parts: 2,
		PartsTransactionsPerSecond: []float64{749, 733}, PartsRatio: []float64{0.8, 0.81},
		Limit: &bench.Limit{Measurements: 3, MeasuredTransactionsPerSecond: []float64{900, 950, 1000}}})
	if !strings.Contains(out.String(), "900, 950, 1000") || strings.Contains(out.String(), "differ by") {
		t.Errorf("measurements within a fifth of each other: listed, without the drift hint:\n%s", out.String())
	}
	out.Reset()
	printReport(&out, &bench.Report{KeyAlgorithm: "EC-P256", DocumentsPerSession: 1, Parts: 1, PartsTransactionsPerSecond: []float64{700},
		Limit: &bench.Limit{Measurements: 2, MeasuredTransactionsPerSecond: []float64{2400, 2500}}})
	if strings.Contains(out.String(), "by part") || !strings.Contains(out.String(), "2400, 2500") || !strings.Contains(out.String(), "(before and after the run)") {
		t.Errorf("a run in one part: reported by part, or its two limits not as measured before and after it:\n%s", out.String())
	}
}

// TestPrintReportOfAnotherServer: against a server the bench did not start, the server's CPU
// and memory are not measured, and the report says so instead of printing zeros; errors that
// are the server's own limits at work say which setting to change.
func TestPrintReportOfAnotherServer(t *testing.T) {
	var out strings.Builder
	printReport(&out, &bench.Report{KeyAlgorithm: "EC-P256", DocumentsPerSession: 1, Parts: 1, Errors: map[string]int{"RATE_LIMITED": 52508}})
	for _, label := range []string{"server CPU per transaction", "server peak RSS"} {
		if !strings.Contains(reportLine(out.String(), label), "not measured") {
			t.Errorf("%s: not said to be not measured:\n%s", label, out.String())
		}
	}
	if !strings.Contains(reportLine(out.String(), "errors"), "higher --rp-rate") {
		t.Errorf("RATE_LIMITED without its hint:\n%s", out.String())
	}
	out.Reset()
	printReport(&out, &bench.Report{KeyAlgorithm: "EC-P256", DocumentsPerSession: 1, Parts: 1, CPUSecondsPerTransaction: 0.0007, PeakRSSBytes: 150 << 20,
		Errors: map[string]int{"TOO_MANY_PENDING_SESSIONS": 3}})
	for _, want := range []string{"0.70 ms", "150.0 MiB", "--max-pending"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report without %q:\n%s", want, out.String())
		}
	}
}

// reportLine is the line of the text report that starts with label.
func reportLine(report, label string) string {
	for line := range strings.Lines(report) {
		if strings.HasPrefix(line, label) {
			return line
		}
	}
	return ""
}
