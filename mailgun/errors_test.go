package mailgun_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

func TestErrorMapping(t *testing.T) {
	sentinels := []error{mailgun.ErrNotFound, mailgun.ErrUnauthorized, mailgun.ErrRateLimited, mailgun.ErrBadRequest, mailgun.ErrServer}
	tests := []struct {
		name        string
		rep         reply
		wantIs      error // nil = none of the sentinels
		wantMessage string
	}{
		{"404 domain", reply{status: 404, body: `{"message":"Domain not found"}`}, mailgun.ErrNotFound, "Domain not found"},
		{"401 plain text", reply{status: 401, header: map[string]string{"Content-Type": "text/plain"}, body: "Forbidden"}, mailgun.ErrUnauthorized, "Forbidden"},
		{"401 json", reply{status: 401, body: `{"message":"Invalid private key"}`}, mailgun.ErrUnauthorized, "Invalid private key"},
		{"403", reply{status: 403, body: `{"message":"Forbidden"}`}, mailgun.ErrUnauthorized, "Forbidden"},
		{"400", reply{status: 400, body: `{"message":"Limit parameter can't be larger than 1000"}`}, mailgun.ErrBadRequest, "Limit parameter can't be larger than 1000"},
		{"422", reply{status: 422, body: `{"error":"unprocessable"}`}, mailgun.ErrBadRequest, "unprocessable"},
		// A field of another type than Mailgun's loses only itself, not the message beside it.
		{"404 whose retry-seconds is a string", reply{status: 404, body: `{"message":"Credentials not found","retry-seconds":"60"}`}, mailgun.ErrNotFound, "Credentials not found"},
		{"429 whose error is an object", reply{status: 429, body: `{"message":"slow down","error":{"code":1}}`}, mailgun.ErrRateLimited, "slow down"},
		{"400 whose message is a number", reply{status: 400, body: `{"message":5,"error":"bad login"}`}, mailgun.ErrBadRequest, "bad login"},
		{"429", reply{status: 429, body: `{"retry-seconds": 60}`}, mailgun.ErrRateLimited, ""},
		{"500", reply{status: 500, body: `{"message":"Internal error"}`}, mailgun.ErrServer, "Internal error"},
		{"502 html", reply{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: "<html><body>Bad gateway</body></html>"}, mailgun.ErrServer, ""},
		// A byte-order mark (IIS and other Windows-hosted proxies write one) before an HTML page
		// kept the page as Mailgun's message, and before JSON lost the message.
		{"502 html after a byte-order mark", reply{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: "\ufeff<!DOCTYPE html><html><body>Bad gateway</body></html>"}, mailgun.ErrServer, ""},
		{"404 json after a byte-order mark", reply{status: 404, body: "\ufeff" + `{"message":"Domain not found"}`}, mailgun.ErrNotFound, "Domain not found"},
		{"503 multi-line text", reply{status: 503, header: map[string]string{"Content-Type": "text/plain"}, body: "Service down\r\nsecond line"}, mailgun.ErrServer, "Service down"},
		{"302", reply{status: 302, header: map[string]string{"Location": "http://127.0.0.1:1/x"}}, nil, ""},
		{"409", reply{status: 409, body: `{"message":"conflict"}`}, nil, "conflict"},
		{"599 is a server error", reply{status: 599, body: `{"message":"odd gateway"}`}, mailgun.ErrServer, "odd gateway"},
		{"600 is none of the classes", reply{status: 600, body: `{"message":"beyond"}`}, nil, "beyond"},
		// Old Mac line ends: the first line ends at a CR as at a CRLF.
		{"400 plain text with CR line ends", reply{status: 400, header: map[string]string{"Content-Type": "text/plain"}, body: "Refused\rsecond line"}, mailgun.ErrBadRequest, "Refused"},
		{"400 plain text not UTF-8 (one replacement for a run of bad bytes)", reply{status: 400, header: map[string]string{"Content-Type": "text/plain"}, body: "bad \xff\xfe byte"}, mailgun.ErrBadRequest, "bad \uFFFD byte"},
		{"400 message with DEL and a C1 control", reply{status: 400, body: `{"message":"bad\u007fvalue\u0085here"}`}, mailgun.ErrBadRequest, "bad value here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.rep)
			c, _ := newClient(t, f, mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1}))
			_, err := c.ListCredentials(context.Background(), "example.com", nil)
			var apiErr *mailgun.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v (%T), want *mailgun.Error", err, err)
			}
			if apiErr.StatusCode != tt.rep.status {
				t.Errorf("StatusCode = %d, want %d", apiErr.StatusCode, tt.rep.status)
			}
			if apiErr.Message != tt.wantMessage {
				t.Errorf("Message = %q, want %q", apiErr.Message, tt.wantMessage)
			}
			if apiErr.Method != http.MethodGet || apiErr.Endpoint != "GET /v3/domains/{domain}/credentials" {
				t.Errorf("Method, Endpoint = %q, %q", apiErr.Method, apiErr.Endpoint)
			}
			for _, s := range sentinels {
				if got, want := errors.Is(err, s), s == tt.wantIs; got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", s, got, want)
				}
			}
			if strings.Contains(err.Error(), "example.com") {
				t.Errorf("error %q names the concrete URL, want the route template", err)
			}
		})
	}
}

func TestErrorStringWithoutMessageUsesStatusText(t *testing.T) {
	e := &mailgun.Error{StatusCode: 502, Method: "GET", Endpoint: "GET /v4/domains"}
	if got, want := e.Error(), "mailgun: GET /v4/domains: HTTP 502: Bad Gateway"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestErrorStringWithoutEndpointUsesMethod(t *testing.T) {
	e := &mailgun.Error{StatusCode: 404, Method: "GET", Message: "Domain not found"}
	if got, want := e.Error(), "mailgun: GET: HTTP 404: Domain not found"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestErrorMessageIsBounded: a long message is cut to maxMessageBytes on a rune boundary (the
// "x" puts every 2-byte rune's second byte at an even offset, where the cut falls).
func TestErrorMessageIsBounded(t *testing.T) {
	long := "x" + strings.Repeat("é", 600)
	f := newFake(t, reply{status: 400, header: map[string]string{"Content-Type": "text/plain"}, body: long})
	c, _ := newClient(t, f)
	_, err := c.ListCredentials(context.Background(), "example.com", nil)
	var apiErr *mailgun.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v (%T), want *mailgun.Error", err, err)
	}
	if got, want := len(apiErr.Message), 512+len("…"); got > want {
		t.Errorf("len(Message) = %d, want at most %d", got, want)
	}
	if !utf8.ValidString(apiErr.Message) || !strings.HasSuffix(apiErr.Message, "é…") {
		t.Errorf("Message ends %q (valid UTF-8: %v), want whole runes then \"…\"", apiErr.Message[max(0, len(apiErr.Message)-8):], utf8.ValidString(apiErr.Message))
	}
}

// TestErrorRetryAfter: the wait a 429 asks for, from its headers or its body.
func TestErrorRetryAfter(t *testing.T) {
	past := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	tests := []struct {
		name   string
		header map[string]string
		body   string
		want   time.Duration
	}{
		{"Retry-After wins over retry-seconds", map[string]string{"Retry-After": "5"}, `{"retry-seconds": 60}`, 5 * time.Second},
		{"X-RateLimit-Reset already passed leaves retry-seconds", map[string]string{"X-RateLimit-Reset": past}, `{"retry-seconds": 60}`, 60 * time.Second},
		{"X-RateLimit-Reset already passed is no wait", map[string]string{"X-RateLimit-Reset": past}, `{"message":"slow down"}`, 0},
		{"Retry-After NaN is no wait", map[string]string{"Retry-After": "NaN"}, `{"message":"slow down"}`, 0},
		{"retry-seconds beside a message that is not a string", nil, `{"retry-seconds": 60, "message": {"text": "slow down"}}`, 60 * time.Second},
		{"retry-seconds a string is no wait", nil, `{"retry-seconds": "60", "message": "slow down"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{status: 429, header: tt.header, body: tt.body})
			c, _ := newClient(t, f, mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1}))
			_, err := c.ListCredentials(context.Background(), "example.com", nil)
			var apiErr *mailgun.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v (%T), want *mailgun.Error", err, err)
			}
			if apiErr.RetryAfter != tt.want {
				t.Errorf("RetryAfter = %v, want %v", apiErr.RetryAfter, tt.want)
			}
		})
	}
}

func TestErrorRetryAfterFromBody(t *testing.T) {
	f := newFake(t, reply{status: 429, body: `{"retry-seconds": 60}`})
	c, _ := newClient(t, f, mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1}))
	_, err := c.ListCredentials(context.Background(), "example.com", nil)
	var apiErr *mailgun.Error
	if !errors.As(err, &apiErr) || apiErr.RetryAfter.Seconds() != 60 {
		t.Fatalf("err = %v, want *Error with RetryAfter 60s", err)
	}
}

// SECURITY.md item 18: neither the key nor a password ever reaches an error string, even
// when Mailgun (or something posing as it) echoes them back.
func TestErrorsNeverCarrySecrets(t *testing.T) {
	const password = "Sup3r-Secret-PW"
	basicAuth := base64.StdEncoding.EncodeToString([]byte("api:" + testKey))
	// The same without its "=" padding, as some gateways quote it.
	basicRaw := base64.RawStdEncoding.EncodeToString([]byte("api:" + testKey))
	echo := `{"message":"key ` + testKey + ` and password ` + password + ` refused"}`
	tests := []struct {
		name string
		rep  reply
		call func(c *mailgun.Client) error
	}{
		{"create 400 echo", reply{status: 400, body: echo}, func(c *mailgun.Client) error {
			_, err := c.CreateCredentials(context.Background(), "example.com",
				&mailgun.CreateCredentialsRequest{Logins: []string{"alice"}, Passwords: []string{password}})
			return err
		}},
		{"change 401 echo", reply{status: 401, body: echo}, func(c *mailgun.Client) error {
			_, err := c.ChangePassword(context.Background(), "example.com", "alice", password)
			return err
		}},
		{"plain text echo", reply{status: 500, header: map[string]string{"Content-Type": "text/plain"}, body: "bad " + password + " " + testKey}, func(c *mailgun.Client) error {
			_, err := c.ChangeMailboxPassword(context.Background(), "example.com", "alice", password)
			return err
		}},
		{"malformed 200 next to a password", reply{status: 200, body: `{"message":"ok","credentials":{"alice@example.com":"` + password + `"` + "\x00"}, func(c *mailgun.Client) error {
			_, err := c.ChangePassword(context.Background(), "example.com", "alice", "")
			return err
		}},
		// A proxy or gateway that echoes the Authorization header it refused carries the key
		// base64-encoded.
		{"401 echoes the Authorization header", reply{status: 401, body: `{"message":"bad header: Basic ` + basicAuth + `"}`}, func(c *mailgun.Client) error {
			_, err := c.ListCredentials(context.Background(), "example.com", nil)
			return err
		}},
		{"plain text echoes the Authorization header", reply{status: 403, header: map[string]string{"Content-Type": "text/plain"}, body: "Authorization: Basic " + basicAuth}, func(c *mailgun.Client) error {
			_, err := c.DeleteCredential(context.Background(), "example.com", "alice")
			return err
		}},
		{"401 echoes the Authorization header unpadded", reply{status: 401, body: `{"message":"bad header: Basic ` + basicRaw + `!"}`}, func(c *mailgun.Client) error {
			_, err := c.ListCredentials(context.Background(), "example.com", nil)
			return err
		}},
		{"connection dropped", reply{drop: true}, func(c *mailgun.Client) error {
			_, err := c.CreateCredentials(context.Background(), "example.com",
				&mailgun.CreateCredentialsRequest{Logins: []string{"alice"}, Passwords: []string{password}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.rep)
			c, _ := newClient(t, f, mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1}))
			err := tt.call(c)
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			for _, secret := range []string{testKey, password, basicAuth, basicRaw} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
			if strings.Contains(err.Error(), "password=") || strings.Contains(err.Error(), "login=") {
				t.Errorf("error %q contains the request body", err)
			}
		})
	}
}

// TestErrorNeverCarriesPartOfAPassword: a plain-text answer keeps only its first line, trimmed,
// and a password is redacted before either cut, not after: a password with a line break in it
// left its first line in the message, and one ending or beginning with white space, at the end
// or start of the answer, lost that space to the trim and stayed whole but for it.
func TestErrorNeverCarriesPartOfAPassword(t *testing.T) {
	for _, tt := range []struct{ password, body, want string }{
		{"Tr0ub4dor\n&3xyz", "Password rejected: %s", "Password rejected: [redacted]"},
		{"correct horse battery ", "Password rejected: %s", "Password rejected: [redacted]"},
		{"\u00a0correct horse battery", "%s is not allowed", "[redacted] is not allowed"},
	} {
		f := newFake(t, reply{status: 400, header: map[string]string{"Content-Type": "text/plain"}, body: fmt.Sprintf(tt.body, tt.password)})
		c, _ := newClient(t, f)
		_, err := c.ChangePassword(context.Background(), "example.com", "alice", tt.password)
		if err == nil {
			t.Fatal("call succeeded, want an error")
		}
		if strings.Contains(err.Error(), "Tr0ub4dor") || strings.Contains(err.Error(), "horse") {
			t.Errorf("password %q: error %q carries part of the password", tt.password, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("password %q: error %q lost Mailgun's message, want %q in it", tt.password, err, tt.want)
		}
	}
}

// TestErrorNeverCarriesAPasswordAsTheFormSentIt: a gateway that refuses a request and quotes its
// body back has the passwords as the form carried them (URL-encoded: "Tr0ub4dor%263+xyz%21"),
// which are redacted too, for each call that sends one.
func TestErrorNeverCarriesAPasswordAsTheFormSentIt(t *testing.T) {
	const password = "Tr0ub4dor&3 xyz!"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "Request rejected by policy: "+string(body))
	}))
	t.Cleanup(srv.Close)
	c, err := mailgun.NewClient(testKey, mailgun.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"change": func() error { _, err := c.ChangePassword(ctx, "example.com", "alice", password); return err },
		"change mailbox": func() error {
			_, err := c.ChangeMailboxPassword(ctx, "example.com", "alice", password)
			return err
		},
		"create": func() error {
			_, err := c.CreateCredentials(ctx, "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"alice"}, Passwords: []string{password}})
			return err
		},
	} {
		err := call()
		if err == nil {
			t.Fatalf("%s: call succeeded, want an error", name)
		}
		if strings.Contains(err.Error(), "Tr0ub4dor") || strings.Contains(err.Error(), "xyz") {
			t.Errorf("%s: error %q carries the password as the form sent it", name, err)
		}
		if !strings.Contains(err.Error(), "Request rejected by policy") {
			t.Errorf("%s: error %q lost the gateway's message", name, err)
		}
	}
}

// TestListsRefuseAnswersThatAreNotLists: a 200 without items or total_count (null, {}, a
// proxy's message) is ErrBadResponse, not an empty domain or an account without domains.
func TestListsRefuseAnswersThatAreNotLists(t *testing.T) {
	for _, body := range []string{`null`, `{}`, `{"message":"Domain not found"}`, `{"items":[]}`, `{"total_count":0}`} {
		f := newFake(t, reply{body: body})
		c, _ := newClient(t, f)
		if l, err := c.ListCredentials(context.Background(), "example.com", nil); !errors.Is(err, mailgun.ErrBadResponse) {
			t.Errorf("ListCredentials answered %s: %+v, %v; want ErrBadResponse", body, l, err)
		}
		if l, err := c.ListDomains(context.Background(), nil); !errors.Is(err, mailgun.ErrBadResponse) {
			t.Errorf("ListDomains answered %s: %+v, %v; want ErrBadResponse", body, l, err)
		}
	}
}

func TestTransportError(t *testing.T) {
	f := newFake(t, reply{drop: true})
	c, _ := newClient(t, f, mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1}))
	_, err := c.ListCredentials(context.Background(), "example.com", nil)
	var te *mailgun.TransportError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v (%T), want *TransportError", err, err)
	}
	if te.Timeout() {
		t.Error("Timeout() = true for a dropped connection")
	}
	if te.Endpoint != "GET /v3/domains/{domain}/credentials" || te.Method != "GET" {
		t.Errorf("Endpoint, Method = %q, %q", te.Endpoint, te.Method)
	}
	var apiErr *mailgun.Error
	if errors.As(err, &apiErr) {
		t.Error("a transport error also reads as *mailgun.Error")
	}
	if strings.Contains(err.Error(), "127.0.0.1") && strings.Contains(err.Error(), "/v3/domains/example.com") {
		t.Errorf("error %q carries the concrete URL", err)
	}
}

// TestErrorRedactsSecretsThatOverlap: secrets were replaced one after another, so one that held
// another, or began where another ended, was broken up by the first replacement and no longer
// matched: the rest of it stayed in the message. A create's passwords often share a stem.
func TestErrorRedactsSecretsThatOverlap(t *testing.T) {
	tests := []struct {
		name      string
		passwords []string
		echo      string
		leaks     []string // pieces of a secret that must not remain
	}{
		{"a password holds another", []string{"Spring-2026", "Spring-2026Xq9Zt"}, "Spring-2026Xq9Zt", []string{"Xq9Zt"}},
		{"a password holds the key", []string{testKey + "Wv7Rk"}, testKey + "Wv7Rk", []string{"Wv7Rk"}},
		{"two passwords overlap", []string{"abcdEFGH", "EFGHij7Kl"}, "abcdEFGHij7Kl", []string{"ij7Kl", "abcd"}},
		{"a password's own occurrences overlap", []string{"xo1xo1xo"}, "xo1xo1xo1xo", []string{"1xo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{status: 400, body: `{"message":"password ` + tt.echo + ` refused"}`})
			c, _ := newClient(t, f)
			logins := []string{"alice", "bob"}[:len(tt.passwords)]
			_, err := c.CreateCredentials(context.Background(), "example.com",
				&mailgun.CreateCredentialsRequest{Logins: logins, Passwords: tt.passwords})
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			for _, piece := range tt.leaks {
				if strings.Contains(err.Error(), piece) {
					t.Errorf("error %q keeps %q of a secret", err, piece)
				}
			}
			if !strings.Contains(err.Error(), "password [redacted] refused") {
				t.Errorf("error %q lost Mailgun's message", err)
			}
		})
	}
}
