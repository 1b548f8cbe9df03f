package auth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smtpdesk/smtpdesk/auth"
)

// TestLoginCookieFitsWhateverTheNextPath: the sign-in state cookie carries the path to come back
// to, which may be 2048 bytes (auth.SafeNext) and grows in the encoding ("&" becomes six bytes of
// JSON, then two rounds of base64). A path that would not fit 4096 bytes of name and value was
// a 500 (securecookie refused it), or a cookie the browser drops; it is now cut to the part
// before the query, or to "/", and the sign-in completes.
func TestLoginCookieFitsWhateverTheNextPath(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	longPath := "/protected/" + strings.Repeat("a&b", 660) // 1991 bytes, every "&" six in JSON
	tests := []struct{ name, next, want string }{
		{"long query", "/protected?" + strings.Repeat("a", 2030), "/protected?" + strings.Repeat("a", 2030)},
		{"query of many &", "/protected?" + strings.Repeat("a=1&", 500), "/protected"},
		{"query just over", "/protected?" + strings.Repeat("a", 2020) + strings.Repeat("&", 8), "/protected"},
		{"path of many &", longPath + "?x=1", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if auth.SafeNext(tt.next) != tt.next {
				t.Fatalf("SafeNext refuses the test's next path of %d bytes", len(tt.next))
			}
			b := h.browser()
			pg := b.get(auth.LoginPath + "?next=" + url.QueryEscape(tt.next))
			if pg.resp.StatusCode != http.StatusFound {
				t.Fatalf("GET /auth/login with a %d-byte next = %d, want 302; body %q", len(tt.next), pg.resp.StatusCode, pg.body)
			}
			lc := findLoginCookie(pg.resp)
			if lc == nil {
				t.Fatal("no sign-in cookie set")
			}
			if n := len(lc.Name) + len(lc.Value); n > 4096 {
				t.Errorf("sign-in cookie name+value = %d bytes, want <= 4096 (a browser drops it)", n)
			}
			loc := location(t, b.choosePersona(location(t, pg), "admin"))
			if got := location(t, b.get(loc)); got != tt.want {
				t.Errorf("after sign-in redirected to %.60q… (%d bytes), want %.60q… (%d bytes)", got, len(got), tt.want, len(tt.want))
			}
		})
	}
}
