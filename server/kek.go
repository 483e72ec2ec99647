package server

import (
	"net/http"
	"strconv"

	"github.com/kyso-dev/kyso/signing"
	"github.com/labstack/echo/v5"
)

func (s *Server) kekStatus(c *echo.Context) error {
	st, err := s.svc.KEKStatus(c.Request().Context(), operator(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) rotateKEK(c *echo.Context) error {
	id, err := s.svc.RotateKEK(c.Request().Context(), operator(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]uint32{"primaryKeyId": id})
}

func (s *Server) rewrapKEK(c *echo.Context) error {
	p, err := s.svc.StartRewrap(c.Request().Context(), operator(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, p)
}

func (s *Server) disableKEKKey(c *echo.Context) error {
	id, err := strconv.ParseUint(c.Param("keyId"), 10, 32)
	if err != nil {
		return signing.Errorf(signing.EINVALID, "keyId must be a KEK key id (a whole number)")
	}
	if err := s.svc.DisableKEKKey(c.Request().Context(), operator(c), uint32(id)); err != nil {
		return err
	}
	return s.kekStatus(c)
}
