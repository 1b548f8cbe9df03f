package handlers_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDomainNamesThatAreNotHostnamesAreLeftOut: a name in Mailgun's domain list that is not a
// hostname (markup, bytes that are not UTF-8) is a fault of the answer: every call on it is
// refused before it is sent. It is left out of the list and logged. The export of every domain
// failed with 400 "That domain or login name is not valid", the user's bad input, and the home
// page linked to a page saying the same.
func TestDomainNamesThatAreNotHostnamesAreLeftOut(t *testing.T) {
	bad := []string{"bad<b>x</b>.example", "bad\xff\xfe.example"}
	e := newEnv(t, envOptions{
		Upstream: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v4/domains" {
					next.ServeHTTP(w, r)
					return
				}
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				var l struct {
					TotalCount int              `json:"total_count"`
					Items      []map[string]any `json:"items"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil || rec.Code != http.StatusOK {
					t.Errorf("the sandbox's domain list: %d %v", rec.Code, err)
					return
				}
				if r.URL.Query().Get("skip") == "" || r.URL.Query().Get("skip") == "0" {
					for _, name := range bad {
						l.Items = append([]map[string]any{{"name": name, "state": "active", "type": "custom"}}, l.Items...)
					}
				}
				l.TotalCount += len(bad)
				var buf bytes.Buffer
				_ = json.NewEncoder(&buf).Encode(l)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(buf.Bytes())
			})
		},
	})
	c := e.signIn(t, "admin")
	// Either name as text, markup or not, or what a page makes of its bytes; not "bad" alone,
	// which a request id's hex holds now and then ("f2badb6…" failed a CI run).
	badShown := func(s string) bool {
		for _, part := range []string{"bad<b>", "badx.example", "x</b>.example", "bad\xff", "\xfe.example", "\ufffd"} {
			if strings.Contains(s, part) {
				return true
			}
		}
		return false
	}

	home := get(t, c, "/")
	wantStatus(t, home, http.StatusOK)
	if text := home.Text(); !strings.Contains(text, "acme.example") || badShown(text) || badShown(string(home.Body)) {
		t.Errorf("home page: want acme.example listed and no bad name; got %.800s", text)
	}

	csv := get(t, c, "/export.csv")
	wantStatus(t, csv, http.StatusOK)
	if body := string(csv.Body); !strings.Contains(body, "acme.example,") || badShown(body) {
		t.Errorf("export of every domain: want acme.example's logins and no bad name; got %.600s", body)
	}

	logs := e.Logs.String()
	if !strings.Contains(logs, `"level":"WARN","msg":"list domains: Mailgun listed domain names that are not hostnames; SMTP Desk leaves them out"`) ||
		!strings.Contains(logs, `"count":2`) || !strings.Contains(logs, `"bad<b>x</b>.example"`) {
		t.Errorf("the names left out were not logged at Warn with their count and names:\n%s", logs)
	}
}
