package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

const testKey = "key-sandbox-test"

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, time.March, 4, 10, 20, 30, 0, time.UTC)

// encoding is how a test sends a form body.
type encoding string

const (
	urlencoded encoding = "urlencoded"
	multipartE encoding = "multipart"
)

var encodings = []encoding{urlencoded, multipartE}

// newSandbox starts a sandbox with a fixed clock behind a loopback test server.
func newSandbox(t *testing.T, opts ...sandbox.Option) (*sandbox.Server, string) {
	t.Helper()
	s := sandbox.New(testKey, append([]sandbox.Option{sandbox.WithClock(func() time.Time { return testNow })}, opts...)...)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// newSeeded is newSandbox with the default seed.
func newSeeded(t *testing.T) (*sandbox.Server, string) {
	t.Helper()
	return newSandbox(t, sandbox.WithDefaultSeed())
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (r *response) message() string {
	m, _ := r.json["message"].(string)
	return m
}

// call sends one request with the test key. path is sent as written (escapes kept). form is
// sent with enc when non-nil.
// rawStatus sends body as it is, with contentType, and returns the answer's status: for bodies
// that call's encodings cannot make.
func rawStatus(t *testing.T, base, method, path, contentType, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.SetBasicAuth("api", testKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func call(t *testing.T, base, method, path string, form url.Values, enc encoding) *response {
	t.Helper()
	return callAuth(t, base, method, path, form, enc, "api", testKey)
}

func callAuth(t *testing.T, base, method, path string, form url.Values, enc encoding, user, key string) *response {
	t.Helper()
	var body io.Reader
	var contentType string
	if form != nil {
		switch enc {
		case multipartE:
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			// Sorted keys, values in order: repeated keys stay repeated.
			keys := make([]string, 0, len(form))
			for k := range form {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				for _, v := range form[k] {
					if err := mw.WriteField(k, v); err != nil {
						t.Fatalf("multipart: %v", err)
					}
				}
			}
			if err := mw.Close(); err != nil {
				t.Fatalf("multipart: %v", err)
			}
			body, contentType = &buf, mw.FormDataContentType()
		default:
			body, contentType = bytes.NewBufferString(form.Encode()), "application/x-www-form-urlencoded"
		}
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if user != "" || key != "" {
		req.SetBasicAuth(user, key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	out := &response{status: res.StatusCode, header: res.Header, raw: raw}
	if res.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(raw, &out.json); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return out
}

// want checks the status and, when msg is not "", the JSON message.
func (r *response) want(t *testing.T, status int, msg string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.raw)
	}
	if msg != "" && r.message() != msg {
		t.Fatalf("message = %q, want %q", r.message(), msg)
	}
}

// itemLogins returns the logins of a list answer.
func (r *response) itemLogins(t *testing.T) []string {
	t.Helper()
	items, ok := r.json["items"].([]any)
	if !ok {
		t.Fatalf("items missing or not an array in %s", r.raw)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		m := it.(map[string]any)
		if l, ok := m["login"].(string); ok {
			out = append(out, l)
		} else {
			out = append(out, m["name"].(string))
		}
	}
	return out
}

func (r *response) totalCount(t *testing.T) int {
	t.Helper()
	n, ok := r.json["total_count"].(float64)
	if !ok {
		t.Fatalf("total_count missing in %s", r.raw)
	}
	return int(n)
}

// keys returns the sorted top-level keys of a JSON answer.
func (r *response) keys() []string {
	out := make([]string, 0, len(r.json))
	for k := range r.json {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// generated returns the credentials map of an answer.
func (r *response) generated(t *testing.T) map[string]string {
	t.Helper()
	m, ok := r.json["credentials"].(map[string]any)
	if !ok {
		t.Fatalf("credentials missing in %s", r.raw)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v.(string)
	}
	return out
}

// form builds url.Values from key, value pairs; a key may repeat.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// newDomain adds a domain with the given logins (passwords as given, "" = unknown).
func newDomain(t *testing.T, s *sandbox.Server, name string, loginPasswords ...string) {
	t.Helper()
	if err := s.AddDomain(name); err != nil {
		t.Fatalf("AddDomain(%q): %v", name, err)
	}
	for i := 0; i+1 < len(loginPasswords); i += 2 {
		if err := s.AddCredential(name, loginPasswords[i], loginPasswords[i+1], testNow); err != nil {
			t.Fatalf("AddCredential(%q): %v", loginPasswords[i], err)
		}
	}
}
