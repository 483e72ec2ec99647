package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/bench"
	"github.com/kyso-dev/kyso/cmd/kyso/app"
)

func withBenchLimits(c *app.Config) {
	c.SessionsPerSecond = 1_000_000
	c.MaxPendingPerUser = 1_000_000
	c.ActivationsPerMinute = 1_000_000
}

// TestBenchCountsOnlyVerifiedTransactions: a short run counts exactly the transactions it
// asked for, each completed and its signature verified; no timing is asserted. The run's
// CPU cap is reported and lifted afterwards, and its batch scheduling reported.
func TestBenchCountsOnlyVerifiedTransactions(t *testing.T) {
	e := startEnv(t, withBenchLimits)
	procs := runtime.GOMAXPROCS(0)
	rep, err := bench.Run(context.Background(), bench.Config{Server: e.url, OperatorToken: e.opToken, Workers: 4, Devices: 4,
		Requests: 20, Duration: time.Minute, Procs: 1, BatchScheduling: true})
	must(t, err)
	if rep.Transactions != 20 || len(rep.Errors) != 0 {
		t.Fatalf("%d transactions, errors %v", rep.Transactions, rep.Errors)
	}
	if rep.LoadProcs != 1 || runtime.GOMAXPROCS(0) != procs {
		t.Fatalf("load generator on %d CPU(s) during the run, GOMAXPROCS %d after it (want 1, then %d)", rep.LoadProcs, runtime.GOMAXPROCS(0), procs)
	}
	if rep.LoadBatchScheduling != (runtime.GOOS == "linux") {
		t.Fatalf("load generator under SCHED_BATCH: %v on %s", rep.LoadBatchScheduling, runtime.GOOS)
	}
	for _, stage := range []string{"create", "deviceFetch", "decisionToSigned", "endToEnd"} {
		if rep.StagesMs[stage].N == 0 {
			t.Errorf("no %s latencies", stage)
		}
	}
	if rep.StagesMs["endToEnd"].N != 20 || rep.LatencyMs.Max <= 0 {
		t.Fatalf("end-to-end latencies %+v", rep.StagesMs["endToEnd"])
	}
	// The limit: a device on its event stream receives the request as an event, a polling
	// device fetches it with one more signed round trip.
	for _, poll := range []bool{false, true} {
		lim, err := bench.MeasureLimit(context.Background(), bench.LimitConfig{Poll: poll, Dir: t.TempDir(), Each: 30 * time.Millisecond})
		must(t, err)
		events, roundTrips := 0.0, 0.0
		for _, c := range lim.Components {
			if c.OpsPerSecond <= 0 || c.MsPerTx <= 0 {
				t.Fatalf("poll=%v: component %+v", poll, c)
			}
			switch {
			case strings.HasPrefix(c.Name, "event delivered on an open stream"):
				events = c.PerTransaction
			case strings.HasPrefix(c.Name, "HTTP round trip"):
				roundTrips = c.PerTransaction
			}
		}
		want := [2]float64{1, 3}
		if poll {
			want = [2]float64{0, 4}
		}
		if lim.TransactionsPerSecond <= 0 || [2]float64{events, roundTrips} != want {
			t.Fatalf("poll=%v: %v events and %v round trips per transaction, want %v; limit %+v", poll, events, roundTrips, want, lim)
		}
	}
}

// TestBenchByDurationCountsAfterWarmUp: a run by duration counts the transactions
// completed between the end of its warm-up (a tenth of a short run) and its end, and
// keeps every latency.
func TestBenchByDurationCountsAfterWarmUp(t *testing.T) {
	e := startEnv(t, withBenchLimits)
	rep, err := bench.Run(context.Background(), bench.Config{Server: e.url, OperatorToken: e.opToken, Workers: 4, Devices: 4,
		Duration: 2 * time.Second, Procs: 1})
	must(t, err)
	if len(rep.Errors) != 0 || rep.Transactions == 0 {
		t.Fatalf("%d transactions, errors %v", rep.Transactions, rep.Errors)
	}
	// 0.2 s of the run's 2 s are its warm-up.
	if rep.WarmUpSeconds < 0.15 || rep.WarmUpSeconds > 1 || rep.Seconds < 1 || rep.Seconds > 1.85 || rep.Parts != 1 {
		t.Fatalf("warm-up %.2f s, counted %.2f s", rep.WarmUpSeconds, rep.Seconds)
	}
	if n := rep.StagesMs["endToEnd"].N; n < rep.Transactions {
		t.Fatalf("%d end-to-end latencies for %d counted transactions", n, rep.Transactions)
	}
	if got := rep.TransactionsPerSecond * rep.Seconds; got < float64(rep.Transactions)-0.5 || got > float64(rep.Transactions)+0.5 {
		t.Fatalf("%.1f transactions/s over %.2f s for %d transactions", rep.TransactionsPerSecond, rep.Seconds, rep.Transactions)
	}
}

// TestBenchWarmUpIsNotCounted: a run by duration with a warm-up drives its load for that
// long first and counts only its part after it, saying how much it left uncounted.
func TestBenchWarmUpIsNotCounted(t *testing.T) {
	e := startEnv(t, withBenchLimits)
	rep, err := bench.Run(context.Background(), bench.Config{Server: e.url, OperatorToken: e.opToken, Workers: 4, Devices: 4,
		Duration: time.Second, WarmUp: time.Second, Procs: 1})
	must(t, err)
	if len(rep.Errors) != 0 || rep.Transactions == 0 || rep.WarmUpTransactions == 0 {
		t.Fatalf("%d transactions after %d in the warm-up, errors %v", rep.Transactions, rep.WarmUpTransactions, rep.Errors)
	}
	// The part counts at most its own second; the warm-up's second and the part's start
	// are reported as uncounted.
	if rep.Seconds > 1 || rep.WarmUpSeconds < 1.05 || rep.WarmUpSeconds > 2 {
		t.Fatalf("counted %.2f s, uncounted %.2f s", rep.Seconds, rep.WarmUpSeconds)
	}
	if n := rep.StagesMs["endToEnd"].N; n < rep.Transactions {
		t.Fatalf("%d end-to-end latencies for %d counted transactions", n, rep.Transactions)
	}
}

// TestBenchHoldSmall: the hold mode at small scale returns sane figures, with the
// long-polls and streams on their own HTTP/1.1 connections or multiplexed over HTTP/2.
func TestBenchHoldSmall(t *testing.T) {
	for _, http2 := range []bool{false, true} {
		t.Run(fmt.Sprint("http2=", http2), func(t *testing.T) {
			e := startEnv(t, withBenchLimits)
			rep, err := bench.Hold(context.Background(), bench.HoldConfig{Server: e.url, OperatorToken: e.opToken, PID: os.Getpid(),
				Pending: 20, LongPolls: 5, Streams: 4, HTTP2: http2})
			must(t, err)
			if rep.PendingSessions != 20 || rep.LongPolls != 5 || rep.Streams != 4 || len(rep.Errors) != 0 {
				t.Fatalf("hold %+v", rep)
			}
			if rep.BaselineRSSBytes <= 0 || rep.AfterHalfPendingRSSBytes <= 0 || rep.AfterPendingRSSBytes <= 0 || rep.AfterConnectionsRSSBytes <= 0 {
				t.Fatalf("RSS figures %+v", rep)
			}
		})
	}
}

// TestBenchReportWithoutTransactions: a run that completes nothing still reports figures
// that encode (no division by zero, no NaN in the JSON).
func TestBenchReportWithoutTransactions(t *testing.T) {
	e := startEnv(t, withBenchLimits)
	rep, err := bench.Run(context.Background(), bench.Config{Server: e.url, OperatorToken: e.opToken, PID: os.Getpid(),
		Workers: 2, Duration: time.Nanosecond})
	must(t, err)
	if rep.Transactions != 0 || rep.CPUSecondsPerTransaction != 0 || rep.LoadCPUSecondsPerTransaction != 0 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatalf("the report does not encode: %v", err)
	}
}

// TestBenchPausesAWorkerAfterAFailure: a server that refuses (here its rate limit) is not
// hammered: each worker waits after a failed transaction, so two workers in half a second
// fail at most 2 × (0.5 s / 10 ms) + 2 times, however fast the machine; without the pause
// they fail thousands of times.
func TestBenchPausesAWorkerAfterAFailure(t *testing.T) {
	e := startEnv(t, withBenchLimits, func(c *app.Config) { c.SessionsPerSecond = 1 })
	rep, err := bench.Run(context.Background(), bench.Config{Server: e.url, OperatorToken: e.opToken, Workers: 2, Devices: 2,
		Duration: 500 * time.Millisecond, Parts: 1})
	must(t, err)
	failed := rep.Errors["RATE_LIMITED"]
	if failed == 0 || failed > 2*50+2 {
		t.Fatalf("%d RATE_LIMITED in a run of 0.5 s with 2 workers (errors %v), want 1 to 102", failed, rep.Errors)
	}
}

// TestBenchEndsWhenReadyFails: an error from Ready (the first measurement of the limit) ends
// the run with it, before any transaction.
func TestBenchEndsWhenReadyFails(t *testing.T) {
	e := startEnv(t, withBenchLimits)
	failed := errors.New("no limit")
	_, err := bench.Run(context.Background(), bench.Config{Server: e.url, OperatorToken: e.opToken, Workers: 2, Devices: 2,
		Duration: time.Second, Ready: func() error { return failed }})
	if !errors.Is(err, failed) {
		t.Fatalf("run: %v, want the Ready error", err)
	}
	if strings.Contains(string(e.logs.Bytes()), `"path":"/v1/signatures"`) {
		t.Fatal("a session was created after Ready failed")
	}
}

// TestBenchInPartsPausesBetweenThem: a run by duration in parts pauses between each two and
// calls Between there, once every transaction under way has ended (each session created so
// far has had its decision answered), with the polling devices quiet and the load
// generator's CPU cap lifted; each part is counted after its own warm-up.
func TestBenchInPartsPausesBetweenThem(t *testing.T) {
	e := startEnv(t, withBenchLimits)
	procs := runtime.GOMAXPROCS(0)
	requests := func(method, pathPart string) int {
		n := 0
		for line := range strings.Lines(string(e.logs.Bytes())) {
			var l struct{ Msg, Method, Path string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "http" && l.Method == method && strings.Contains(l.Path, pathPart) {
				n++
			}
		}
		return n
	}
	var pauses int
	between := func() error {
		pauses++
		if got := runtime.GOMAXPROCS(0); got != procs {
			return fmt.Errorf("pause %d: GOMAXPROCS %d, want %d as before the run", pauses, got, procs)
		}
		// A decision's log line follows its answer, which may end the transaction first.
		created, decided := 0, -1
		for i := 0; i < 100 && created != decided; i++ {
			if i > 0 {
				time.Sleep(10 * time.Millisecond)
			}
			created, decided = requests("POST", "/v1/signatures"), requests("POST", "/decision")
		}
		if created == 0 || created != decided {
			return fmt.Errorf("pause %d: %d sessions created, %d decisions answered: transactions still under way", pauses, created, decided)
		}
		polls := requests("GET", "/device/v1/sessions")
		time.Sleep(100 * time.Millisecond) // five of the devices' polling intervals
		if n := requests("GET", "/device/v1/sessions") - polls; n > 4 {
			return fmt.Errorf("pause %d: the devices polled %d times", pauses, n)
		}
		if n := requests("POST", "/v1/signatures") - created; n != 0 {
			return fmt.Errorf("pause %d: %d sessions created", pauses, n)
		}
		return nil
	}
	var readies int
	ready := func() error { // once, set up, before any load
		readies++
		if n := requests("POST", "/device/v1/activate"); n != 4 {
			return fmt.Errorf("ready: %d devices activated, want 4", n)
		}
		if n := requests("POST", "/v1/signatures"); n != 0 || pauses != 0 {
			return fmt.Errorf("ready: %d sessions created, %d pauses: not before the load", n, pauses)
		}
		return nil
	}
	rep, err := bench.Run(context.Background(), bench.Config{Server: e.url, OperatorToken: e.opToken, Workers: 4, Devices: 4,
		Duration: 3 * time.Second, Poll: true, Procs: 1, Parts: 3, Ready: ready, Between: between})
	must(t, err)
	if readies != 1 || pauses != 2 || rep.Parts != 3 || len(rep.PartsTransactionsPerSecond) != 3 || len(rep.Errors) != 0 {
		t.Fatalf("ready %d times, %d pauses, %d parts (%v tx/s), errors %v", readies, pauses, rep.Parts, rep.PartsTransactionsPerSecond, rep.Errors)
	}
	// Three parts of 1 s, each counted after a warm-up of a tenth of it.
	if rep.WarmUpSeconds < 0.25 || rep.WarmUpSeconds > 0.6 || rep.Seconds < 2.5 || rep.Seconds > 2.9 || rep.Transactions == 0 {
		t.Fatalf("warm-ups %.2f s, counted %.2f s, %d transactions", rep.WarmUpSeconds, rep.Seconds, rep.Transactions)
	}
	for _, r := range rep.PartsTransactionsPerSecond {
		if r <= 0 {
			t.Fatalf("a part without transactions: %v", rep.PartsTransactionsPerSecond)
		}
	}
	if runtime.GOMAXPROCS(0) != procs {
		t.Fatalf("GOMAXPROCS %d after the run, want %d", runtime.GOMAXPROCS(0), procs)
	}
}
