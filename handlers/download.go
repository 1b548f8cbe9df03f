package handlers

import (
	"io"
	"net/http"
	"time"
)

// DownloadStall is how long a write of a streamed download (the audit exports, every domain's
// logins) may take before the connection is cut: a browser that has stopped reading. Such a
// download is not bounded by the answer's write deadline (AnswerWriteTimeout from its first
// byte, answerDeadline), which is meant for pages, while a long trail's export takes minutes.
const DownloadStall = time.Minute

// downloadWriter is the body of a streamed download: each write moves the connection's write
// deadline to DownloadStall from now, so the download goes on for as long as the browser takes it.
type downloadWriter struct {
	w   io.Writer
	rc  *http.ResponseController
	set time.Time // when the deadline was last moved
}

// newDownloadWriter returns the body of w as a streamed download.
func newDownloadWriter(w http.ResponseWriter) *downloadWriter {
	return &downloadWriter{w: w, rc: http.NewResponseController(w)}
}

// Write moves the write deadline on (at most once a second: each write would otherwise reset a
// timer for nothing) and writes p. A writer with no deadline to set (a test's recorder) is left
// as it is.
func (d *downloadWriter) Write(p []byte) (int, error) {
	if now := time.Now(); now.Sub(d.set) >= time.Second {
		d.set = now
		_ = d.rc.SetWriteDeadline(now.Add(DownloadStall))
	}
	return d.w.Write(p)
}
