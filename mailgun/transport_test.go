package mailgun

import (
	"net/http"
	"testing"
)

// TestDefaultHTTPClient: the client a Client builds for itself keeps a pool of keep-alive
// connections sized for a burst of page views, tries HTTP/2 where Mailgun offers it, reads
// answers in large reads, and never follows a redirect (it could carry the key elsewhere).
func TestDefaultHTTPClient(t *testing.T) {
	hc := NewHTTPClient()
	tr, ok := hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T, want *http.Transport", hc.Transport)
	}
	if tr.MaxIdleConnsPerHost < 64 || tr.MaxIdleConns < tr.MaxIdleConnsPerHost {
		t.Errorf("idle connections: %d per host, %d in all; want at least 64 per host", tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
	}
	if tr.DisableKeepAlives || !tr.ForceAttemptHTTP2 {
		t.Errorf("keep-alive disabled %v, HTTP/2 attempted %v", tr.DisableKeepAlives, tr.ForceAttemptHTTP2)
	}
	if tr.ReadBufferSize < 32<<10 {
		t.Errorf("read buffer %d bytes, want at least 32 KiB", tr.ReadBufferSize)
	}
	if hc.CheckRedirect == nil || hc.CheckRedirect(nil, nil) != http.ErrUseLastResponse {
		t.Error("the client follows redirects")
	}
}
