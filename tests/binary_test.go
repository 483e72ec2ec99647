package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// kysoBinary builds the kyso command once for every test that needs the real binary.
func kysoBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "kyso-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "kyso")
		goTool, err := exec.LookPath("go")
		if err != nil {
			binErr = err
			return
		}
		out, err := exec.Command(goTool, "build", "-o", binPath, "../cmd/kyso").CombinedOutput()
		if err != nil {
			binErr = err
			t.Logf("go build: %s", out)
		}
	})
	if binErr != nil {
		t.Fatalf("build kyso: %v", binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// TestKysoBenchCommand runs the real `kyso bench`, which starts its own server process and
// reads that process's CPU and memory, for a run by duration in two parts after a short
// warm-up, with the limit measured before, between and after them.
func TestKysoBenchCommand(t *testing.T) {
	out, err := exec.Command(kysoBinary(t), "bench", "--duration", "2s", "--warm-up", "500ms", "--limit-measurements", "3", "--workers", "4", "--json").Output()
	if err != nil {
		t.Fatalf("kyso bench: %v\n%s", err, out)
	}
	var r struct {
		Transactions                 int
		WarmUpTransactions           int
		TransactionsPerSecond        float64
		LimitTransactionsPerSecond   float64
		Ratio                        float64
		CPUSecondsPerTransaction     float64
		LoadCPUSecondsPerTransaction float64
		MachineBusy                  float64
		PeakRSSBytes                 int64
		LatencyMs                    struct{ P50, P95, P99, Max float64 }
		Errors                       map[string]int
		KeyAlgorithm                 string
		DocumentsPerSession          int
		Parts                        int
		PartsRatio                   []float64
		Limit                        struct {
			Components                    []struct{ Name string }
			Measurements                  int
			MeasuredTransactionsPerSecond []float64
		}
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out)
	}
	if r.Transactions == 0 || r.WarmUpTransactions == 0 || len(r.Errors) != 0 || r.KeyAlgorithm != "EC-P256" || r.DocumentsPerSession != 1 || r.Parts != 2 || r.Limit.Measurements != 3 {
		t.Fatalf("report %+v", r)
	}
	if r.CPUSecondsPerTransaction <= 0 || r.LoadCPUSecondsPerTransaction <= 0 || r.MachineBusy <= 0 || r.MachineBusy > 1 ||
		r.PeakRSSBytes <= 0 || r.LimitTransactionsPerSecond <= 0 || r.Ratio <= 0 || r.LatencyMs.Max <= 0 {
		t.Fatalf("figures missing: %+v", r)
	}
	if len(r.PartsRatio) != 2 || r.PartsRatio[0] <= 0 || r.PartsRatio[1] <= 0 {
		t.Fatalf("ratios by part %v, want one for each of the two parts", r.PartsRatio)
	}
	if m := r.Limit.MeasuredTransactionsPerSecond; len(m) != 3 || slices.Min(m) <= 0 {
		t.Fatalf("limit by measurement %v, want each of the three", m)
	}
	// The limit's round trips go to a peer in a process of its own, as the run's do.
	var twoProcesses bool
	for _, c := range r.Limit.Components {
		twoProcesses = twoProcesses || strings.HasPrefix(c.Name, "HTTP round trip") && strings.Contains(c.Name, "between two processes")
	}
	if !twoProcesses {
		t.Fatalf("limit components %+v: no round trip between two processes", r.Limit.Components)
	}
}

// environ returns the environment process pid was started with.
func environ(t *testing.T, pid int) []string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
}

// TestKysoBenchServerDiesWithIt: the server `kyso bench` starts does not outlive it, even
// when the bench is killed outright (Linux: the kernel stops the child).
func TestKysoBenchServerDiesWithIt(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the child's parent-death signal is Linux-only")
	}
	cmd := exec.Command(kysoBinary(t), "bench", "--duration", "1m", "--workers", "2")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	pid := 0
	sc := bufio.NewScanner(stderr)
	for pid == 0 && sc.Scan() {
		fmt.Sscanf(sc.Text(), "bench: started kyso serve (pid %d)", &pid)
	}
	go io.Copy(io.Discard, stderr)
	if pid == 0 {
		cmd.Process.Kill()
		t.Fatal("the bench did not say which server it started")
	}
	server, _ := os.FindProcess(pid)
	defer server.Kill() // if the test fails
	// The bench cannot remove its scratch directory when it is killed: the next bench does,
	// as its owner record says who made it (TestSweepScratch); here the test does.
	scratch := ""
	if args, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		a := strings.Split(string(args), "\x00")
		for i := range len(a) - 1 {
			if dir := filepath.Dir(a[i+1]); a[i] == "--data" && strings.HasPrefix(filepath.Base(dir), "kyso-bench-") {
				scratch = dir
				defer os.RemoveAll(dir)
			}
		}
	}
	if owner, err := os.ReadFile(filepath.Join(scratch, "owner")); err != nil || !strings.HasPrefix(string(owner), fmt.Sprint(cmd.Process.Pid, " ")) {
		t.Errorf("the server's data directory is not in a scratch directory owned by the bench (pid %d): %q, %v", cmd.Process.Pid, owner, err)
	}
	// The load generator restarts itself with MADV_FREE for what it frees, unless the
	// GODEBUG it was given chooses madvdontneed; the server runs with the environment the
	// bench was given.
	given := ""
	if v, ok := os.LookupEnv("GODEBUG"); ok {
		given = "GODEBUG=" + v
	}
	if env := environ(t, cmd.Process.Pid); !strings.Contains(given, "madvdontneed=") && !slices.ContainsFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "GODEBUG=") && strings.HasSuffix(kv, "madvdontneed=0")
	}) {
		t.Errorf("the bench runs with %q, want GODEBUG with madvdontneed=0", env)
	}
	if env := environ(t, pid); slices.ContainsFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "KYSO_BENCH_") || strings.HasPrefix(kv, "GODEBUG=") && kv != given
	}) {
		t.Errorf("the bench's server runs with %q, want the GODEBUG the bench was given (%q)", env, given)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		// Gone, or a zombie until init reaps it: either way no longer serving.
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		if i == 200 {
			t.Fatalf("the bench's server (pid %d) still runs 10 s after the bench was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// benchInRun starts the real `kyso bench` and returns once its load is about to start (its
// first measurement of the limit made), with the server it started, that server's scratch
// directory, and what the bench has said so far.
type benchInRun struct {
	cmd     *exec.Cmd
	stdout  strings.Builder
	said    strings.Builder
	stderr  *bufio.Scanner
	server  int
	scratch string
}

func startBenchRun(t *testing.T) *benchInRun {
	t.Helper()
	b := &benchInRun{cmd: exec.Command(kysoBinary(t), "bench", "--duration", "1m", "--workers", "2", "--warm-up", "0s")}
	b.cmd.Stdout = &b.stdout
	stderr, err := b.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.cmd.Process.Kill() }) // if the test fails
	running := false
	b.stderr = bufio.NewScanner(stderr)
	for !running && b.stderr.Scan() {
		line := b.stderr.Text()
		fmt.Fprintln(&b.said, line)
		fmt.Sscanf(line, "bench: started kyso serve (pid %d)", &b.server)
		running = strings.HasPrefix(line, "bench: limit 1 of ") // the load starts now
	}
	if b.server == 0 || !running {
		t.Fatalf("the bench did not start its run:\n%s", b.said.String())
	}
	if args, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", b.server)); err == nil {
		a := strings.Split(string(args), "\x00")
		for i := range len(a) - 1 {
			if a[i] == "--data" {
				b.scratch = filepath.Dir(a[i+1])
			}
		}
	}
	time.Sleep(500 * time.Millisecond) // into the run
	return b
}

// end waits for the bench to end, at most 30 s, and checks that it failed with the message
// want, printed no report, and left neither its server nor its scratch directory.
func (b *benchInRun) end(t *testing.T, want string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { // the rest of what it says, then its end (Wait closes the pipe)
		for b.stderr.Scan() {
			fmt.Fprintln(&b.said, b.stderr.Text())
		}
		done <- b.cmd.Wait()
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the bench still runs after 30 s")
	}
	if code := b.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(b.said.String(), want) || b.stdout.Len() != 0 {
		t.Fatalf("exit %d (%v), stdout %q, stderr:\n%s", code, err, b.stdout.String(), b.said.String())
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.server)); err == nil && !strings.Contains(string(stat), ") Z ") {
		t.Errorf("the bench's server (pid %d) outlived it", b.server)
	}
	if _, err := os.Stat(b.scratch); b.scratch == "" || !os.IsNotExist(err) {
		t.Errorf("scratch directory %q left behind (%v)", b.scratch, err)
	}
}

// TestKysoBenchInterrupted: a bench interrupted in its run (Ctrl-C) stops promptly, says so
// instead of what it was doing at the time, prints no report, and leaves neither its server
// nor its scratch directory behind.
func TestKysoBenchInterrupted(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	b := startBenchRun(t)
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	b.end(t, "kyso: bench: interrupted before the run ended: no report")
}

// TestKysoBenchEndsWhenItsServerDies: when the server the bench started dies during the run,
// the bench ends at once and says so, instead of counting failed requests to the end of the
// run.
func TestKysoBenchEndsWhenItsServerDies(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	b := startBenchRun(t)
	server, _ := os.FindProcess(b.server)
	if err := server.Kill(); err != nil {
		t.Fatal(err)
	}
	b.end(t, fmt.Sprintf("kyso: bench: the kyso serve it started (pid %d) exited during the run (signal: killed)", b.server))
}
