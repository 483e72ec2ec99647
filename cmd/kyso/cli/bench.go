package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kyso-dev/kyso/bench"
	"github.com/kyso-dev/kyso/cmd/kyso/app"
	"github.com/kyso-dev/kyso/signing"
)

const benchUsage = `kyso bench [flags]          measure complete transactions
kyso bench --hold [flags]   measure what pending sessions and open connections cost

Without --server it starts its own kyso serve on a temporary data directory (and reads that
process's CPU time and memory from /proc). Every run is bounded by --duration and/or
--requests and stops by itself; interrupted, or if the server it started exits, it ends at
once without a report. On Linux it restarts itself with GODEBUG=madvdontneed=0
(fewer page faults in the load generator) unless GODEBUG sets madvdontneed; the servers it
starts get the environment it was given.
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	// A run ended early says why (a signal, its server's exit), not which step it broke.
	var serverExit func() error // how the server the bench started ended, if before its stop
	defer func() {
		switch {
		case err == nil:
		case ctx.Err() != nil:
			err = errors.New("bench: interrupted before the run ended: no report")
		case serverExit != nil && serverExit() != nil:
			err = serverExit()
		}
	}()
	fs := newFlags("bench", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	server := fs.String("server", "", "an existing server (default: start one)")
	tokenFile := fs.String("token-file", "", "admin operator token of --server")
	workers := fs.Int("workers", 128, "relying-party workers (concurrent transactions)")
	devices := fs.Int("devices", 0, "simulated devices (users); default: as many as workers")
	key := fs.String("key", "EC-P256", "key type: EC-P256, EC-P384, RSA-2048, RSA-3072")
	docs := fs.Int("documents", 1, "documents per session")
	duration := fs.Duration("duration", 10*time.Second, "how long to run")
	warmUp := fs.Duration("warm-up", 5*time.Second, "how long a run by --duration drives its load before counting (not part of --duration): in their\nfirst seconds of load the server and the load generator grow to their working size and each transaction\ncosts more; its latencies are not kept, its errors are (0: none)")
	requests := fs.Int("requests", 0, "stop after this many transactions (0: run for --duration)")
	poll := fs.Bool("poll", false, "devices poll instead of following the event stream")
	asJSON := fs.Bool("json", false, "print one JSON object")
	hold := fs.Bool("hold", false, "hold pending sessions and connections instead, and report their memory")
	pending := fs.Int("pending", 10000, "hold: pending sessions")
	longPolls := fs.Int("long-polls", 1000, "hold: open long-polls")
	streams := fs.Int("streams", 1000, "hold: open device event streams")
	http2 := fs.Bool("http2", false, "hold: open the long-polls and streams as HTTP/2 requests, many to a connection (default: one HTTP/1.1 connection each)")
	serverPprof := fs.String("server-pprof", "", "start the server with --pprof on this address, to profile it during the run")
	cpuProfile := fs.String("cpu-profile", "", "write the load generator's own CPU profile to this file (from the end of the setup to the run's first\npause: the warm-up and the first part, without the limit)")
	limitCount := fs.Int("limit-measurements", 5, "how often a run by duration measures the machine's limit: before the run, after it, and between\nequal parts of it, when nothing else runs (at least 2: before and after; a run by --requests measures it twice)")
	servePeer := fs.Bool("serve-peer", false, "serve only the minimal HTTP peer that the limit's round trips are measured against, on 127.0.0.1,\nprinting its address, until standard input closes (the bench starts one itself)")
	loadBatch := fs.Bool("load-batch", true, "run the load generator under Linux's SCHED_BATCH during the run, so that its wake-ups do not preempt\nthe server's threads (--load-batch=false: normal scheduling)")
	loadProcs := fs.Int("load-procs", 0, "CPUs the load generator may use during the run (GOMAXPROCS); default: half of them when\nthe tool starts the server on this machine, all with --server")
	if err := flagsOnly(fs, args); err != nil {
		return err
	}
	if err := cmp.Or(atLeast(fs, 1, "workers", "documents"), atLeast(fs, 2, "limit-measurements"),
		atLeast(fs, 0, "devices", "requests", "load-procs", "pending", "long-polls", "streams"), notNegative(fs, "warm-up")); err != nil {
		return err
	}
	switch {
	case *duration <= 0:
		return usagef("bench: --duration must be positive, not %v", *duration)
	case *docs > signing.MaxDocuments:
		return usagef("bench: --documents must be at most %d (a session's limit), not %d", signing.MaxDocuments, *docs)
	case !signing.KeyAlgorithm(*key).Valid():
		return usagef("bench: --key must be EC-P256, EC-P384, RSA-2048 or RSA-3072, not %q", *key)
	case *hold && *server != "":
		return usagef("bench: --hold reads the memory of a server it starts itself: leave out --server")
	case *hold && *pending+*longPolls+*streams == 0:
		return usagef("bench: --hold with nothing to hold: give --pending, --long-polls or --streams")
	case *hold && *cpuProfile != "":
		return usagef("bench: --cpu-profile profiles the load of a run, not --hold")
	case *server != "" && *tokenFile == "":
		return usagef("bench: --token-file is required with --server")
	case *server != "" && !plainHTTPURL(*server):
		return usagef("bench: --server must be an http:// URL (the load generator speaks plain HTTP), not %q", *server)
	}
	if *servePeer {
		return serveBenchPeer(stdout)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	if err := restartForLoad(); err != nil {
		logf("the load generator keeps Go's MADV_DONTNEED for the memory it frees: restarting with GODEBUG=%s failed: %v", loadGODEBUG, err)
	} else if _, restarted := os.LookupEnv(benchGODEBUGVar); restarted {
		logf("the load generator hands the memory it frees back to the kernel with MADV_FREE (GODEBUG=%s); the servers it starts keep the environment it was given", loadGODEBUG)
	}
	if (*requests > 0 || *hold) && flagGiven(fs, "warm-up") {
		logf("--warm-up applies only to a run by --duration: this run does not warm up")
	}
	prof, err := createCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer prof.stop()
	sweepScratch(logf)
	scratch, err := newScratch()
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch) // after the server has stopped: deferred before it

	// The run ends at once if the server the bench started exits during it.
	run, endRun := context.WithCancel(ctx)
	defer endRun()
	serverURL, token, pid := *server, "", 0
	if serverURL == "" {
		child, err := startChild(ctx, stderr, *serverPprof, scratch)
		if err != nil {
			return err
		}
		defer child.stop()
		serverExit = child.exitedEarly
		go func() {
			select {
			case <-child.exited:
				endRun()
			case <-run.Done():
			}
		}()
		serverURL, token, pid = child.url, child.token, child.pid
		logf("started kyso serve (pid %d) at %s", pid, serverURL)
	} else {
		var err error
		if token, err = readSecret(*tokenFile, "", "--token-file"); err != nil {
			return err
		}
	}

	if *hold {
		if conns := *longPolls + *streams; *pending > 0 && *pending < 1000 || conns > 0 && conns < 1000 {
			logf("fewer than 1000 sessions or connections: RSS grows by whole pages and buffers, so a figure per item is coarse")
		}
		rep, err := bench.Hold(run, bench.HoldConfig{Server: serverURL, OperatorToken: token, PID: pid, Pending: *pending,
			LongPolls: *longPolls, Streams: *streams, HTTP2: *http2, Logf: logf})
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, rep)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "pending sessions\t%d\t%.0f bytes RSS each (what the second half added)\n", rep.PendingSessions, rep.RSSPerPendingSessionBytes)
		over := "each on its own HTTP/1.1 connection"
		if *http2 {
			over = "as HTTP/2 requests, many to a connection"
		}
		fmt.Fprintf(tw, "open long-polls + streams\t%d + %d\t%.0f bytes RSS each (%s)\n", rep.LongPolls, rep.Streams, rep.RSSPerConnectionBytes, over)
		fmt.Fprintf(tw, "server RSS\t%s → %s → %s → %s\t(start, half the sessions, all, connections)\n", mib(rep.BaselineRSSBytes), mib(rep.AfterHalfPendingRSSBytes), mib(rep.AfterPendingRSSBytes), mib(rep.AfterConnectionsRSSBytes))
		tw.Flush()
		return errorsExit(rep.Errors)
	}

	peer, err := startBenchPeer(ctx, stderr)
	if err != nil {
		return err
	}
	defer peer.stop()
	measurements := 2
	if *requests == 0 {
		measurements = *limitCount
	}
	// A shared machine's speed drifts, by a tenth over seconds: the limit is measured before
	// the run, between its parts and after it, each time for a share of 0.8 s per component,
	// and averaged, so that the ratio compares the run with the machine as it was meanwhile.
	logf("setting up the limit's measurements: one %s key, a store and its sessions", *key)
	meter, err := bench.NewMeter(run, bench.LimitConfig{KeyAlgorithm: *key, Documents: *docs, Poll: *poll, Dir: scratch, Peer: peer.url,
		Each: max(100*time.Millisecond, 800*time.Millisecond/time.Duration(measurements))})
	if err != nil {
		return fmt.Errorf("measure limit: %w", err)
	}
	defer meter.Close()
	var limits []*bench.Limit
	measureLimit := func() error {
		logf("measuring this machine's limit for %s with %d document(s) (%d of %d)", *key, *docs, len(limits)+1, measurements)
		lim, err := meter.Measure(run)
		if err != nil {
			return fmt.Errorf("measure limit: %w", err)
		}
		limits = append(limits, lim)
		logf("limit %d of %d: %.0f transactions/s", len(limits), measurements, lim.TransactionsPerSecond)
		return nil
	}
	if *loadProcs <= 0 {
		*loadProcs = runtime.NumCPU()
		if pid != 0 { // the server runs on this machine: leave it the other half
			*loadProcs = max(1, runtime.NumCPU()/2)
		}
	}
	logf("running %d workers, %d devices, the load generator on %d CPU(s), in %d part(s)", *workers, max(*devices, *workers), *loadProcs, measurements-1)
	ready := func() error { // the first measurement of the limit, then the profile of the load
		if err := measureLimit(); err != nil {
			return err
		}
		return prof.start()
	}
	rep, err := bench.Run(run, bench.Config{Server: serverURL, OperatorToken: token, PID: pid, Workers: *workers, Devices: *devices,
		KeyAlgorithm: *key, Documents: *docs, Duration: *duration, WarmUp: *warmUp, Requests: *requests, Poll: *poll, Procs: *loadProcs, BatchScheduling: *loadBatch,
		Parts: measurements - 1, Ready: ready, Between: func() error { prof.stop(); return measureLimit() }, Logf: logf})
	prof.stop()
	if err != nil {
		return err
	}
	if err := measureLimit(); err != nil {
		return err
	}
	limit := bench.Average(limits...)
	rep.Limit, rep.LimitTransactionsPerSecond = limit, limit.TransactionsPerSecond
	if limit.TransactionsPerSecond > 0 {
		rep.Ratio = rep.TransactionsPerSecond / limit.TransactionsPerSecond
	}
	rep.PartsRatio = bench.PartRatios(rep.PartsTransactionsPerSecond, limits)
	if *asJSON {
		if err := printJSON(stdout, rep); err != nil {
			return err
		}
	} else {
		printReport(stdout, rep)
	}
	return errorsExit(rep.Errors)
}

// flagGiven tells whether the flag name was given on the command line.
func flagGiven(fs *flag.FlagSet, name string) (given bool) {
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// plainHTTPURL reports whether s is an http:// URL with a host: the load generator's
// transport speaks plain HTTP only.
func plainHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "http" && u.Host != ""
}

// cpuProfile is this process's CPU profile, written to a file created before the run, so
// that a path that cannot be written fails at once.
type cpuProfile struct {
	f       *os.File
	started bool
}

// createCPUProfile creates file; with no file, the profile does nothing.
func createCPUProfile(file string) (*cpuProfile, error) {
	if file == "" {
		return &cpuProfile{}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return &cpuProfile{f: f}, nil
}

// start profiles this process until stop.
func (p *cpuProfile) start() error {
	if p.f == nil {
		return nil
	}
	if err := pprof.StartCPUProfile(p.f); err != nil {
		return err
	}
	p.started = true
	return nil
}

// stop ends the profile and closes its file; later calls do nothing.
func (p *cpuProfile) stop() {
	if p.started {
		pprof.StopCPUProfile()
	}
	if p.f != nil {
		p.f.Close()
	}
	p.f, p.started = nil, false
}

func errorsExit(errs map[string]int) error {
	if len(errs) == 0 {
		return nil
	}
	b, _ := json.Marshal(errs)
	return fmt.Errorf("bench: the run had errors: %s", b)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func printReport(w io.Writer, r *bench.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "machine\t%d CPU, %s/%s\t\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(tw, "key, documents\t%s, %d\t\n", r.KeyAlgorithm, r.DocumentsPerSession)
	warm := ""
	if r.WarmUpSeconds > 0 {
		warm = fmt.Sprintf("(%.1f s of load uncounted before it)", r.WarmUpSeconds)
		if r.Parts > 1 {
			warm = fmt.Sprintf("(in %d parts; %.1f s of load uncounted: the warm-up and each part's start)", r.Parts, r.WarmUpSeconds)
		}
	}
	fmt.Fprintf(tw, "transactions\t%d in %.1f s\t%s\n", r.Transactions, r.Seconds, warm)
	if r.WarmUpTransactions > 0 {
		fmt.Fprintf(tw, "warm-up\t%d transactions\t(before the first part: the server and the load generator reach their working size)\n", r.WarmUpTransactions)
	}
	fmt.Fprintf(tw, "transactions/s\t%.1f\t(limit %.1f, ratio %.2f)\n", r.TransactionsPerSecond, r.LimitTransactionsPerSecond, r.Ratio)
	if len(r.PartsTransactionsPerSecond) > 1 {
		fmt.Fprintf(tw, "transactions/s by part\t%s\t\n", joinFigures("%.0f", r.PartsTransactionsPerSecond))
	}
	if len(r.PartsRatio) > 0 {
		fmt.Fprintf(tw, "ratio by part\t%s\t(each against the limit measured on either side of it)\n", joinFigures("%.2f", r.PartsRatio))
	}
	if r.Limit != nil && len(r.Limit.MeasuredTransactionsPerSecond) > 1 {
		when := "(before and after the run)"
		if r.Parts > 1 {
			when = "(before the run, between its parts, after it)"
		}
		fmt.Fprintf(tw, "limit by measurement\t%s\t%s%s\n",
			joinFigures("%.0f", r.Limit.MeasuredTransactionsPerSecond), when, driftHint(r.Limit.MeasuredTransactionsPerSecond))
	}
	serverCPU, serverRSS := fmt.Sprintf("%.2f ms", r.CPUSecondsPerTransaction*1000), mib(r.PeakRSSBytes)
	if r.PeakRSSBytes == 0 { // a server the bench did not start, whose /proc it cannot read
		serverCPU, serverRSS = "not measured", "not measured"
	}
	fmt.Fprintf(tw, "server CPU per transaction\t%s\t\n", serverCPU)
	sched := ""
	if r.LoadBatchScheduling {
		sched = ", SCHED_BATCH"
	}
	fmt.Fprintf(tw, "load generator CPU per tx\t%.2f ms\t(relying parties and devices, on %d CPU(s) of the same machine%s)%s\n",
		r.LoadCPUSecondsPerTransaction*1000, r.LoadProcs, sched, loadHint(r))
	fmt.Fprintf(tw, "server peak RSS\t%s\t\n", serverRSS)
	fmt.Fprintf(tw, "machine CPU busy\t%.0f %%\t%s\n", r.MachineBusy*100, busyHint(r.MachineBusy))
	fmt.Fprintf(tw, "\nlatency (ms)\tp50\tp95\tp99\tmax\n")
	stages := make([]string, 0, len(r.StagesMs))
	for s := range r.StagesMs {
		stages = append(stages, s)
	}
	sort.Strings(stages)
	for _, s := range stages {
		l := r.StagesMs[s]
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\n", s, l.P50, l.P95, l.P99, l.Max)
	}
	if r.Limit != nil {
		fmt.Fprintf(tw, "\nlimit: unavoidable work (measured %d times)\tper tx\tops/s\tms/tx\n", r.Limit.Measurements)
		for _, c := range r.Limit.Components {
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3f\n", c.Name, c.PerTransaction, c.OpsPerSecond, c.MsPerTx)
			if c.CapacityPerSecond > 0 {
				fmt.Fprintf(tw, "  the most it did a second (bound by other than the CPUs: %.0f transactions/s)\t\t%.0f\t\n",
					c.CapacityPerSecond/c.PerTransaction, c.CapacityPerSecond)
			}
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(tw, "\nerrors\t%v\t%s\n", r.Errors, errorsHint(r.Errors))
	}
	tw.Flush()
}

// joinFigures formats each of xs with format, separated by commas.
func joinFigures(format string, xs []float64) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(out, ", ")
}

// loadHint says when the load generator used nearly all the CPUs it was given: the run may
// then measure the load generator rather than the server.
func loadHint(r *bench.Report) string {
	if r.LoadProcs > 0 && r.LoadCPUSecondsPerTransaction*r.TransactionsPerSecond > 0.9*float64(r.LoadProcs) {
		return "; near its share: raise --load-procs"
	}
	return ""
}

// driftHint says when the limit's measurements differ by more than a fifth: the machine's
// speed then drifted so much during the run that one run's ratio says little about the
// build; several runs, compared by their median, say more.
func driftHint(limits []float64) string {
	lo, hi := slices.Min(limits), slices.Max(limits)
	if lo <= 0 || hi/lo <= 1.2 {
		return ""
	}
	return fmt.Sprintf("; they differ by %.0f %%: the machine's speed drifted, so compare builds by the median of several runs", (hi/lo-1)*100)
}

// errorsHint says what to change when the errors are the server's limits at work, as
// against a server started without the bench's generous ones (--server).
func errorsHint(errs map[string]int) string {
	switch {
	case errs[signing.ERATELIMITED] > 0:
		return "(the server's rate limit per relying party: start it with a higher --rp-rate, or give fewer --workers)"
	case errs[signing.ETOOMANYPENDING] > 0:
		return "(the server's --max-pending per user: raise it, or give more --devices)"
	}
	return ""
}

// busyHint says when a run did not load the machine: its throughput was then partly bound
// by latency.
func busyHint(busy float64) string {
	if busy > 0 && busy < 0.9 {
		return "(below 90 %: partly bound by latency, not by CPU; try other --workers)"
	}
	return ""
}

// serveBenchPeer is kyso bench --serve-peer: the minimal HTTP server, in a process of its
// own, that the limit's round trips are measured against. It prints its URL and serves
// until standard input closes (its parent bench ended).
func serveBenchPeer(stdout io.Writer) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: bench.MinimalHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		srv.Close()
	}()
	fmt.Fprintf(stdout, "http://%s\n", l.Addr())
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// benchPeer is a kyso bench --serve-peer started by the bench.
type benchPeer struct {
	cmd   *exec.Cmd
	stdin io.Closer
	url   string
}

// startBenchPeer starts kyso bench --serve-peer; what it says on its standard error (why it
// could not listen, say) goes to stderr.
func startBenchPeer(ctx context.Context, stderr io.Writer) (*benchPeer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "bench", "--serve-peer")
	cmd.Env = serverEnv(os.Environ())
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the bench's HTTP peer: %w", err)
	}
	p := &benchPeer{cmd: cmd, stdin: stdin}
	if p.url, err = readPeerURL(ctx, stdout, 10*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// readPeerURL reads the address a kyso bench --serve-peer prints on its first line, and
// then the rest of its output. It says which of the ways it can fail happened: the peer
// ended without an address (its reason is on the standard error), printed something else,
// or printed nothing within timeout.
func readPeerURL(ctx context.Context, stdout io.Reader, timeout time.Duration) (string, error) {
	const what = "the minimal HTTP server that the limit's round trips are measured against (kyso bench --serve-peer)"
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(l)
		io.Copy(io.Discard, stdout)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l := <-line:
		switch {
		case strings.HasPrefix(l, "http://"):
			return l, nil
		case l == "":
			return "", fmt.Errorf("%s ended before it printed its address", what)
		default:
			return "", fmt.Errorf("%s printed %q instead of its address", what, l)
		}
	case <-t.C:
		return "", fmt.Errorf("%s did not print its address within %v", what, timeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// stop closes the peer's standard input, which ends it, and kills it if it lingers.
func (p *benchPeer) stop() {
	p.stdin.Close()
	exited := make(chan struct{})
	go func() { p.cmd.Wait(); close(exited) }()
	waitOrKill(p.cmd.Process, exited, 5*time.Second)
}

// waitOrKill waits until a process told to end has exited (exited closed), and kills it
// after grace.
func waitOrKill(p *os.Process, exited <-chan struct{}, grace time.Duration) {
	select {
	case <-exited:
	case <-time.After(grace):
		_ = p.Kill()
		<-exited
	}
}

// child is a kyso serve started by the bench on a data directory in its scratch directory.
type child struct {
	cmd        *exec.Cmd
	url, token string
	pid        int
	stopping   chan struct{} // closed by stop, before it tells the process to end
	exited     chan struct{} // closed once the process has exited
	early      error         // how it exited, if before stop (set before exited is closed)
}

func startChild(ctx context.Context, stderr io.Writer, pprofAddr, scratch string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(scratch, "data")
	args := []string{"serve", "--data", data, "--addr", "127.0.0.1:0",
		"--rp-rate", "1000000", "--max-pending", "1000000", "--activation-rate", "1000000"}
	if pprofAddr != "" {
		args = append(args, "--pprof", pprofAddr)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = serverEnv(os.Environ())
	dieWithParent(cmd)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kyso serve: %w", err)
	}
	c := &child{cmd: cmd, pid: cmd.Process.Pid, stopping: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		// Process.Wait, not cmd.Wait: the latter would close the log pipe under its reader.
		state, _ := cmd.Process.Wait()
		select {
		case <-c.stopping:
		default:
			c.early = fmt.Errorf("bench: the kyso serve it started (pid %d) exited during the run (%v)", c.pid, state)
		}
		close(c.exited)
	}()
	addr := make(chan string, 1)
	go func() {
		// Cheap on purpose: this goroutine shares the machine with the server it measures.
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Bytes()
			switch {
			case bytes.Contains(line, []byte(`"msg":"kyso listening"`)):
				var l struct{ Addr string }
				if json.Unmarshal(line, &l) == nil {
					addr <- l.Addr
				}
			case bytes.Contains(line, []byte(`"level":"ERROR"`)), bytes.HasPrefix(line, []byte("panic: ")), bytes.HasPrefix(line, []byte("fatal error: ")):
				fmt.Fprintf(stderr, "server: %s\n", line)
			}
		}
	}()
	select {
	case a := <-addr:
		c.url = "http://" + a
	case <-time.After(30 * time.Second):
		c.stop()
		return nil, errors.New("kyso serve did not start within 30 s")
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
	raw, err := os.ReadFile(filepath.Join(data, app.OperatorTokenFile))
	if err != nil {
		c.stop()
		return nil, err
	}
	c.token = strings.TrimSpace(string(raw))
	return c, nil
}

// stop ends the child gracefully (SIGTERM, then SIGKILL after 20 s).
func (c *child) stop() {
	close(c.stopping)
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	waitOrKill(c.cmd.Process, c.exited, 20*time.Second)
}

// exitedEarly is how the child exited if it did so before stop, and nil while it runs.
func (c *child) exitedEarly() error {
	select {
	case <-c.exited:
		return c.early
	default:
		return nil
	}
}
