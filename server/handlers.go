package server

import (
	"crypto/sha256"
	"net/http"
	"net/url"
	"strconv"
	"time"

	bridge "github.com/kyso-dev/kyso/mobile-bridge"
	"github.com/kyso-dev/kyso/signing"
	"github.com/labstack/echo/v5"
)

// ---- operator API ----------------------------------------------------------------------------

type createUserRequest struct {
	NationalID   string `json:"nationalId"`
	DisplayName  string `json:"displayName"`
	Phone        string `json:"phone"`
	Email        string `json:"email"`
	Organization string `json:"organization"`
}

func (s *Server) createUser(c *echo.Context) error {
	var in createUserRequest
	if err := bind(c, &in); err != nil {
		return err
	}
	u, err := s.svc.CreateUser(c.Request().Context(), operator(c), signing.UserInput(in))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, userView(u))
}

func (s *Server) getUser(c *echo.Context) error {
	u, err := s.svc.User(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, userView(u))
}

func (s *Server) findUsers(c *echo.Context) error {
	nid := c.QueryParam("nationalId")
	if nid == "" {
		return signing.Errorf(signing.EINVALID, "the nationalId query parameter is required")
	}
	users, err := s.svc.FindUsers(c.Request().Context(), nid)
	if err != nil {
		return err
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = userView(u)
	}
	return c.JSON(http.StatusOK, map[string]any{"users": out})
}

type createCredentialRequest struct {
	KeyAlgorithm string `json:"keyAlgorithm"`
	Issuer       string `json:"issuer"`
}

func (s *Server) createCredential(c *echo.Context) error {
	var in createCredentialRequest
	if err := bindOptional(c, &in); err != nil {
		return err
	}
	cred, err := s.svc.CreateCredential(c.Request().Context(), operator(c), c.Param("id"), signing.KeyAlgorithm(in.KeyAlgorithm), in.Issuer)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, credentialView(cred))
}

type createActivationCodeRequest struct {
	TTLSeconds int `json:"ttlSeconds"`
}

func (s *Server) createActivationCode(c *echo.Context) error {
	var in createActivationCodeRequest
	if err := bindOptional(c, &in); err != nil {
		return err
	}
	code, ac, err := s.svc.CreateActivationCode(c.Request().Context(), operator(c), c.Param("id"), time.Duration(in.TTLSeconds)*time.Second)
	if err != nil {
		return err
	}
	uri := "kyso://activate?" + url.Values{"server": {s.publicURL(c)}, "code": {code.Reveal()}}.Encode()
	return c.JSON(http.StatusCreated, map[string]any{"code": code.Reveal(), "expiresAt": ac.ExpiresAt, "activationUri": uri})
}

func (s *Server) listDevices(c *echo.Context) error {
	devices, err := s.svc.DevicesOfUser(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	out := make([]deviceJSON, len(devices))
	for i, d := range devices {
		out[i] = deviceView(d)
	}
	return c.JSON(http.StatusOK, map[string]any{"devices": out})
}

type revokeRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) revokeDevice(c *echo.Context) error {
	var in revokeRequest
	if err := bindOptional(c, &in); err != nil {
		return err
	}
	d, err := s.svc.RevokeDevice(c.Request().Context(), operator(c), c.Param("id"), in.Reason)
	if err != nil {
		return err
	}
	s.log.Info("device revoked", "device", d.ID, "user", d.UserID, "operator", operator(c).ID)
	return c.JSON(http.StatusOK, deviceView(d))
}

type createRelyingPartyRequest struct {
	Name string `json:"name"`
}

func (s *Server) createRelyingParty(c *echo.Context) error {
	var in createRelyingPartyRequest
	if err := bind(c, &in); err != nil {
		return err
	}
	rp, key, secret, err := s.svc.CreateRelyingParty(c.Request().Context(), operator(c), in.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"id": rp.ID, "name": rp.Name, "apiKey": key.Reveal(),
		"callbackSecret": secret.Reveal(), "createdAt": rp.CreatedAt})
}

func (s *Server) getSessionForOperator(c *echo.Context) error {
	ctx := c.Request().Context()
	sess, err := s.svc.SessionForOperator(ctx, operator(c), c.Param("id"))
	if err != nil {
		return err
	}
	cert, chain, err := s.svc.CertificateOf(ctx, sess)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, operatorSessionView(sess, cert, chain))
}

func (s *Server) listAudit(c *echo.Context) error {
	after, err1 := strconv.ParseUint(c.QueryParamOr("after", "0"), 10, 64)
	limit, err2 := strconv.Atoi(c.QueryParamOr("limit", "100"))
	if err1 != nil || err2 != nil {
		return signing.Errorf(signing.EINVALID, "after and limit must be whole numbers")
	}
	recs, err := s.svc.AuditRecords(c.Request().Context(), operator(c), after, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"records": recs})
}

// bindOptional is bind for endpoints whose whole body is optional.
func bindOptional(c *echo.Context, v any) error {
	body, err := readBody(c)
	if err != nil || len(body) == 0 {
		return err
	}
	return decodeJSON(c, body, v)
}

func (s *Server) publicURL(c *echo.Context) string {
	if s.cfg.PublicURL != nil {
		return s.cfg.PublicURL.String()
	}
	return c.Scheme() + "://" + c.Request().Host
}

// ---- relying-party API ------------------------------------------------------------------------

type documentRequest struct {
	Label string `json:"label"`
	Hash  string `json:"hash"`
}

type createSessionRequest struct {
	NationalID         string            `json:"nationalId"`
	UserID             string            `json:"userId"`
	CredentialID       string            `json:"credentialId"`
	HashAlgorithm      string            `json:"hashAlgorithm"`
	SignatureAlgorithm string            `json:"signatureAlgorithm"`
	Documents          []documentRequest `json:"documents"`
	DisplayText        string            `json:"displayText"`
	CallbackURL        string            `json:"callbackUrl"`
	TTLSeconds         *int              `json:"ttlSeconds"`
	Interaction        string            `json:"interaction"`
}

func (r *createSessionRequest) toDomain() (signing.SessionRequest, error) {
	out := signing.SessionRequest{NationalID: r.NationalID, UserID: r.UserID, CredentialID: r.CredentialID,
		HashAlgorithm: signing.HashAlgorithm(r.HashAlgorithm), SignatureAlgorithm: signing.SignatureAlgorithm(r.SignatureAlgorithm),
		DisplayText: r.DisplayText, CallbackURL: r.CallbackURL, Interaction: r.Interaction}
	if len(r.Documents) > 50 {
		return out, signing.Errorf(signing.ETOOMANYDOCUMENTS, "at most 50 documents per session")
	}
	for i, d := range r.Documents {
		h, err := decodeBase64("documents["+strconv.Itoa(i)+"].hash", d.Hash, signing.EINVALIDHASH)
		if err != nil {
			return out, err
		}
		out.Documents = append(out.Documents, signing.Document{Label: d.Label, Hash: h})
	}
	if r.TTLSeconds != nil {
		if *r.TTLSeconds < 30 || *r.TTLSeconds > 900 {
			return out, signing.Errorf(signing.EINVALID, "ttlSeconds must be between 30 and 900")
		}
		out.TTL = time.Duration(*r.TTLSeconds) * time.Second
	}
	return out, nil
}

func (s *Server) createSession(c *echo.Context) error {
	if ok, wait := s.rpLimiter.allow(relyingParty(c).ID, s.cfg.Now()); !ok {
		return rateLimited(c, wait, "this relying party sends requests faster than its limit")
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var in createSessionRequest
	if err := decodeJSON(c, body, &in); err != nil {
		return err
	}
	req, err := in.toDomain()
	if err != nil {
		return err
	}
	idem := signing.Idempotency{Key: c.Request().Header.Get("Idempotency-Key")}
	if idem.Key != "" {
		if !validToken(idem.Key) {
			return signing.Errorf(signing.EINVALID, "Idempotency-Key must be 1 to 128 visible ASCII characters")
		}
		h := sha256.Sum256(body)
		idem.BodyHash = h[:]
	}
	sess, err := s.svc.CreateSession(c.Request().Context(), relyingParty(c), req, idem)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/signatures/"+sess.ID)
	return c.JSON(http.StatusCreated, createdSessionJSON{ID: sess.ID, State: string(sess.State),
		VerificationCode: sess.VerificationCode, ExpiresAt: sess.ExpiresAt, CreatedAt: sess.CreatedAt})
}

func (s *Server) getSession(c *echo.Context) error {
	wait := 0
	if w := c.QueryParam("waitSeconds"); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || n > 60 {
			return signing.Errorf(signing.EINVALID, "waitSeconds must be a whole number from 0 to 60")
		}
		wait = n
	}
	ctx := c.Request().Context()
	sess, err := s.svc.WaitSession(ctx, relyingParty(c), c.Param("id"), time.Duration(wait)*time.Second)
	if err != nil {
		return err
	}
	cert, chain, err := s.svc.CertificateOf(ctx, sess)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sessionView(sess, cert, chain))
}

func (s *Server) listCredentials(c *echo.Context) error {
	nid := c.QueryParam("nationalId")
	if nid == "" {
		return signing.Errorf(signing.EINVALID, "the nationalId query parameter is required")
	}
	creds, err := s.svc.Credentials(c.Request().Context(), nid)
	if err != nil {
		return err
	}
	out := make([]credentialJSON, len(creds))
	for i, cr := range creds {
		out[i] = credentialView(cr)
		out[i].UserID = ""
	}
	return c.JSON(http.StatusOK, map[string]any{"credentials": out})
}

// ---- device API --------------------------------------------------------------------------------

func (s *Server) activate(c *echo.Context) error {
	if ok, wait := s.limiter.allow(c.RealIP(), s.cfg.Now()); !ok {
		return rateLimited(c, wait, "too many activation attempts from this address")
	}
	var in bridge.ActivateRequest
	if err := bind(c, &in); err != nil {
		return err
	}
	dev, u, err := s.svc.Activate(c.Request().Context(), signing.ActivationRequest{Code: signing.Secret(in.Code),
		PublicKey: in.PublicKey, Platform: in.Platform, Name: in.Name, PushToken: signing.PushToken(in.PushToken), Language: in.Language})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, bridge.ActivateResponse{DeviceID: dev.ID, UserID: u.ID, DisplayName: u.DisplayName})
}

func deviceSessionView(sess *signing.Session, challenge []byte) bridge.SessionInfo {
	v := bridge.SessionInfo{ID: sess.ID, State: string(sess.State),
		RelyingParty: bridge.RelyingPartyInfo{ID: sess.RelyingPartyID, Name: sess.RelyingPartyName},
		DisplayText:  sess.DisplayText, SignatureAlgorithm: string(sess.SignatureAlgorithm),
		VerificationCode: sess.VerificationCode, CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt, Challenge: challenge,
		Documents: make([]bridge.DocumentInfo, len(sess.Documents)), Interaction: sess.Interaction}
	if sess.Interaction == signing.InteractionCodeChoice {
		v.VerificationCode, v.VerificationCodeChoices = "", sess.CodeChoices
	}
	for i, d := range sess.Documents {
		v.Documents[i] = bridge.DocumentInfo{Label: d.Label, Hash: d.Hash, HashAlgorithm: string(sess.HashAlgorithm)}
	}
	return v
}

func (s *Server) deviceSessions(c *echo.Context) error {
	list, err := s.svc.PendingSessions(c.Request().Context(), device(c))
	if err != nil {
		return err
	}
	out := bridge.SessionList{Sessions: make([]bridge.SessionInfo, len(list))}
	for i, sess := range list {
		out.Sessions[i] = deviceSessionView(sess, s.svc.Challenge(sess))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deviceSession(c *echo.Context) error {
	sess, challenge, err := s.svc.DeviceSession(c.Request().Context(), device(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, deviceSessionView(sess, challenge))
}

func (s *Server) decide(c *echo.Context) error {
	var in bridge.DecisionRequest
	if err := bindDevice(c, &in); err != nil {
		return err
	}
	if len(in.Signature) == 0 {
		return signing.Errorf(signing.EINVALID, "signature is required")
	}
	sess, err := s.svc.Decide(c.Request().Context(), device(c), c.Param("id"), signing.Decision(in.Decision), in.VerificationCode, in.Signature)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, bridge.DecisionResponse{State: string(sess.State)})
}

func (s *Server) setPushToken(c *echo.Context) error {
	var in bridge.PushTokenRequest
	if err := bindDevice(c, &in); err != nil {
		return err
	}
	if _, err := s.svc.SetPushToken(c.Request().Context(), device(c), signing.PushToken(in.PushToken)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
