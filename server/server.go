package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kyso-dev/kyso/mobile-bridge/deviceauth"
	"github.com/kyso-dev/kyso/signing"
	"github.com/labstack/echo/v5"
)

// Config holds the optional settings of a Server. Zero values mean the defaults.
type Config struct {
	// Logger receives one line per request and every internal error. Default: discard.
	Logger *slog.Logger
	// PublicURL is the URL devices and relying parties use to reach Kyso; it is the scheme
	// and host of signed device requests and of activation URIs. Default: taken from each
	// request.
	PublicURL *url.URL
	// Now is the clock for device signature windows. Default: time.Now.
	Now func() time.Time
	// ActivationsPerMinute bounds activation attempts per client IP. Default: 10.
	ActivationsPerMinute int
	// SessionsPerSecond bounds each relying party's signature requests (token bucket with a
	// burst of the same size). Default: 50.
	SessionsPerSecond int
	// StreamsPerDevice bounds a device's open event streams. Default: 2.
	StreamsPerDevice int
	// Heartbeat is the interval of comment lines on event streams. Default: 15 s.
	Heartbeat time.Duration
	// StreamMaxAge ends an event stream after this long; the device reconnects and resumes.
	// Default: 30 minutes.
	StreamMaxAge time.Duration
}

// Server is the HTTP API.
type Server struct {
	echo      *echo.Echo
	svc       *signing.Service
	log       *slog.Logger
	cfg       Config
	devAuth   *deviceauth.Verifier
	limiter   *limiter // activation attempts per client IP
	rpLimiter *limiter // signature requests per relying party
	streams   streamCounter
}

// New builds the HTTP API over the service.
func New(svc *signing.Service, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ActivationsPerMinute == 0 {
		cfg.ActivationsPerMinute = 10
	}
	if cfg.SessionsPerSecond == 0 {
		cfg.SessionsPerSecond = 50
	}
	if cfg.StreamsPerDevice == 0 {
		cfg.StreamsPerDevice = 2
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.StreamMaxAge == 0 {
		cfg.StreamMaxAge = 30 * time.Minute
	}
	// No automatic 404 routes in groups: an unknown method on a known path must answer 405.
	e := echo.NewWithConfig(echo.Config{Logger: cfg.Logger, NoGroupAutoRegister404Routes: true, JSONSerializer: jsonSerializer{}})
	// Kyso is reached directly or through a proxy the operator configures; never trust
	// forwarding headers by default.
	e.IPExtractor = echo.ExtractIPDirect()
	s := &Server{
		echo: e, svc: svc, log: cfg.Logger, cfg: cfg,
		devAuth:   &deviceauth.Verifier{Now: cfg.Now, PublicURL: cfg.PublicURL},
		limiter:   newLimiter(cfg.ActivationsPerMinute, time.Minute),
		rpLimiter: newLimiter(cfg.SessionsPerSecond, time.Second),
		streams:   streamCounter{open: map[string]int{}},
	}
	e.HTTPErrorHandler = s.handleError
	e.Use(s.requestIDAndLog, s.recoverPanic)
	s.routes()
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", func(c *echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })

	admin := e.Group("/admin/v1", s.operatorAuth)
	admin.POST("/users", s.createUser)
	admin.GET("/users", s.findUsers)
	admin.GET("/users/:id", s.getUser)
	admin.POST("/users/:id/credentials", s.createCredential)
	admin.POST("/users/:id/activation-codes", s.createActivationCode)
	admin.GET("/users/:id/devices", s.listDevices)
	admin.GET("/credentials/:id", s.getCredential)
	admin.POST("/credentials/:id/certificate", s.importCertificate)
	admin.POST("/credentials/:id/suspend", s.suspendCredential)
	admin.POST("/credentials/:id/resume", s.resumeCredential)
	admin.POST("/credentials/:id/revoke", s.revokeCredential)
	admin.POST("/devices/:id/revoke", s.revokeDevice)
	admin.POST("/relying-parties", s.createRelyingParty)
	admin.GET("/audit", s.listAudit)
	admin.GET("/sessions/:id", s.getSessionForOperator)
	admin.GET("/kek", s.kekStatus)
	admin.POST("/kek/rotate", s.rotateKEK)
	admin.POST("/kek/rewrap", s.rewrapKEK)
	admin.POST("/kek/keys/:keyId/disable", s.disableKEKKey)

	rp := e.Group("/v1", s.relyingPartyAuth)
	rp.POST("/signatures", s.createSession)
	rp.GET("/signatures/:id", s.getSession)
	rp.GET("/credentials", s.listCredentials)

	e.POST("/device/v1/activate", s.activate)
	dev := e.Group("/device/v1", s.deviceAuth)
	dev.GET("/sessions", s.deviceSessions)
	dev.GET("/events", s.deviceEvents)
	dev.GET("/sessions/:id", s.deviceSession)
	dev.POST("/sessions/:id/decision", s.decide)
	dev.PUT("/push-token", s.setPushToken)
}

// ---- middleware ------------------------------------------------------------------------------

const ctxRequestID = "kyso.requestId"

func requestID(c *echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// requestIDAndLog echoes or assigns X-Request-Id and logs one line per request, without the
// query string (it can hold national ids).
func (s *Server) requestIDAndLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		id := c.Request().Header.Get("X-Request-Id")
		if !validToken(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set("X-Request-Id", id)
		start := time.Now()
		err := next(c)
		if err != nil {
			s.handleError(c, err)
		}
		status := 0
		if r, _ := echo.UnwrapResponse(c.Response()); r != nil {
			status = r.Status
		}
		s.log.LogAttrs(c.Request().Context(), slog.LevelInfo, "http", slog.String("requestId", id),
			slog.String("method", c.Request().Method), slog.String("path", c.Request().URL.Path), slog.Int("status", status),
			slog.Int64("durationMs", time.Since(start).Milliseconds()), slog.String("remote", c.RealIP()))
		return nil
	}
}

// validToken reports whether id is 1 to 128 visible ASCII characters (request ids,
// idempotency keys).
func validToken(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// recoverPanic turns a panic into a logged 500; the panic value is never sent.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic in handler", "requestId", requestID(c), "path", c.Request().URL.Path, "panic", r)
				err = signing.Errorf(signing.EINTERNAL, "internal error")
			}
		}()
		return next(c)
	}
}

const (
	ctxOperator     = "kyso.operator"
	ctxRelyingParty = "kyso.relyingParty"
	ctxDevice       = "kyso.device"
)

func bearer(c *echo.Context) (signing.Secret, bool) {
	h := c.Request().Header.Get("Authorization")
	const p = "Bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	return signing.Secret(strings.TrimSpace(h[len(p):])), true
}

func (s *Server) operatorAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		tok, ok := bearer(c)
		if !ok {
			return signing.Errorf(signing.EUNAUTHENTICATED, "an operator token is required (Authorization: Bearer)")
		}
		op, err := s.svc.AuthenticateOperator(c.Request().Context(), tok)
		if err != nil {
			return err
		}
		c.Set(ctxOperator, op)
		return next(c)
	}
}

func (s *Server) relyingPartyAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		key, ok := bearer(c)
		if !ok {
			return signing.Errorf(signing.EUNAUTHENTICATED, "an API key is required (Authorization: Bearer)")
		}
		rp, err := s.svc.AuthenticateRelyingParty(c.Request().Context(), key)
		if err != nil {
			return err
		}
		c.Set(ctxRelyingParty, rp)
		return next(c)
	}
}

// deviceAuth verifies the RFC 9421 signature of a device request. The body it read is put
// back for the handler.
func (s *Server) deviceAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		body, err := readBody(c)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		var dev *signing.Device
		_, err = s.devAuth.Verify(ctx, c.Request(), body, func(ctx context.Context, id string) ([]byte, error) {
			d, err := s.svc.AuthenticateDevice(ctx, id)
			if err != nil {
				return nil, err
			}
			dev = d
			return d.PublicKey, nil
		})
		if err != nil {
			return err
		}
		if dev, err = s.svc.TouchDevice(ctx, dev); err != nil {
			return err
		}
		c.Set(ctxDevice, dev)
		c.Set(ctxBody, body)
		return next(c)
	}
}

const ctxBody = "kyso.body"

func operator(c *echo.Context) *signing.Operator { return c.Get(ctxOperator).(*signing.Operator) }
func relyingParty(c *echo.Context) *signing.RelyingParty {
	return c.Get(ctxRelyingParty).(*signing.RelyingParty)
}
func device(c *echo.Context) *signing.Device { return c.Get(ctxDevice).(*signing.Device) }

// bindDevice decodes the body that deviceAuth already read and verified.
func bindDevice(c *echo.Context, v any) error {
	body, _ := c.Get(ctxBody).([]byte)
	return decodeJSON(c, body, v)
}

// ---- rate limiting ---------------------------------------------------------------------------

// limiter is a token bucket per key (client IP): rate tokens per period, burst = rate.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	period  time.Duration
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate int, period time.Duration) *limiter {
	return &limiter{rate: float64(rate), period: period, buckets: map[string]*bucket{}}
}

// allow takes a token for key; when there is none it says how long until there is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > 100_000 { // forget full buckets rather than grow without bound
		for k, b := range l.buckets {
			if now.Sub(b.last) > l.period {
				delete(l.buckets, k)
			}
		}
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.rate, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.rate, b.tokens+now.Sub(b.last).Seconds()*l.rate/l.period.Seconds())
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(l.period))
	}
	b.tokens--
	return true, 0
}
