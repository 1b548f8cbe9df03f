package handlers_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestRotateExportHasItsOwnName (an operator-path review's note): the logins to rotate and the
// whole list downloaded under one file name, so the two were easy to take for each other; the
// first is named "-to-rotate", for one domain and for every domain.
func TestRotateExportHasItsOwnName(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(t, "admin")
	for _, tt := range []struct{ path, prefix string }{
		{"/d/example.com/export.csv", `attachment; filename="smtpdesk-logins-example.com-2`},
		{"/d/example.com/export.csv?rotate=1", `attachment; filename="smtpdesk-logins-example.com-to-rotate-2`},
		{"/export.csv", `attachment; filename="smtpdesk-logins-2`},
		{"/export.csv?rotate=1", `attachment; filename="smtpdesk-logins-to-rotate-2`},
	} {
		p := get(t, c, tt.path)
		wantStatus(t, p, http.StatusOK)
		if cd := p.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, tt.prefix) {
			t.Errorf("%s: Content-Disposition %q, want it to begin %q", tt.path, cd, tt.prefix)
		}
	}
}
