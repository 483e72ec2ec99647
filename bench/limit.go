package bench

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kyso-dev/kyso/keystore"
	"github.com/kyso-dev/kyso/signing"
	boltstore "github.com/kyso-dev/kyso/store/bbolt"
)

// Component is one kind of unavoidable work and what it costs on this machine.
type Component struct {
	Name           string  `json:"name"`
	PerTransaction float64 `json:"perTransaction"` // how many a transaction needs
	OpsPerSecond   float64 `json:"opsPerSecond"`   // measured with the whole machine
	MsPerTx        float64 `json:"msPerTransaction"`
	// CapacityPerSecond, when set, is the most the component did per second, bound by
	// something other than the CPUs (the store's fsyncs): OpsPerSecond is then what its CPU
	// cost allows, and the capacity bounds the limit apart from the sum (see total).
	CapacityPerSecond float64 `json:"capacityPerSecond,omitempty"`
}

// Limit is the machine's limit for complete transactions: the work a transaction cannot
// avoid, each part measured alone with every core, added up; and no more than any part's
// capacity allows, for a part bound by something other than the CPUs.
type Limit struct {
	Components            []Component `json:"components"`
	TransactionsPerSecond float64     `json:"transactionsPerSecond"`
	// Measurements is how many measurements were averaged (see Average), and
	// MeasuredTransactionsPerSecond each one's limit, in the order they were measured: how
	// far they differ shows how much the machine's speed drifted during the run.
	Measurements                  int       `json:"measurements,omitempty"`
	MeasuredTransactionsPerSecond []float64 `json:"measuredTransactionsPerSecond,omitempty"`
}

// measure runs op from workers goroutines for d and returns operations per second.
func measure(d time.Duration, workers int, op func() error) (float64, error) {
	return measureEach(d, workers, func(int) error { return op() })
}

// measureEach is measure for an op that uses its worker's own state: op(i) runs in worker
// i only.
func measureEach(d time.Duration, workers int, op func(worker int) error) (float64, error) {
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if err := op(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), firstErr
}

// Average combines limits measured at evenly spaced moments of one run — before it, between
// its parts, after it — on a machine whose speed drifts: each component's rate is their
// weighted mean, in which each part of the run between two measurements counts both
// halfway (the first and last measurement weigh half as much as those between).
func Average(limits ...*Limit) *Limit {
	out := &Limit{Measurements: len(limits)}
	for _, l := range limits {
		out.MeasuredTransactionsPerSecond = append(out.MeasuredTransactionsPerSecond, l.TransactionsPerSecond)
	}
	weight := func(i int) float64 {
		if len(limits) > 1 && (i == 0 || i == len(limits)-1) {
			return 0.5
		}
		return 1
	}
	mean := func(of func(*Limit) float64) float64 {
		sum, weights := 0.0, 0.0
		for j, l := range limits {
			sum += weight(j) * of(l)
			weights += weight(j)
		}
		return sum / weights
	}
	for i, c := range limits[0].Components {
		c.OpsPerSecond = mean(func(l *Limit) float64 { return l.Components[i].OpsPerSecond })
		c.MsPerTx = c.PerTransaction / c.OpsPerSecond * 1000
		if c.CapacityPerSecond > 0 {
			c.CapacityPerSecond = mean(func(l *Limit) float64 { return l.Components[i].CapacityPerSecond })
		}
		out.Components = append(out.Components, c)
	}
	out.total()
	return out
}

// PartRatios compares each part of a run with the limit measured on either side of it:
// rates[i] (transactions per second) against the average of limits[i] and limits[i+1].
// The spread shows how far one part's ratio strays from the run's on a machine whose speed
// drifts. Nil unless there is one limit more than there are parts, measured between them.
func PartRatios(rates []float64, limits []*Limit) []float64 {
	if len(rates) < 2 || len(limits) != len(rates)+1 {
		return nil
	}
	out := make([]float64, len(rates))
	for i, r := range rates {
		if l := Average(limits[i], limits[i+1]).TransactionsPerSecond; l > 0 {
			out[i] = r / l
		}
	}
	return out
}

// total sets TransactionsPerSecond from the components: the CPU time they cost, added up,
// and no more than a component's capacity allows.
func (l *Limit) total() {
	var msPerTx float64
	for _, c := range l.Components {
		msPerTx += c.MsPerTx
	}
	l.TransactionsPerSecond = 1000 / msPerTx
	for _, c := range l.Components {
		if c.CapacityPerSecond > 0 {
			l.TransactionsPerSecond = min(l.TransactionsPerSecond, c.CapacityPerSecond/c.PerTransaction)
		}
	}
}

// LimitConfig says which transaction the limit is for and how its parts are measured.
type LimitConfig struct {
	KeyAlgorithm string // default EC-P256
	Documents    int    // documents per session; default 1
	Poll         bool   // the devices poll instead of following their event streams
	Dir          string // a scratch directory (required)
	// Each is how long each part is measured. Default: 400 ms.
	Each time.Duration
	// Peer is the URL of a MinimalHandler served by another process, for the HTTP round
	// trips: the load generator and the server it drives are two processes, and a round trip
	// between two processes costs more than one inside a process, which skips waking the
	// other process's threads. Empty: a server inside this process.
	Peer string
}

func (c *LimitConfig) defaults() {
	if c.KeyAlgorithm == "" {
		c.KeyAlgorithm = "EC-P256"
	}
	if c.Documents == 0 {
		c.Documents = 1
	}
	if c.Each == 0 {
		c.Each = 400 * time.Millisecond
	}
}

// writerCounts are the concurrencies durable writes are measured at: the limit takes the
// CPU of a write where it is least, and the store's capacity where it is most.
var writerCounts = []int{128, 512, 2048}

// Meter measures the limit of one kind of transaction, as often as asked: what the
// measurements need — the keys, the store and its sessions, the HTTP client — is set up
// once (an RSA key alone can take seconds to generate).
type Meter struct {
	cfg        LimitConfig
	deviceSigs float64
	roundTrips float64
	dk         *ecdsa.PrivateKey
	digest     []byte
	dsig       []byte
	digests    [][]byte
	signer     signing.MultiSigner
	alg        string
	opts       crypto.SignerOpts
	cert       *x509.Certificate
	sig        []byte // a signature the relying party checks
	st         *boltstore.Store
	peer       string
	where      string
	srv        *httptest.Server // the round trips' peer inside this process, without cfg.Peer
	hc         *http.Client
}

// NewMeter sets up the measurements of the unavoidable work of one complete transaction
// with cfg.Documents digests signed by a cfg.KeyAlgorithm key; Close releases it.
func NewMeter(ctx context.Context, cfg LimitConfig) (*Meter, error) {
	if cfg.Dir == "" {
		return nil, errors.New("measure limit: no scratch directory")
	}
	cfg.defaults()
	m := &Meter{cfg: cfg, deviceSigs: 2, roundTrips: 3} // a device on its event stream has the session already
	if cfg.Poll {
		m.deviceSigs, m.roundTrips = 3, 4 // a polling device fetches it with a signed request
	}
	var err error
	if m.dk, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte("challenge"))
	m.digest = digest[:]
	if m.dsig, err = ecdsa.SignASN1(rand.Reader, m.dk, m.digest); err != nil {
		return nil, err
	}

	master, _, err := keystore.OpenLocalMaster(filepath.Join(cfg.Dir, "limit-master.json"))
	if err != nil {
		return nil, err
	}
	kek, _, _, err := keystore.OpenKEK(filepath.Join(cfg.Dir, "limit-kek.json"), master)
	if err != nil {
		return nil, err
	}
	ks := keystore.New(kek)
	wrapped, pub, err := ks.GenerateKey(ctx, signing.KeyAlgorithm(cfg.KeyAlgorithm), "cred", "usr")
	if err != nil {
		return nil, err
	}
	signer, err := ks.Signer(ctx, wrapped, "cred", "usr", pub)
	if err != nil {
		return nil, err
	}
	m.signer = signer.(signing.MultiSigner)
	m.digests = make([][]byte, cfg.Documents)
	for i := range m.digests {
		m.digests[i] = m.digest
	}
	m.alg = "ECDSA"
	if signing.KeyAlgorithm(cfg.KeyAlgorithm).IsRSA() {
		m.alg = "RSASSA-PSS"
	}
	m.opts = signingOpts(m.alg)
	m.cert = &x509.Certificate{PublicKey: pub}
	sigs, err := m.signer.SignDigests(m.digests[:1], m.opts)
	if err != nil {
		return nil, err
	}
	m.sig = sigs[0]

	if m.st, err = boltstore.Open(filepath.Join(cfg.Dir, "limit.db"), boltstore.Options{}); err != nil {
		return nil, err
	}
	if err := m.setUpWriters(ctx); err != nil {
		m.Close()
		return nil, err
	}

	m.peer, m.where = cfg.Peer, "between two processes"
	if m.peer == "" {
		m.srv = httptest.NewServer(MinimalHandler())
		m.peer, m.where = m.srv.URL, "inside one process"
	}
	m.hc = httpClient(64)
	return m, nil
}

// Close releases what the meter set up.
func (m *Meter) Close() error {
	if m.hc != nil {
		m.hc.CloseIdleConnections()
	}
	if m.srv != nil {
		m.srv.Close()
	}
	return m.st.Close()
}

// setUpWriters creates the user and, for each concurrency of writerCounts, a session per
// writer, which the write measurements update.
func (m *Meter) setUpWriters(ctx context.Context) error {
	if err := m.st.CreateUser(ctx, &signing.User{ID: "usr", NationalID: "1", DisplayName: "x"}, signing.AuditRecord{}); err != nil {
		return err
	}
	for _, writers := range writerCounts {
		var created sync.WaitGroup
		var createErr atomic.Value
		for i := range writers { // concurrently, so the setup itself is grouped
			created.Go(func() {
				s := &signing.Session{ID: writerSession(writers, i), UserID: "usr", State: signing.StatePending, CreatedAt: time.Now(),
					ExpiresAt: time.Now().Add(time.Hour), Documents: []signing.Document{{Label: "a", Hash: m.digest}}}
				if _, _, err := m.st.CreateSession(ctx, s, signing.CreateSessionOptions{}, signing.AuditRecord{}); err != nil {
					createErr.Store(err)
				}
			})
		}
		created.Wait()
		if err, _ := createErr.Load().(error); err != nil {
			return err
		}
	}
	return nil
}

func writerSession(writers, i int) string { return fmt.Sprint("ses_", writers, "_", i) }

// measureWrites measures durable session updates (each with its audit record) by writers
// goroutines, each on its own session: how many a second, and the CPU seconds each cost
// this process (0 if it cannot tell).
func (m *Meter) measureWrites(ctx context.Context, writers int) (perSecond, cpuEach float64, err error) {
	var next atomic.Int64
	cpu0, t0 := selfCPU(), time.Now()
	perSecond, err = measure(m.cfg.Each, writers, func() error {
		id := writerSession(writers, int(next.Add(1)%int64(writers)))
		_, err := m.st.UpdateSession(ctx, id, func(cur *signing.Session) (signing.AuditRecord, error) {
			cur.CompletedAt = time.Now()
			return signing.AuditRecord{Time: time.Now(), Actor: "bench", Action: "session.touched", Subject: id}, nil
		})
		return err
	})
	if cpu := selfCPU() - cpu0; err == nil && cpu > 0 && perSecond > 0 {
		cpuEach = cpu / (perSecond * time.Since(t0).Seconds())
	}
	return perSecond, cpuEach, err
}

// MeasureLimit measures the limit once (a Meter used once).
func MeasureLimit(ctx context.Context, cfg LimitConfig) (*Limit, error) {
	m, err := NewMeter(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return m.Measure(ctx)
}

// Measure measures, each part for cfg.Each with every core, the unavoidable work of one
// complete transaction, everything that runs on this machine during a bench: on the server
// the device-signature verifications (the decision request and the decision; with poll
// also the fetch request), one key unwrap + parse + signing of the documents (and the
// server's check of the signatures), the CPU of 3 durable store writes at the store's best
// grouping (and no more transactions than the store's writes a second allow);
// on the device the same signatures; on the relying party one verification per document;
// the minimal HTTP round trips on loopback (create, long-poll answer, decision; with poll
// also the fetch); and, for a device on its event stream, the event that brings it the
// request.
func (m *Meter) Measure(ctx context.Context) (*Limit, error) {
	each, cores := m.cfg.Each, runtime.GOMAXPROCS(0)
	lim := &Limit{}
	add := func(name string, per float64, ops float64) {
		lim.Components = append(lim.Components, Component{Name: name, PerTransaction: per, OpsPerSecond: ops, MsPerTx: per / ops * 1000})
	}

	// Device signature verification.
	ops, err := measure(each, cores, func() error {
		if !ecdsa.VerifyASN1(&m.dk.PublicKey, m.digest, m.dsig) {
			return fmt.Errorf("verify failed")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	add("server: device signature verify (ECDSA P-256)", m.deviceSigs, ops)

	// The device's signatures. The simulated devices make them on this machine, as real
	// phones would elsewhere.
	ops, err = measure(each, cores, func() error {
		_, err := ecdsa.SignASN1(rand.Reader, m.dk, m.digest)
		return err
	})
	if err != nil {
		return nil, err
	}
	add("device: request and decision signatures (ECDSA P-256 sign)", m.deviceSigs, ops)

	// Key unwrap, parse, user signature, and the server's check of it.
	ops, err = measure(each, cores, func() error {
		sigs, err := m.signer.SignDigests(m.digests, m.opts)
		if err != nil {
			return err
		}
		for _, s := range sigs {
			if err := verify(m.cert, m.alg, m.digest, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	add(fmt.Sprintf("server: key unwrap + parse + %d %s signature(s) + check", m.cfg.Documents, m.cfg.KeyAlgorithm), 1, ops)

	// The relying party's check of what it receives (the bench verifies every signature).
	ops, err = measure(each, cores, func() error { return verify(m.cert, m.alg, m.digest, m.sig) })
	if err != nil {
		return nil, err
	}
	add("relying party: signature verify", float64(m.cfg.Documents), ops)

	// Durable writes at the store's best grouping: the more writers wait, the more one
	// commit (and its fsyncs) carries. Unlike the other parts, this one leaves the CPUs
	// idle much of the time: bbolt commits one group at a time, and the CPUs wait for its
	// fsyncs (here 13 % busy with 128 writers, 61 % with 2048). Its cost to the machine is
	// the CPU it uses, at the grouping where a write costs least: another design could
	// overlap the waits with other work, as the rest of a transaction is. What the store
	// did per second at best bounds the limit apart from that (its capacity, about 50 000
	// writes a second here: far from binding).
	capacity, cpuEach := 0.0, 0.0
	for _, writers := range writerCounts {
		perSecond, cpu, err := m.measureWrites(ctx, writers)
		if err != nil {
			return nil, err
		}
		capacity = max(capacity, perSecond)
		if cpu > 0 && (cpuEach == 0 || cpu < cpuEach) {
			cpuEach = cpu
		}
	}
	writes := capacity // without CPU figures, the writes cost what the store did at best
	if cpuEach > 0 {
		writes = float64(cores) / cpuEach
	}
	add("server: durable store write (bbolt, its CPU at the best grouping of commits)", 3, writes)
	lim.Components[len(lim.Components)-1].CapacityPerSecond = capacity

	// Minimal HTTP round trip on loopback with keep-alive, to another process when there
	// is one.
	ops, err = measure(each, 64, func() error {
		resp, err := m.hc.Get(m.peer)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		if err := resp.Body.Close(); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("minimal peer answered %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	add("HTTP round trip, both ends (loopback, keep-alive, "+m.where+")", m.roundTrips, ops)

	// The request reaching a device that follows its event stream: one event written and
	// flushed by the server, read and parsed by the device. A polling device fetches the
	// request instead, a round trip counted above. Measured inside this process, whose two
	// ends pace every event through a channel so that none shares a read with the next.
	if !m.cfg.Poll {
		if ops, err = measureEvents(each, 64); err != nil {
			return nil, err
		}
		add("event delivered on an open stream, both ends (loopback, inside one process)", 1, ops)
	}

	lim.total()
	return lim, nil
}

// MinimalHandler is the least an HTTP server can do for a request: read it and answer a
// small JSON body. The limit's round trips are measured against it.
func MinimalHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"ses_x","state":"signed"}`)
	})
}

// measureEvents measures events delivered on as many open event streams as streams (server-sent
// events over keep-alive HTTP/1.1 on loopback, minimal ones): the server writes and flushes
// one event, the client reads it to its blank line, and only then does the server write the
// next, so every event is a write and a read of its own, as a live event is. Returns events
// per second.
func measureEvents(d time.Duration, streams int) (float64, error) {
	acks := make([]chan struct{}, streams)
	for i := range acks {
		acks[i] = make(chan struct{}, 1)
	}
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(r.URL.Query().Get("stream"))
		if err != nil || i < 0 || i >= len(acks) {
			http.Error(w, "no such stream", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for n := 0; ; n++ {
			fmt.Fprintf(w, "id: %d\nevent: session.created\ndata: {\"id\":\"ses_x\"}\n\n", n)
			if rc.Flush() != nil {
				return
			}
			select {
			case <-acks[i]:
			case <-done:
				return
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	defer close(done) // before srv.Close: handlers waiting for an ack return
	hc := httpClient(streams)
	events := make([]*bufio.Scanner, streams)
	for i := range events { // opened before the clock starts
		resp, err := hc.Get(fmt.Sprint(srv.URL, "?stream=", i))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		events[i] = bufio.NewScanner(resp.Body)
	}
	return measureEach(d, streams, func(i int) error {
		if err := readEvent(events[i]); err != nil {
			return err
		}
		acks[i] <- struct{}{} // buffered: a handler that is gone shows as the stream's end
		return nil
	})
}

// readEvent reads one server-sent event, to the blank line that ends it.
func readEvent(sc *bufio.Scanner) error {
	for sc.Scan() {
		if sc.Text() == "" {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}
