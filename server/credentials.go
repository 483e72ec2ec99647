package server

import (
	"net/http"
	"strconv"

	"github.com/kyso-dev/kyso/signing"
	"github.com/labstack/echo/v5"
)

func (s *Server) getCredential(c *echo.Context) error {
	cred, err := s.svc.Credential(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, credentialView(cred))
}

type importCertificateRequest struct {
	Certificate string   `json:"certificate"`
	Chain       []string `json:"chain"`
}

func (s *Server) importCertificate(c *echo.Context) error {
	var in importCertificateRequest
	if err := bind(c, &in); err != nil {
		return err
	}
	cert, err := decodeBase64("certificate", in.Certificate, signing.EINVALID)
	if err != nil {
		return err
	}
	chain := make([][]byte, len(in.Chain))
	for i, b := range in.Chain {
		if chain[i], err = decodeBase64("chain["+strconv.Itoa(i)+"]", b, signing.EINVALID); err != nil {
			return err
		}
	}
	cred, err := s.svc.ImportCertificate(c.Request().Context(), operator(c), c.Param("id"), cert, chain)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, credentialView(cred))
}

func (s *Server) suspendCredential(c *echo.Context) error { return s.setCredentialStatus(c, true) }
func (s *Server) resumeCredential(c *echo.Context) error  { return s.setCredentialStatus(c, false) }

func (s *Server) setCredentialStatus(c *echo.Context, suspend bool) error {
	var in revokeRequest
	if err := bindOptional(c, &in); err != nil {
		return err
	}
	cred, err := s.svc.SetCredentialStatus(c.Request().Context(), operator(c), c.Param("id"), suspend, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, credentialView(cred))
}

func (s *Server) revokeCredential(c *echo.Context) error {
	var in revokeRequest
	if err := bindOptional(c, &in); err != nil {
		return err
	}
	cred, err := s.svc.RevokeCredential(c.Request().Context(), operator(c), c.Param("id"), in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, credentialView(cred))
}
