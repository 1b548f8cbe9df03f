package mailgun

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzValidateSpec checks that ValidateSpec accepts exactly the documented shape, and that
// its messages stay one clean line. The shape includes no white space and no invisible
// formatting character, which ValidateSpec refuses since they were found in logins; the
// property had not followed, and the fuzzer's first input (" ") failed it.
func FuzzValidateSpec(f *testing.F) {
	for _, s := range []string{"alice", "alice@example.com", "", ".", "..", "a/b", "a@b@c", "a\r\nb", "%2F", "@", "a\x7f", " ", "a\u200bb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateSpec(s)
		valid := s != "" && len(s) <= maxSpecBytes && utf8.ValidString(s) && s != "." && s != ".." &&
			!strings.ContainsFunc(s, unicode.IsControl) && !strings.ContainsAny(s, `/\`) &&
			!strings.ContainsFunc(s, unicode.IsSpace) && !strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) &&
			strings.Count(s, "@") <= 1 && !strings.HasPrefix(s, "@") && !strings.HasSuffix(s, "@")
		if got := err == nil; got != valid {
			t.Fatalf("ValidateSpec(%q) = %v, want valid=%v", s, err, valid)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("ValidateSpec(%q) = %v, does not wrap ErrInvalidInput", s, err)
			}
			if strings.ContainsFunc(err.Error(), unicode.IsControl) {
				t.Fatalf("ValidateSpec(%q): message %q has a control character", s, err)
			}
		}
	})
}

// seenRequest is what the in-memory server saw.
type seenRequest struct {
	pattern, domain, spec string
}

// wireClient returns a client whose transport serialises each request to bytes, parses it
// back as a server would (http.ReadRequest) and routes it with a ServeMux holding Mailgun's
// route patterns. No network, so fuzzing stays fast.
func wireClient(t *testing.T, seen *[]seenRequest) *Client {
	t.Helper()
	mux := http.NewServeMux()
	record := func(w http.ResponseWriter, r *http.Request) {
		*seen = append(*seen, seenRequest{pattern: r.Pattern, domain: r.PathValue("domain"), spec: r.PathValue("spec")})
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"message":"ok","spec":"x","count":0}`)
	}
	for _, p := range []string{
		"GET /v3/domains/{domain}/credentials",
		"DELETE /v3/domains/{domain}/credentials",
		"DELETE /v3/domains/{domain}/credentials/{spec}",
		"PUT /v3/domains/{domain}/credentials/{spec}",
		"PUT /v3/{domain}/mailboxes/{spec}",
		"/",
	} {
		mux.HandleFunc(p, record)
	}
	transport := roundTripper(func(req *http.Request) (*http.Response, error) {
		var buf bytes.Buffer
		if err := req.Write(&buf); err != nil {
			return nil, err
		}
		sreq, err := http.ReadRequest(bufio.NewReader(&buf))
		if err != nil {
			return nil, err
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, sreq)
		resp := rec.Result()
		resp.Request = req
		return resp, nil
	})
	c, err := NewClient("key-fuzz", WithBaseURL("http://mailgun.test"), WithHTTPClient(&http.Client{Transport: transport}),
		WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzCredentialURL checks SECURITY.md item 16: whatever the domain and spec, a
// single-credential call either fails validation without sending anything, or reaches the
// single-credential route with exactly that domain and spec; never the collection URL.
func FuzzCredentialURL(f *testing.F) {
	seeds := [][2]string{
		{"example.com", "alice"}, {"example.com", "alice@example.com"}, {"example.com", ""},
		{"example.com", "."}, {"example.com", ".."}, {"example.com", "a/b"}, {"example.com", "%2F"},
		{"example.com", "?x=1"}, {"example.com", "#frag"}, {"example.com", " "}, {"..", "alice"},
		{"example.com", "a%40b"}, {"", "alice"}, {"example.com/credentials", "x"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, domain, spec string) {
		calls := []struct {
			name    string
			pattern string
			run     func(c *Client) error
		}{
			{"delete", "DELETE /v3/domains/{domain}/credentials/{spec}", func(c *Client) error {
				_, err := c.DeleteCredential(context.Background(), domain, spec)
				return err
			}},
			{"change", "PUT /v3/domains/{domain}/credentials/{spec}", func(c *Client) error {
				_, err := c.ChangePassword(context.Background(), domain, spec, "")
				return err
			}},
			{"mailbox", "PUT /v3/{domain}/mailboxes/{spec}", func(c *Client) error {
				_, err := c.ChangeMailboxPassword(context.Background(), domain, spec, "")
				return err
			}},
		}
		for _, call := range calls {
			var seen []seenRequest
			c := wireClient(t, &seen)
			err := call.run(c)
			if err != nil {
				if !errors.Is(err, ErrInvalidInput) {
					t.Fatalf("%s(%q, %q): err = %v, want success or ErrInvalidInput", call.name, domain, spec, err)
				}
				if len(seen) != 0 {
					t.Fatalf("%s(%q, %q): invalid input but the server saw %+v", call.name, domain, spec, seen)
				}
				continue
			}
			if len(seen) != 1 {
				t.Fatalf("%s(%q, %q): server saw %d requests, want 1", call.name, domain, spec, len(seen))
			}
			want := seenRequest{pattern: call.pattern, domain: domain, spec: spec}
			if seen[0] != want {
				t.Fatalf("%s(%q, %q): server saw %+v, want %+v", call.name, domain, spec, seen[0], want)
			}
		}

		// The path builder itself: a non-empty escaped last segment after /credentials/.
		p, err := credentialPath(domain, spec)
		if err != nil {
			return
		}
		prefix := "/v3/domains/" + url.PathEscape(domain) + "/credentials/"
		seg, ok := strings.CutPrefix(p, prefix)
		if !ok || seg == "" || strings.Contains(seg, "/") || seg == "." || seg == ".." {
			t.Fatalf("credentialPath(%q, %q) = %q: not one non-empty segment after %q", domain, spec, p, prefix)
		}
		if got, err := url.PathUnescape(seg); err != nil || got != spec {
			t.Fatalf("credentialPath(%q, %q): segment %q unescapes to %q, %v", domain, spec, seg, got, err)
		}
	})
}

// FuzzParseCreatedAt checks that parsing never panics, that results are UTC, and that a
// parsed time survives a round trip through Mailgun's current format.
func FuzzParseCreatedAt(f *testing.F) {
	for _, s := range []string{
		"Wed, 08 Mar 2023 23:34:57 +0000", "Wed, 08 Mar 2023 23:34:57 GMT", "Mon, 2 Jan 2006 15:04:05 -0700",
		"2023-03-08T23:34:57Z", "Wed, 08 Mar 2023 23:34:57 EST", "", "garbage",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseCreatedAt(s)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("parseCreatedAt(%q) = %v, want ErrBadResponse", s, err)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("parseCreatedAt(%q) = %v, not UTC", s, got)
		}
		if got.Year() < 0 || got.Year() > 9999 {
			return // RFC 2822 cannot write it
		}
		back, err := parseCreatedAt(got.Format(time.RFC1123Z))
		if err != nil || !back.Equal(got.Truncate(time.Second)) {
			t.Fatalf("round trip of %q: %v, %v; want %v", s, back, err, got.Truncate(time.Second))
		}
	})
}

func TestParseCreatedAt(t *testing.T) {
	want := time.Date(2023, 3, 8, 23, 34, 57, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"Wed, 08 Mar 2023 23:34:57 +0000", want, false},
		{"Wed, 08 Mar 2023 23:34:57 GMT", want, false},
		{"Wed, 08 Mar 2023 23:34:57 UTC", want, false},
		{"Wed, 8 Mar 2023 23:34:57 +0000", want, false},
		{"08 Mar 2023 23:34:57 +0000", want, false},
		{"8 Mar 2023 23:34:57 +0000", want, false},
		{"Wed, 08 Mar 2023 23:34:57 UT", want, false},
		{"Wed, 08 Mar 2023 23:34:57 Z", want, false},
		{"Thu, 09 Mar 2023 01:34:57 +0200", want, false},
		{" Wed, 08 Mar 2023 23:34:57 GMT ", want, false},
		{"2023-03-08T23:34:57Z", want, false},
		{"Wed, 08 Mar 2023 23:34:57 EST", time.Time{}, true},
		{"Wed, 08 Mar 2023", time.Time{}, true},
		{"", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseCreatedAt(tt.in)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("parseCreatedAt(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
