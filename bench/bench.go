// Package bench measures complete signing transactions against a running Kyso server over
// HTTP — relying-party workers asking, simulated devices approving with real device
// signatures — and the cost on this machine of the work a transaction cannot avoid, so that
// throughput is read against the machine's own limit. Every run is bounded and stops by
// itself.
//
// # Caveats
//
//   - The load generator shares the machine with the server it measures (loopback only), so
//     its own work (device signatures, verifying the results) is part of what the machine
//     does per transaction.
//   - CPU and RSS are read from /proc for the server's process id; without one they are 0.
package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kyso-dev/kyso/apiclient"
	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/mobile-bridge/client"
)

// Config describes a run.
type Config struct {
	Server        string // base URL of the server
	OperatorToken string // an admin token, to set up users, devices and a relying party
	PID           int    // the server's process id, for CPU and RSS (0: not reported)
	Workers       int    // relying-party workers; default 128
	Devices       int    // users, each with one device; default: as many as workers
	KeyAlgorithm  string // default EC-P256
	Documents     int    // documents per session; default 1
	Duration      time.Duration
	// WarmUp is how long a run by duration drives its load before its first part: in their
	// first seconds of load the server and the load generator grow their heaps and buffers
	// to their working size, a page fault for each new page, and a transaction costs more
	// than it will later. Its transactions are not counted and its latencies not kept; its
	// errors are. It does not count towards Duration.
	WarmUp   time.Duration
	Requests int  // stop after this many transactions (0: only Duration bounds the run)
	Poll     bool // devices poll instead of following the event stream
	// Procs caps the CPUs this process uses during the run (GOMAXPROCS); 0: unchanged.
	// Beside a server on the same machine, a load generator allowed every CPU runs its
	// spinning schedulers and stolen work on the server's cores.
	Procs int
	// BatchScheduling puts the load generator's threads under Linux's SCHED_BATCH during the
	// run: its wake-ups (an answer, an event) then wait for a CPU to come free instead of
	// preempting the server's threads, and are handled several at once.
	BatchScheduling bool
	// Parts is how many equal parts a run by duration is counted in (default 1). Between two
	// parts the run pauses: it starts no transaction and lets those under way finish, calls
	// Between, and starts again, each part with its own warm-up. A run by request count is
	// one part.
	Parts int
	// Ready, if set, is called once the users and devices are set up, before any load, on
	// a machine where nothing runs but the devices' open streams: the bench measures the
	// machine's limit there first, so that a server it cannot use (unreachable, a wrong
	// token) is found before the limit has been measured. An error ends the run.
	Ready func() error
	// Between, if set, is called in each pause, with no transaction under way and this
	// process's CPUs, scheduling and garbage collector as they were before the run: the
	// bench measures the machine's limit there, so that the limit is measured throughout
	// the run and not only before and after it. An error ends the run.
	Between func() error
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
}

// Latency is a distribution in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	N   int     `json:"n"`
}

// Report is the outcome of a run.
type Report struct {
	KeyAlgorithm        string `json:"keyAlgorithm"`
	DocumentsPerSession int    `json:"documentsPerSession"`
	Workers             int    `json:"workers"`
	Devices             int    `json:"devices"`
	// Transactions and Seconds are the counted part of the run: each part of a run by
	// duration after its warm-up, the whole of a run by request count.
	Transactions int     `json:"transactions"`
	Seconds      float64 `json:"seconds"`
	// Parts is how many parts the run was counted in (see Config.Parts), and
	// PartsTransactionsPerSecond the rate of each.
	Parts                      int       `json:"parts"`
	PartsTransactionsPerSecond []float64 `json:"partsTransactionsPerSecond"`
	// PartsRatio is each part's ratio, against the limit measured on either side of it (a
	// run in parts with the limit measured between them; see PartRatios).
	PartsRatio []float64 `json:"partsRatio,omitempty"`
	// WarmUpSeconds is how long the load of a run by duration went uncounted: its warm-up
	// (Config.WarmUp) and the start of each part (the latencies include the latter), and
	// WarmUpTransactions how many transactions completed in the warm-up.
	WarmUpSeconds              float64            `json:"warmUpSeconds"`
	WarmUpTransactions         int                `json:"warmUpTransactions"`
	TransactionsPerSecond      float64            `json:"transactionsPerSecond"`
	LimitTransactionsPerSecond float64            `json:"limitTransactionsPerSecond"`
	Ratio                      float64            `json:"ratio"`
	LatencyMs                  Latency            `json:"latencyMs"`
	StagesMs                   map[string]Latency `json:"stagesMs"`
	CPUSecondsPerTransaction   float64            `json:"cpuSecondsPerTransaction"`
	// LoadCPUSecondsPerTransaction is what the load generator itself (this process: relying
	// parties, devices, verification) used per transaction on the same machine.
	LoadCPUSecondsPerTransaction float64 `json:"loadCpuSecondsPerTransaction"`
	// MachineBusy is the fraction of the machine's CPU time that was busy during the run
	// (Linux; 0 elsewhere). Well below 1, the run was partly bound by latency (commits,
	// round trips), not by CPU.
	MachineBusy float64 `json:"machineBusy"`
	// LoadProcs is the CPUs the load generator could use (GOMAXPROCS during the run).
	LoadProcs int `json:"loadGeneratorProcs"`
	// LoadBatchScheduling says the load generator ran under SCHED_BATCH.
	LoadBatchScheduling bool           `json:"loadGeneratorBatchScheduling"`
	PeakRSSBytes        int64          `json:"peakRssBytes"`
	Errors              map[string]int `json:"errors"`
	Limit               *Limit         `json:"limit,omitempty"`
}

// recorder collects latencies and errors from many goroutines.
type recorder struct {
	mu     sync.Mutex
	stages map[string][]time.Duration
	errors map[string]int
	// reach pairs, per session, when the relying party started asking and when the device
	// had the request; whichever side comes second records "deviceFetch".
	reach map[string]time.Time
}

// reached is told by both sides; the second call records the time the request took to
// reach the device.
func (r *recorder) reached(id string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first, ok := r.reach[id]
	if !ok {
		r.reach[id] = t
		return
	}
	delete(r.reach, id)
	start, end := first, t
	if start.After(end) {
		start, end = end, start
	}
	r.stages["deviceFetch"] = append(r.stages["deviceFetch"], end.Sub(start))
}

// restartLatencies forgets the latencies recorded so far (those of a warm-up); the errors
// stay.
func (r *recorder) restartLatencies() {
	r.mu.Lock()
	clear(r.stages)
	r.mu.Unlock()
}

func (r *recorder) add(stage string, d time.Duration) {
	r.mu.Lock()
	r.stages[stage] = append(r.stages[stage], d)
	r.mu.Unlock()
}

func (r *recorder) fail(err error) {
	code := "NETWORK"
	var ae *bridge.APIError
	switch {
	case errors.As(err, &ae):
		code = ae.Code
	case errors.Is(err, errUnverified):
		code = "SIGNATURE_DOES_NOT_VERIFY"
	case errors.Is(err, errNotSigned):
		code = "NOT_SIGNED"
	}
	r.mu.Lock()
	r.errors[code]++
	r.mu.Unlock()
}

// failurePause is how long a worker waits after a failed transaction.
const failurePause = 10 * time.Millisecond

var (
	errUnverified = errors.New("a returned signature does not verify")
	errNotSigned  = errors.New("the session ended unsigned")
)

func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	q := func(p float64) float64 {
		i := int(p * float64(len(ds)-1))
		return float64(ds[i].Microseconds()) / 1000
	}
	return Latency{P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: q(1), N: len(ds)}
}

func (c *Config) defaults() {
	if c.Workers == 0 {
		c.Workers = 128
	}
	if c.Devices == 0 {
		c.Devices = c.Workers
	}
	if c.KeyAlgorithm == "" {
		c.KeyAlgorithm = "EC-P256"
	}
	if c.Documents == 0 {
		c.Documents = 1
	}
	if c.Duration == 0 && c.Requests == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Minute // a bound even when only Requests is given
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Run sets up users and devices, drives transactions until the duration or request count is
// reached, and reports. The report's limit fields are filled by the caller (MeasureLimit).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	fx, err := setup(ctx, cfg, cfg.Devices, true)
	if err != nil {
		return nil, err
	}
	defer fx.close()
	cfg.Logf("set up %d users with %s credentials and devices", cfg.Devices, cfg.KeyAlgorithm)
	rec := &recorder{stages: map[string][]time.Duration{}, errors: map[string]int{}, reach: map[string]time.Time{}}

	// A run by request count is bounded by its duration; a run by duration ends when its
	// last part does (its pauses are not part of the duration).
	parts, runCtx, stop := 1, context.Context(nil), context.CancelFunc(nil)
	if cfg.Requests == 0 {
		parts = max(1, cfg.Parts)
		runCtx, stop = context.WithCancel(ctx)
	} else {
		runCtx, stop = context.WithTimeout(ctx, cfg.Duration)
	}
	defer stop()
	g := newGate()
	devCtx, stopDevices := context.WithCancel(context.Background())
	var devWG sync.WaitGroup
	for _, d := range fx.devices {
		devWG.Go(func() { runDevice(devCtx, d, cfg.Poll, g, rec) })
	}
	time.Sleep(200 * time.Millisecond) // let the devices' streams open
	if cfg.Ready != nil {
		if err := cfg.Ready(); err != nil {
			stopDevices()
			devWG.Wait()
			return nil, err
		}
	}

	undo, batch := applyLoadSettings(cfg, cfg.Logf)
	var started, completed atomic.Int64
	markNow := func() runMark { return runMark{at: time.Now(), completed: completed.Load(), use: readUsage(cfg.PID)} }
	var first runMark // a run by request count counts from its start
	if cfg.Requests > 0 {
		first = markNow()
	}
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				// At the request count, start no more; transactions under way finish.
				if cfg.Requests > 0 && started.Add(1) > int64(cfg.Requests) {
					return
				}
				u := fx.users[(w+i*cfg.Workers)%len(fx.users)]
				g.tx.RLock()
				if runCtx.Err() != nil {
					g.tx.RUnlock()
					return
				}
				err := transaction(runCtx, fx.rp, u, cfg, rec)
				g.tx.RUnlock()
				if err != nil {
					if runCtx.Err() == nil {
						rec.fail(err)
						// A server that refuses or is gone is not hammered: each failure
						// would otherwise come back at once.
						sleep(runCtx, failurePause)
					}
					continue
				}
				completed.Add(1)
			}
		})
	}
	var counted runSpan
	var betweenErr error
	warmedUp, warmSeconds := int64(0), 0.0
	if cfg.Requests == 0 {
		if cfg.WarmUp > 0 {
			cfg.Logf("warming up: %v of load before the first part", cfg.WarmUp)
			start := time.Now()
			sleep(runCtx, cfg.WarmUp)
			warmedUp, warmSeconds = completed.Load(), time.Since(start).Seconds()
			rec.restartLatencies()
		}
		counted, betweenErr = countParts(runCtx, cfg.Duration, parts, cfg.Workers, markNow, completed.Load, func() error {
			if !g.pauseWithin(drainTimeout, stop) {
				g.resume()
				return fmt.Errorf("bench: transactions under way had not ended %v into a pause between the run's parts", drainTimeout)
			}
			defer g.resume()
			undo()
			again := cfg // SCHED_BATCH again only if the run started under it
			again.BatchScheduling = batch
			defer func() { undo, batch = applyLoadSettings(again, cfg.Logf) }()
			if cfg.Between == nil {
				return nil
			}
			return cfg.Between()
		})
		// The last part ends as the others do: the transactions under way finish, uncounted,
		// so that the server is idle when the limit is measured after the run (those not
		// ended after drainTimeout are abandoned).
		g.pauseWithin(drainTimeout, stop)
		stop()
		g.resume()
		wg.Wait()
	} else {
		wg.Wait()
		counted.add(first, markNow())
	}
	undo()
	stopDevices()
	devWG.Wait()
	if betweenErr != nil {
		return nil, betweenErr
	}

	n := int(counted.completed)
	rep := &Report{KeyAlgorithm: cfg.KeyAlgorithm, DocumentsPerSession: cfg.Documents, Workers: cfg.Workers, Devices: cfg.Devices,
		Transactions: n, Seconds: counted.seconds, Parts: parts, PartsTransactionsPerSecond: counted.rates, WarmUpSeconds: warmSeconds + counted.warmUp, WarmUpTransactions: int(warmedUp), StagesMs: map[string]Latency{},
		Errors: rec.errors, LoadProcs: cfg.Procs, LoadBatchScheduling: batch}
	if cfg.Procs <= 0 {
		rep.LoadProcs = runtime.GOMAXPROCS(0)
	}
	if n > 0 {
		rep.TransactionsPerSecond = float64(n) / counted.seconds
	}
	rep.setUsage(n, counted.use, cfg.PID != 0)
	for stage, ds := range rec.stages {
		rep.StagesMs[stage] = summarize(ds)
	}
	rep.LatencyMs = rep.StagesMs["endToEnd"]
	rep.PeakRSSBytes, _ = processPeakRSS(cfg.PID)
	return rep, nil
}

// countParts runs the parts of a run by duration and returns what their counted spans add
// up to. Each part lasts d/parts: its warm-up, then its counted span; between two parts,
// pause runs. A part starts its transactions together, and until the first of them complete
// the machine works on transactions that finish later: its warm-up lasts a tenth of it, or
// until as many transactions have completed as there are workers if that is later (a
// slower machine takes longer), but no more than half of it. At its end, the transactions
// under way finish uncounted, in the pause. Between the two marks the part holds work under
// way at both ends, as a steady state does, and neither end is charged to it.
//
// markNow reads the run's state, /proc included; completedNow only the completions, which
// the warm-up watches.
func countParts(ctx context.Context, d time.Duration, parts, workers int, markNow func() runMark, completedNow func() int64, pause func() error) (runSpan, error) {
	var counted runSpan
	part := d / time.Duration(parts)
	for p := range parts {
		if p > 0 {
			if err := pause(); err != nil {
				return counted, err
			}
		}
		start := time.Now()
		startCompleted := completedNow()
		if !sleep(ctx, warmUp(part)) {
			return counted, nil
		}
		for completedNow()-startCompleted < int64(workers) && time.Since(start) < part/2 {
			if !sleep(ctx, 5*time.Millisecond) {
				return counted, nil
			}
		}
		from := markNow()
		counted.warmUp += from.at.Sub(start).Seconds()
		sleep(ctx, part-from.at.Sub(start))
		counted.add(from, markNow())
		if ctx.Err() != nil {
			return counted, nil
		}
	}
	return counted, nil
}

// sleep waits for d or until ctx is done, and says whether it waited all of d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// applyLoadSettings sets what the load generator runs with during a run and returns what
// undoes it, and whether it runs under SCHED_BATCH. Its garbage collector runs a quarter as
// often: it shares the machine with the server it measures, and its heap is small.
func applyLoadSettings(cfg Config, logf func(string, ...any)) (undo func(), batch bool) {
	gc := debug.SetGCPercent(400)
	procs := 0
	if cfg.Procs > 0 {
		procs = runtime.GOMAXPROCS(cfg.Procs)
	}
	if cfg.BatchScheduling {
		if err := setBatchScheduling(true); err != nil {
			logf("the load generator keeps its normal scheduling: %v", err)
		} else {
			batch = true
		}
	}
	return func() {
		if batch {
			setBatchScheduling(false)
		}
		if procs > 0 {
			runtime.GOMAXPROCS(procs)
		}
		debug.SetGCPercent(gc)
	}, batch
}

// gate pauses a run. Relying-party workers hold tx shared for each transaction, and a pause
// takes it whole: that waits for the transactions under way and starts no new one. Polling
// devices, which those transactions need until they end, stop polling only once it is
// taken, so that a pause is quiet.
type gate struct {
	tx      sync.RWMutex
	mu      sync.Mutex
	resumed chan struct{} // closed while the run goes on
}

func newGate() *gate {
	g := &gate{resumed: make(chan struct{})}
	close(g.resumed)
	return g
}

func (g *gate) pause() {
	g.tx.Lock()
	g.mu.Lock()
	g.resumed = make(chan struct{})
	g.mu.Unlock()
}

// drainTimeout bounds how long a pause waits for the transactions under way: each of them
// normally ends within a second.
const drainTimeout = 10 * time.Second

// pauseWithin pauses, and reports whether the transactions under way ended within d; if
// they did not, it calls abort (which makes them end) and pauses once they have.
func (g *gate) pauseWithin(d time.Duration, abort func()) bool {
	paused := make(chan struct{})
	go func() {
		g.pause()
		close(paused)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-paused:
		return true
	case <-t.C:
		abort()
		<-paused
		return false
	}
}

func (g *gate) resume() {
	g.mu.Lock()
	close(g.resumed)
	g.mu.Unlock()
	g.tx.Unlock()
}

// wait returns when the run is not paused, or ctx is done.
func (g *gate) wait(ctx context.Context) {
	g.mu.Lock()
	ch := g.resumed
	g.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// warmUp is how long the start of a part of a run by duration is not counted: a second, or
// a tenth of a shorter part.
func warmUp(d time.Duration) time.Duration { return min(time.Second, d/10) }

// runMark is the state of a run at one moment: completed transactions and usage so far.
type runMark struct {
	at        time.Time
	completed int64
	use       usage
}

// usage is what the run is charged with: read at a moment (the totals so far), or what
// was used between two such readings.
type usage struct {
	serverCPU, selfCPU float64 // seconds
	busy, total        float64 // the machine's CPU ticks
}

// plus adds to u what was used from from to to.
func (u usage) plus(from, to usage) usage {
	return usage{serverCPU: u.serverCPU + to.serverCPU - from.serverCPU, selfCPU: u.selfCPU + to.selfCPU - from.selfCPU,
		busy: u.busy + to.busy - from.busy, total: u.total + to.total - from.total}
}

// runSpan adds up the counted spans of a run: their transactions, seconds and usage.
type runSpan struct {
	completed       int64
	seconds, warmUp float64
	use             usage
	rates           []float64 // each span's transactions per second
}

func (s *runSpan) add(from, to runMark) {
	n, secs := to.completed-from.completed, to.at.Sub(from.at).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(n) / secs
	}
	s.rates = append(s.rates, rate)
	s.completed += n
	s.seconds += secs
	s.use = s.use.plus(from.use, to.use)
}

func readUsage(pid int) usage {
	var u usage
	u.serverCPU, _ = processCPU(pid)
	u.selfCPU = selfCPU()
	u.busy, u.total, _ = machineCPU()
	return u
}

// setUsage sets, from what n transactions used, the per-transaction CPU figures (zero
// without transactions, and the server's without its process) and the machine's busy share.
func (r *Report) setUsage(n int, used usage, haveServer bool) {
	if n > 0 {
		r.LoadCPUSecondsPerTransaction = used.selfCPU / float64(n)
		if haveServer {
			r.CPUSecondsPerTransaction = used.serverCPU / float64(n)
		}
	}
	if used.total > 0 {
		r.MachineBusy = used.busy / used.total
	}
}

// transaction asks one user for signatures, waits until the relying party has them, and
// verifies every signature against the returned certificate.
func transaction(ctx context.Context, rp *apiclient.Client, u *user, cfg Config, rec *recorder) error {
	req := apiclient.SignatureRequest{NationalID: u.nationalID, HashAlgorithm: "SHA-256", DisplayText: "Ký văn bản (bench)"}
	digests := make([][]byte, cfg.Documents)
	for i := range digests {
		doc := make([]byte, 32)
		rand.Read(doc)
		h := sha256.Sum256(doc)
		digests[i] = h[:]
		req.Documents = append(req.Documents, apiclient.Document{Label: fmt.Sprint("doc-", i, ".pdf"), Hash: h[:]})
	}
	t0 := time.Now()
	sess, err := rp.CreateSignature(ctx, req, "")
	if err != nil {
		return err
	}
	rec.add("create", time.Since(t0))
	if !cfg.Poll {
		rec.reached(sess.ID, t0)
	}
	for sess.State == "pending" || sess.State == "approved" {
		if sess, err = rp.Signature(ctx, sess.ID, 30*time.Second); err != nil {
			return err
		}
	}
	if sess.State != "signed" {
		return fmt.Errorf("%w: %s", errNotSigned, sess.State)
	}
	rec.add("endToEnd", time.Since(t0))
	cert, err := parsedCertificate(sess.Certificate)
	if err != nil {
		return err
	}
	for i, d := range sess.Documents {
		if err := verify(cert, sess.SignatureAlgorithm, digests[i], d.Signature); err != nil {
			return fmt.Errorf("%w: %v", errUnverified, err)
		}
	}
	return nil
}

// certificates holds parsed certificates by their DER, as a relying party that verifies
// many signatures of the same signers keeps them; the set is bounded by the bench's users.
var certificates sync.Map

func parsedCertificate(der []byte) (*x509.Certificate, error) {
	if c, ok := certificates.Load(string(der)); ok {
		return c.(*x509.Certificate), nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	certificates.Store(string(der), c)
	return c, nil
}

func verify(cert *x509.Certificate, alg string, digest, sig []byte) error {
	switch k := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errUnverified
		}
		return nil
	case *rsa.PublicKey:
		if alg == "RSASSA-PSS" {
			return rsa.VerifyPSS(k, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig)
	}
	return errUnverified
}

// runDevice approves every request its user receives, as the companion app would: a device
// following its event stream acts on the session the event carries; a polling device
// fetches each session it lists. Either way it checks the challenge binds what it shows,
// signs the decision and sends it.
func runDevice(ctx context.Context, d *client.Client, poll bool, g *gate, rec *recorder) {
	decide := func(s *bridge.SessionInfo) {
		if !bytes.Equal(s.Challenge, bridge.Challenge(s.ChallengeFields())) {
			rec.fail(client.ErrChallengeMismatch)
			return
		}
		sig, err := d.SignDecision(s.Challenge, "approve")
		if err != nil {
			rec.fail(err)
			return
		}
		t1 := time.Now()
		if _, err := d.SendDecision(ctx, s.ID, "approve", "", sig); err != nil {
			var ae *bridge.APIError
			if ctx.Err() == nil && !(errors.As(err, &ae) && ae.Code == "SESSION_NOT_PENDING") {
				rec.fail(err)
			}
			return
		}
		rec.add("decisionToSigned", time.Since(t1))
	}
	if poll {
		for ctx.Err() == nil {
			g.wait(ctx)
			list, err := d.Sessions(ctx)
			if err == nil {
				for _, s := range list {
					t0 := time.Now()
					full, err := d.Session(ctx, s.ID)
					if err != nil {
						if ctx.Err() == nil {
							rec.fail(err)
						}
						continue
					}
					rec.add("deviceFetch", time.Since(t0))
					if full.State == "pending" {
						decide(full)
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		return
	}
	last := ""
	for ctx.Err() == nil {
		events, _, err := d.Events(ctx, last)
		if err != nil {
			if ctx.Err() == nil {
				rec.fail(err)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		for ev := range events {
			last = ev.ID
			if ev.Session != nil && ev.Session.State == "pending" {
				rec.reached(ev.Session.ID, time.Now())
				decide(ev.Session)
			}
		}
	}
}

// http2Client speaks HTTP/2 without TLS (prior knowledge), opening a new connection only
// when the server's limit of concurrent streams per connection is reached.
func http2Client() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 2 * time.Minute}
}

// httpClient is shared by the relying parties and devices: keep-alive connections, enough
// of them, without goroutines of their own and each request bounded by 2 minutes (see
// directTransport).
func httpClient(conns int) *http.Client {
	return &http.Client{Transport: newDirectTransport(conns*2, 2*time.Minute)}
}

func signingOpts(alg string) crypto.SignerOpts {
	if alg == "RSASSA-PSS" {
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	return crypto.SHA256
}
