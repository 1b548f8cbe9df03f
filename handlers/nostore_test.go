package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestHealthAnswersAreNotStored: /healthz and /readyz are about this moment, ready or not: a
// cache between a monitor and the instance that kept one would report a dead instance alive or a
// recovered one unready.
func TestHealthAnswersAreNotStored(t *testing.T) {
	for _, tc := range []struct {
		path  string
		dbErr error
	}{
		{"/healthz", nil},
		{"/readyz", nil},
		{"/readyz", errors.New("down")},
	} {
		e := echo.New()
		NewHealth(fakePinger{err: tc.dbErr}, nil, nil).Register(e)
		rec := serve(e, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if got := rec.Header().Get(echo.HeaderCacheControl); got != "no-store" {
			t.Errorf("%s (database error %v): %d with Cache-Control %q, want no-store", tc.path, tc.dbErr, rec.Code, got)
		}
	}
}

// TestErrorAnswersAreNotStored: an error page is about this moment (a 404 during a rolling
// deploy, a 405), so it is never stored, whatever caches sit in front.
func TestErrorAnswersAreNotStored(t *testing.T) {
	e, _ := newBackboneEcho(t, MiddlewareConfig{})
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := serve(e, httptest.NewRequest(method, "/static/no-such-file.css", nil))
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s: status %d, want 404", method, rec.Code)
		}
		if got := rec.Header().Get(echo.HeaderCacheControl); got != "no-store" {
			t.Errorf("%s 404: Cache-Control %q, want no-store", method, got)
		}
	}
}
