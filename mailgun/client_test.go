package mailgun_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

// roundTripFunc answers requests without a network, for checking the URLs the client builds.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func recordingHTTPClient(urls *[]string, mu *sync.Mutex) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		*urls = append(*urls, r.URL.String())
		mu.Unlock()
		return &http.Response{
			StatusCode: 200,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(strings.NewReader(`{"items":[],"total_count":0}`)),
			Request:    r,
		}, nil
	})}
}

func TestBaseURLOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []mailgun.Option
		want string
	}{
		{"default is US", nil, "https://api.mailgun.net/v4/domains"},
		{"US", []mailgun.Option{mailgun.WithRegion(mailgun.RegionUS)}, "https://api.mailgun.net/v4/domains"},
		{"EU", []mailgun.Option{mailgun.WithRegion(mailgun.RegionEU)}, "https://api.eu.mailgun.net/v4/domains"},
		{"base URL", []mailgun.Option{mailgun.WithBaseURL("http://127.0.0.1:8025")}, "http://127.0.0.1:8025/v4/domains"},
		{"base URL with prefix and slash", []mailgun.Option{mailgun.WithBaseURL("http://127.0.0.1:8025/mg/")}, "http://127.0.0.1:8025/mg/v4/domains"},
		{"last option wins", []mailgun.Option{mailgun.WithBaseURL("http://127.0.0.1:8025"), mailgun.WithRegion(mailgun.RegionEU)}, "https://api.eu.mailgun.net/v4/domains"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var urls []string
			var mu sync.Mutex
			opts := append([]mailgun.Option{mailgun.WithHTTPClient(recordingHTTPClient(&urls, &mu))}, tt.opts...)
			c, err := mailgun.NewClient(testKey, opts...)
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			if _, err := c.ListDomains(context.Background(), nil); err != nil {
				t.Fatalf("ListDomains: %v", err)
			}
			if len(urls) != 1 || urls[0] != tt.want {
				t.Errorf("URLs = %v, want [%s]", urls, tt.want)
			}
		})
	}
}

func TestNewClientRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		key  string
		opts []mailgun.Option
	}{
		{"empty key", "", nil},
		{"key with newline", "key-abc\r\nX-Evil: 1", nil},
		{"key with space", "key abc", nil},
		{"unknown region", testKey, []mailgun.Option{mailgun.WithRegion("ap")}},
		{"base URL not http", testKey, []mailgun.Option{mailgun.WithBaseURL("ftp://example.com")}},
		{"base URL without host", testKey, []mailgun.Option{mailgun.WithBaseURL("http://")}},
		{"base URL with credentials", testKey, []mailgun.Option{mailgun.WithBaseURL("https://api:k@example.com")}},
		{"base URL with query", testKey, []mailgun.Option{mailgun.WithBaseURL("https://example.com/?x=1")}},
		{"base URL with an empty query", testKey, []mailgun.Option{mailgun.WithBaseURL("https://example.com/?")}},
		{"base URL unparsable", testKey, []mailgun.Option{mailgun.WithBaseURL("http://[::1")}},
		// The key put in the URL by mistake: the parse error must not quote it.
		{"base URL with the key and a bad port", testKey, []mailgun.Option{mailgun.WithBaseURL("https://api:" + testKey + "@example.com:x/")}},
		{"base URL with the key and a bad escape", testKey, []mailgun.Option{mailgun.WithBaseURL("https://api:" + testKey + "%zz@example.com/")}},
		{"base URL with a slash in the key", testKey, []mailgun.Option{mailgun.WithBaseURL("https://api:" + testKey[:20] + "/" + testKey[20:] + "@example.com/")}},
		{"nil http client", testKey, []mailgun.Option{mailgun.WithHTTPClient(nil)}},
		{"empty user agent", testKey, []mailgun.Option{mailgun.WithUserAgent("")}},
		{"user agent with newline", testKey, []mailgun.Option{mailgun.WithUserAgent("a\nb")}},
		{"zero timeout", testKey, []mailgun.Option{mailgun.WithTimeout(0)}},
		{"negative attempts", testKey, []mailgun.Option{mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: -1})}},
		{"max below base", testKey, []mailgun.Option{mailgun.WithRetry(mailgun.RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Millisecond})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := mailgun.NewClient(tt.key, tt.opts...)
			if !errors.Is(err, mailgun.ErrInvalidInput) || c != nil {
				t.Fatalf("NewClient = %v, %v; want nil, ErrInvalidInput", c, err)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q contains the key", err)
			}
			if len(tt.key) >= 12 && strings.Contains(err.Error(), tt.key[4:12]) {
				t.Errorf("error %q contains a piece of the key", err)
			}
		})
	}
}

// TestRetryBaseDelayAboveTheDefaultCap: a BaseDelay longer than the default MaxDelay (2s),
// with MaxDelay left out, is a valid policy whose cap is BaseDelay.
func TestRetryBaseDelayAboveTheDefaultCap(t *testing.T) {
	f := newFake(t, reply{status: 503}, reply{body: okList})
	c, s := newClient(t, f, mailgun.WithRetry(mailgun.RetryPolicy{BaseDelay: 3 * time.Second}))
	if err := listCall(c); err != nil {
		t.Fatalf("ListCredentials: %v", err)
	}
	if got, want := s.got(), []time.Duration{3 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

// TestWithHTTPClientDoesNotFollowRedirects: a caller's *http.Client follows redirects, and a
// 301 to a create followed as a GET read as a create that succeeded. The client sends through a
// copy that does not: the 3xx is an *Error, and the server sees one request.
func TestWithHTTPClientDoesNotFollowRedirects(t *testing.T) {
	f := newFake(t, reply{status: http.StatusMovedPermanently, header: map[string]string{"Location": "/v3/domains/example.com/credentials"}},
		reply{body: `{"message":"Created 1 credentials pair(s)"}`})
	own := &http.Client{Timeout: 5 * time.Second}
	c, _ := newClient(t, f, mailgun.WithHTTPClient(own))
	_, err := c.CreateCredentials(context.Background(), "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"alice"}})
	var apiErr *mailgun.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusMovedPermanently {
		t.Fatalf("err = %v (%T), want *Error 301", err, err)
	}
	if got := len(f.requests()); got != 1 {
		t.Errorf("requests = %d, want 1 (the redirect not followed)", got)
	}
	if own.CheckRedirect != nil {
		t.Error("WithHTTPClient changed the caller's *http.Client")
	}
}

// TestAny2xxIsAnAnswer: every 2xx status is read as the answer, 299 included.
func TestAny2xxIsAnAnswer(t *testing.T) {
	f := newFake(t, reply{status: 299, body: `{"items":[{"login":"a@example.com"}],"total_count":1}`})
	c, _ := newClient(t, f)
	got, err := c.ListCredentials(context.Background(), "example.com", nil)
	if err != nil || len(got.Items) != 1 || got.Items[0].Login != "a@example.com" {
		t.Fatalf("ListCredentials = %+v, %v; want the one login", got, err)
	}
}

func TestDefaultUserAgentAndAccept(t *testing.T) {
	f := newFake(t, reply{body: okList})
	c, _ := newClient(t, f)
	if err := listCall(c); err != nil {
		t.Fatal(err)
	}
	if got := onlyRequest(t, f).UserAgent; got != mailgun.DefaultUserAgent {
		t.Errorf("User-Agent = %q, want %q", got, mailgun.DefaultUserAgent)
	}
}

func TestResponseBodyIsLimited(t *testing.T) {
	huge := `{"items":[],"total_count":0,"pad":"` + strings.Repeat("x", mailgun.MaxBodyBytes) + `"}`
	tests := []struct {
		name   string
		rep    reply
		wantIs error
	}{
		{"2xx body over the limit", reply{body: huge}, mailgun.ErrBadResponse},
		// The JSON fits, but the body goes on past the limit: it is not read as the answer.
		{"2xx JSON padded past the limit", reply{body: okList + strings.Repeat(" ", mailgun.MaxBodyBytes)}, mailgun.ErrBadResponse},
		{"5xx body over the limit", reply{status: 500, header: map[string]string{"Content-Type": "text/plain"}, body: strings.Repeat("y", mailgun.MaxBodyBytes+10)}, mailgun.ErrServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.rep)
			c, _ := newClient(t, f, mailgun.WithRetry(mailgun.RetryPolicy{MaxAttempts: 1}))
			err := listCall(c)
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			if len(err.Error()) > 2048 {
				t.Errorf("error string is %d bytes; the body leaked into it", len(err.Error()))
			}
		})
	}
}

func TestMalformedJSONIsBadResponse(t *testing.T) {
	for _, body := range []string{`{"items":[`, `not json`, `{"items":"nope","total_count":1}`, `{"items":[{"login":"a","size_bytes":{}}]}`} {
		f := newFake(t, reply{body: body})
		c, _ := newClient(t, f)
		err := listCall(c)
		if !errors.Is(err, mailgun.ErrBadResponse) {
			t.Errorf("body %q: err = %v, want ErrBadResponse", body, err)
		}
		if got := len(f.requests()); got != 1 {
			t.Errorf("body %q: requests = %d, want 1 (a 200 is not retried)", body, got)
		}
	}
}

// TestChangeAnswerWithoutMessageIsBadResponse: a 2xx answer to a change that is not Mailgun's
// (null, {}, a gateway's or a proxy's JSON of its own) says nothing about the change. It was
// taken as success: a create with nothing created said, "Mailgun deleted 0 logins" in the audit
// trail. It is ErrBadResponse now, whose outcome callers treat as unknown, and it is not retried.
func TestChangeAnswerWithoutMessageIsBadResponse(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(c *mailgun.Client) error{
		"create": func(c *mailgun.Client) error {
			_, err := c.CreateCredentials(ctx, "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"alice"}})
			return err
		},
		"change password": func(c *mailgun.Client) error {
			_, err := c.ChangePassword(ctx, "example.com", "alice", "secret-2")
			return err
		},
		"change a mailbox's password": func(c *mailgun.Client) error {
			_, err := c.ChangeMailboxPassword(ctx, "example.com", "alice", "")
			return err
		},
		"delete": func(c *mailgun.Client) error {
			_, err := c.DeleteCredential(ctx, "example.com", "alice")
			return err
		},
		"delete all": func(c *mailgun.Client) error {
			_, err := c.DeleteAllCredentials(ctx, "example.com")
			return err
		},
	}
	for name, call := range calls {
		bodies := []string{`null`, `{}`, `{"status":"ok"}`, `{"error":"quota exceeded"}`, `{"message":""}`}
		if name == "delete all" {
			// Its count is what the audit trail records as deleted.
			bodies = append(bodies, `{"message":"All domain credentials have been deleted"}`,
				`{"message":"All domain credentials have been deleted","count":null}`,
				`{"message":"All domain credentials have been deleted","count":-1}`)
		}
		for _, body := range bodies {
			f := newFake(t, reply{body: body})
			c, _ := newClient(t, f)
			if err := call(c); !errors.Is(err, mailgun.ErrBadResponse) {
				t.Errorf("%s, answer %s: err = %v, want ErrBadResponse", name, body, err)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("%s, answer %s: %d requests, want 1 (a 2xx is not retried)", name, body, n)
			}
		}
	}
	// Mailgun's own answers still succeed, a count of 0 included.
	for name, body := range map[string]string{
		"create":          `{"message":"Created 1 credentials pair(s)","note":"n","credentials":{"alice@example.com":"pw-12345"}}`,
		"delete":          `{"message":"Credentials have been deleted","spec":"alice@example.com"}`,
		"delete all":      `{"message":"All domain credentials have been deleted","count":0}`,
		"change password": `{"message":"Password changed"}`,
	} {
		f := newFake(t, reply{body: body})
		c, _ := newClient(t, f)
		if err := calls[name](c); err != nil {
			t.Errorf("%s, Mailgun's answer %s: %v", name, body, err)
		}
	}
}

// A negative total_count is a broken answer: callers size slices and maps by it (the list
// cache's whole-domain read panicked on one, taking the process down from its singleflight).
func TestNegativeTotalCountIsBadResponse(t *testing.T) {
	ctx := context.Background()
	for _, body := range []string{
		`{"items":[],"total_count":-1}`,
		`{"items":[{"login":"a@example.com","extra":1}],"total_count":-5}`, // encoding/json's path
	} {
		f := newFake(t, reply{body: body})
		c, _ := newClient(t, f)
		if l, err := c.ListCredentials(ctx, "example.com", nil); !errors.Is(err, mailgun.ErrBadResponse) {
			t.Errorf("ListCredentials, body %q: list = %+v, err = %v, want ErrBadResponse", body, l, err)
		}
	}
	f := newFake(t, reply{body: `{"items":[],"total_count":-1}`})
	c, _ := newClient(t, f)
	if l, err := c.ListDomains(ctx, nil); !errors.Is(err, mailgun.ErrBadResponse) {
		t.Errorf("ListDomains: list = %+v, err = %v, want ErrBadResponse", l, err)
	}
}

func TestValidationErrorsSendNothing(t *testing.T) {
	f := newFake(t, reply{body: okList})
	c, _ := newClient(t, f)
	ctx := context.Background()
	for _, domain := range []string{"", "..", "exa mple.com", "example.com/x", "a@b.com", "ex%41mple.com"} {
		if _, err := c.ListCredentials(ctx, domain, nil); !errors.Is(err, mailgun.ErrInvalidInput) {
			t.Errorf("ListCredentials(%q): err = %v, want ErrInvalidInput", domain, err)
		}
		if _, err := c.DeleteAllCredentials(ctx, domain); !errors.Is(err, mailgun.ErrInvalidInput) {
			t.Errorf("DeleteAllCredentials(%q): err = %v, want ErrInvalidInput", domain, err)
		}
	}
	if _, err := c.ListDomains(ctx, &mailgun.DomainListOptions{Search: "a\nb"}); !errors.Is(err, mailgun.ErrInvalidInput) {
		t.Errorf("ListDomains with a control character: err = %v, want ErrInvalidInput", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

func TestPrintingTheClientHidesTheKey(t *testing.T) {
	c, err := mailgun.NewClient(testKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, c); strings.Contains(got, testKey) {
			t.Errorf("Sprintf(%q, client) = %q, contains the key", format, got)
		}
	}
}

// A page longer than the limit asked for is a broken answer: callers page by the limit, and
// the list cache reads up to a thousand pages of a domain, so 100,000 tiny items per page would
// hold hundreds of millions of logins (or render one page of 100,000 rows).
func TestPageLongerThanLimitIsBadResponse(t *testing.T) {
	ctx := context.Background()
	items := func(n int, item string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(item, i)
		}
		return strings.Join(parts, ",")
	}
	for _, tc := range []struct {
		name  string
		body  string
		limit int
	}{
		{"fast path", `{"items":[` + items(11, `{"login":"a%d@example.com","mailbox":"a%[1]d@example.com"}`) + `],"total_count":11}`, 10},
		{"encoding/json", `{"items":[` + items(11, `{"login":"a%d@example.com","extra":1}`) + `],"total_count":11}`, 10},
		{"default limit", `{"items":[` + items(mailgun.MaxLimit+1, `{"login":"a%d@example.com"}`) + `],"total_count":5000}`, 0},
	} {
		f := newFake(t, reply{body: tc.body})
		c, _ := newClient(t, f)
		if l, err := c.ListCredentials(ctx, "example.com", &mailgun.ListOptions{Limit: tc.limit}); !errors.Is(err, mailgun.ErrBadResponse) {
			n := -1
			if l != nil {
				n = len(l.Items)
			}
			t.Errorf("ListCredentials, %s: %d items, err = %v, want ErrBadResponse", tc.name, n, err)
		}
	}
	// Exactly the limit is a full page.
	f := newFake(t, reply{body: `{"items":[` + items(10, `{"login":"a%d@example.com","mailbox":"a%[1]d@example.com"}`) + `],"total_count":11}`})
	c, _ := newClient(t, f)
	if l, err := c.ListCredentials(ctx, "example.com", &mailgun.ListOptions{Limit: 10}); err != nil || len(l.Items) != 10 {
		t.Errorf("a full page: err = %v", err)
	}

	f = newFake(t, reply{body: `{"items":[` + items(3, `{"name":"d%d.example"}`) + `],"total_count":3}`})
	c, _ = newClient(t, f)
	if l, err := c.ListDomains(ctx, &mailgun.DomainListOptions{Limit: 2}); !errors.Is(err, mailgun.ErrBadResponse) {
		t.Errorf("ListDomains: list = %+v, err = %v, want ErrBadResponse", l, err)
	}
}

// An item without a login (null, {}, "login": "") is no credential, nor one whose login is not an
// address of the domain asked about, and a domain without a name no domain: all are broken
// answers, not blank rows, rows of another domain or picker entries leading nowhere. A login
// whose domain is in other letters is the domain's.
func TestItemsWithoutANameAreBadResponse(t *testing.T) {
	ctx := context.Background()
	for _, body := range []string{
		`{"items":[{"login":"a@example.com","mailbox":"a@example.com"},null],"total_count":2}`,
		`{"items":[{}],"total_count":1}`,
		`{"items":[{"login":"","mailbox":"a@example.com"}],"total_count":1}`,
		`{"items":[{"mailbox":"a@example.com","extra":1}],"total_count":1}`, // encoding/json's path
		// A login of another domain, or no address at all, is none of this domain's.
		`{"items":[{"login":"a@example.com"},{"login":"intruder@elsewhere.example"}],"total_count":2}`,
		`{"items":[{"login":"a@sub.example.com"}],"total_count":1}`,
		`{"items":[{"login":"a@example.com.evil"}],"total_count":1}`,
		`{"items":[{"login":"example.com"}],"total_count":1}`,
		`{"items":[{"login":"@example.com"}],"total_count":1}`,
		`{"items":[{"login":"b@c@example.com"}],"total_count":1}`,
	} {
		f := newFake(t, reply{body: body})
		c, _ := newClient(t, f)
		if l, err := c.ListCredentials(ctx, "example.com", nil); !errors.Is(err, mailgun.ErrBadResponse) {
			t.Errorf("ListCredentials, body %s: list = %+v, err = %v, want ErrBadResponse", body, l, err)
		}
	}
	f := newFake(t, reply{body: `{"items":[{"login":"a@EXAMPLE.com"},{"login":"B@example.com"}],"total_count":2}`})
	c, _ := newClient(t, f)
	if l, err := c.ListCredentials(ctx, "example.com", nil); err != nil || len(l.Items) != 2 {
		t.Errorf("ListCredentials of the domain's logins in other letters = %+v, %v; want both", l, err)
	}
	f = newFake(t, reply{body: `{"items":[{"name":"a.example"},{"name":""}],"total_count":2}`})
	c, _ = newClient(t, f)
	if l, err := c.ListDomains(ctx, nil); !errors.Is(err, mailgun.ErrBadResponse) {
		t.Errorf("ListDomains with a nameless domain: list = %+v, err = %v, want ErrBadResponse", l, err)
	}
}

// TestClientPrintsNoKey: a Client passed by mistake to a log call or an error message shows its
// base URL, never its API key, with any of fmt's verbs and in slog's text and JSON output.
func TestClientPrintsNoKey(t *testing.T) {
	const key = "key-0123456789abcdef-do-not-print"
	c, err := mailgun.NewClient(key, mailgun.WithBaseURL("http://127.0.0.1:9"))
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("client", "c", c, "v", *c)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("client", "c", c, "v", *c)
	out := fmt.Sprintf("%v %+v %#v %s %v", c, c, c, c, *c) + logs.String()
	if strings.Contains(out, key) {
		t.Fatalf("the API key is printed: %s", out)
	}
	if !strings.Contains(out, "http://127.0.0.1:9") {
		t.Errorf("the client is not named by its base URL: %s", out)
	}
}

// TestWrongTypeIsNamedInJSONTerms: an answer of the wrong JSON type is ErrBadResponse saying what
// came and what was expected in JSON's terms. It named the client's Go types instead ("want
// struct { Message string "json:\"message\""; Spec string "json:\"spec\"" }", "want
// []mailgun.credentialWire"), which say nothing to whoever reads the log.
func TestWrongTypeIsNamedInJSONTerms(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, body string
		call       func(c *mailgun.Client) error
		want       string
	}{
		{"a list that is an array", `[]`, listCall, `the answer is a JSON array, want an object`},
		{"items that are an object", `{"items":{},"total_count":1}`, listCall, `field "items" is a JSON object, want an array`},
		{"a count that is a string", `{"message":"ok","count":"3"}`, func(c *mailgun.Client) error {
			_, err := c.DeleteAllCredentials(ctx, "example.com")
			return err
		}, `field "count" is a JSON string, want a whole number`},
		{"a count that is a fraction", `{"items":[],"total_count":1.5}`, listCall, `field "total_count" is a JSON number 1.5, want a whole number`},
		{"a delete answered with a string", `"Credentials have been deleted"`, func(c *mailgun.Client) error {
			_, err := c.DeleteCredential(ctx, "example.com", "alice")
			return err
		}, `the answer is a JSON string, want an object`},
		{"passwords that are a list", `{"message":"Created 1 credentials pair(s)","credentials":["pw"]}`, func(c *mailgun.Client) error {
			_, err := c.CreateCredentials(ctx, "example.com", &mailgun.CreateCredentialsRequest{Logins: []string{"alice"}})
			return err
		}, `field "credentials" is a JSON array, want an object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{body: tt.body})
			c, _ := newClient(t, f)
			err := tt.call(c)
			if !errors.Is(err, mailgun.ErrBadResponse) || !strings.HasSuffix(err.Error(), "unreadable response: "+tt.want) {
				t.Errorf("err = %v; want ErrBadResponse ending in %q", err, tt.want)
			}
		})
	}
}
