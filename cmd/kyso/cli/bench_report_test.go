package cli

import (
	"strings"
	"testing"

	"github.com/kyso-dev/kyso/bench"
)

// TestPrintReportByPart: the text report gives each part's rate and ratio, and leaves both
// out for a run in one part.
func TestPrintReportByPart(t *testing.T) {
	var out strings.Builder
	printReport(&out, &bench.Report{KeyAlgorithm: "RSA-2048", DocumentsPerSession: 1, Parts: 3,
		PartsTransactionsPerSecond: []float64{749.4, 733, 676.6}, PartsRatio: []float64{0.751, 0.9, 0.784}})
	for _, want := range []string{"749, 733, 677", "0.75, 0.90, 0.78"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report without %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	printReport(&out, &bench.Report{KeyAlgorithm: "EC-P256", DocumentsPerSession: 1, Parts: 1, PartsTransactionsPerSecond: []float64{700}})
	if strings.Contains(out.String(), "by part") {
		t.Errorf("a run in one part reported by part:\n%s", out.String())
	}
}
