package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kyso-dev/kyso/apiclient"
	bridge "github.com/kyso-dev/kyso/mobile-bridge"
)

// HoldConfig describes a hold run: how many pending sessions, open long-polls and open
// device event streams to hold at once.
type HoldConfig struct {
	Server        string
	OperatorToken string
	PID           int // the server process, whose RSS is read (required)
	Pending       int
	LongPolls     int
	Streams       int
	// PerUser is how many pending sessions one user may hold (the server's --max-pending).
	// Default: 1000.
	PerUser int
	// HTTP2 opens the long-polls and event streams as HTTP/2 requests without TLS, many
	// to a connection, instead of one HTTP/1.1 connection each.
	HTTP2 bool
	Logf  func(format string, args ...any)
}

// HoldReport is what holding cost the server.
type HoldReport struct {
	PendingSessions          int   `json:"pendingSessions"`
	LongPolls                int   `json:"longPolls"`
	Streams                  int   `json:"streams"`
	BaselineRSSBytes         int64 `json:"baselineRssBytes"`
	AfterHalfPendingRSSBytes int64 `json:"afterHalfPendingRssBytes"`
	AfterPendingRSSBytes     int64 `json:"afterPendingRssBytes"`
	AfterConnectionsRSSBytes int64 `json:"afterConnectionsRssBytes"`
	// RSSPerPendingSessionBytes is what each session of the second half added: the first
	// half also pays for what any server grows into at first (the garbage collector's heap
	// up to its floor, buffers), which would otherwise be charged to the sessions.
	RSSPerPendingSessionBytes float64        `json:"rssPerPendingSessionBytes"`
	RSSPerConnectionBytes     float64        `json:"rssPerConnectionBytes"`
	Errors                    map[string]int `json:"errors"`
}

// Hold creates the pending sessions, opens the long-polls and streams, reads the server's
// RSS at each step, then lets everything go.
func Hold(ctx context.Context, cfg HoldConfig) (*HoldReport, error) {
	if cfg.PID == 0 {
		return nil, fmt.Errorf("bench hold: the server's process id is needed to read its memory")
	}
	if cfg.PerUser == 0 {
		cfg.PerUser = 1000
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	rec := &recorder{stages: map[string][]time.Duration{}, errors: map[string]int{}}
	sessionUsers := max(1, (cfg.Pending+cfg.PerUser-1)/cfg.PerUser)
	streamDevices := (cfg.Streams + 1) / 2 // two streams per device at most
	base := Config{Server: cfg.Server, OperatorToken: cfg.OperatorToken, Workers: 32, KeyAlgorithm: "EC-P256"}
	fx, err := setup(ctx, base, sessionUsers, true)
	if err != nil {
		return nil, err
	}
	defer fx.close()
	var streamFx *fixture
	if streamDevices > 0 {
		if streamFx, err = setup(ctx, base, streamDevices, false); err != nil {
			return nil, err
		}
		defer streamFx.close()
	}
	rep := &HoldReport{Errors: rec.errors}
	rep.BaselineRSSBytes, _ = processRSS(cfg.PID)

	// Pending sessions, created by 128 workers (enough to fill the store's group commits), in
	// two halves with the server's RSS read after each.
	var ids []string
	var mu sync.Mutex
	create := func(from, to int) {
		next := atomic.Int64{}
		next.Store(int64(from))
		var wg sync.WaitGroup
		for range 128 {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= to || ctx.Err() != nil {
						return
					}
					u := fx.users[i%len(fx.users)]
					s, err := fx.rp.CreateSignature(ctx, apiclient.SignatureRequest{NationalID: u.nationalID, HashAlgorithm: "SHA-256",
						DisplayText: "hold", TTLSeconds: 900, Documents: []apiclient.Document{{Label: "a.pdf", Hash: make([]byte, 32)}}}, "")
					if err != nil {
						rec.fail(err)
						continue
					}
					mu.Lock()
					ids = append(ids, s.ID)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	create(0, cfg.Pending/2)
	half := len(ids)
	rep.AfterHalfPendingRSSBytes, _ = processRSS(cfg.PID)
	create(cfg.Pending/2, cfg.Pending)
	rep.PendingSessions = len(ids)
	cfg.Logf("holding %d pending sessions", len(ids))
	rep.AfterPendingRSSBytes, _ = processRSS(cfg.PID)

	// Open connections: long-polls on pending sessions, and device event streams.
	holdCtx, release := context.WithCancel(ctx)
	defer release()
	var opened atomic.Int64
	hc := httpClient(1) // its own connections, one per long-poll
	if cfg.HTTP2 {
		hc = http2Client()
		if streamFx != nil {
			for _, d := range streamFx.devices {
				d.HTTP = hc
			}
		}
	}
	var conns sync.WaitGroup
	for i := range cfg.LongPolls {
		if len(ids) == 0 {
			break
		}
		conns.Go(func() {
			req, _ := http.NewRequestWithContext(holdCtx, http.MethodGet, cfg.Server+"/v1/signatures/"+ids[i%len(ids)]+"?waitSeconds=60", nil)
			req.Header.Set("Authorization", "Bearer "+fx.rp.Token())
			opened.Add(1)
			resp, err := hc.Do(req)
			if err == nil {
				err = bridge.DecodeResponse(resp, nil) // a problem answer becomes its code
				resp.Body.Close()
			}
			if err != nil && holdCtx.Err() == nil { // after release, ending is expected
				rec.fail(err)
			}
		})
	}
	for i := range cfg.Streams {
		d := streamFx.devices[i/2]
		if _, _, err := d.Events(holdCtx, ""); err != nil {
			rec.fail(err)
			continue
		}
		rep.Streams++
	}
	time.Sleep(time.Second + time.Duration(cfg.LongPolls/2000)*time.Second) // let the long-polls reach the server
	rep.LongPolls = int(opened.Load())
	rep.AfterConnectionsRSSBytes, _ = processRSS(cfg.PID)
	release()
	conns.Wait()
	hc.CloseIdleConnections()
	if n := rep.PendingSessions - half; n > 0 {
		rep.RSSPerPendingSessionBytes = float64(rep.AfterPendingRSSBytes-rep.AfterHalfPendingRSSBytes) / float64(n)
	}
	if n := rep.LongPolls + rep.Streams; n > 0 {
		rep.RSSPerConnectionBytes = float64(rep.AfterConnectionsRSSBytes-rep.AfterPendingRSSBytes) / float64(n)
	}
	return rep, nil
}
