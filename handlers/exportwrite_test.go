package handlers_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// brokenConn is a response writer whose connection fails after the first bytes: a browser
// that went away, a proxy that dropped the download.
type brokenConn struct {
	*httptest.ResponseRecorder
	left int
}

func (b *brokenConn) Write(p []byte) (int, error) {
	if len(p) > b.left {
		n := b.left
		b.left = 0
		b.ResponseRecorder.Write(p[:n])
		return n, errors.New("write: connection reset by peer")
	}
	b.left -= len(p)
	return b.ResponseRecorder.Write(p)
}

func (b *brokenConn) Flush() {}

// TestLoginExportWriteFailureIsAborted: a logins export whose connection fails while it is
// written is aborted (http.ErrAbortHandler), as the audit trail's exports are, so the access log
// and the metrics do not count a download that never arrived as a 200.
func TestLoginExportWriteFailureIsAborted(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.SB.AddGeneratedLogins("acme.example", 300); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "admin")
	for _, path := range []string{"/d/acme.example/export.csv", "/export.csv"} {
		t.Run(path, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			for _, ck := range c.Cookies() {
				req.AddCookie(ck)
			}
			w := &brokenConn{ResponseRecorder: httptest.NewRecorder(), left: 2000}
			func() {
				defer func() {
					if r := recover(); r != http.ErrAbortHandler {
						t.Errorf("the handler ended with %v, want a panic with http.ErrAbortHandler", r)
					}
				}()
				e.Echo.ServeHTTP(w, req)
			}()
			if w.Code != http.StatusOK || w.Body.Len() != 2000 {
				t.Fatalf("status %d and %d bytes written: the file had not begun", w.Code, w.Body.Len())
			}
			var status float64
			for _, line := range e.Logs.Lines() {
				var rec struct {
					Msg, Path string
					Status    float64
				}
				if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "request" && rec.Path == path {
					status = rec.Status
				}
			}
			if status != http.StatusInternalServerError {
				t.Errorf("the access log says %v for the broken download, want 500", status)
			}
		})
	}
}
