package sandbox_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
)

// BenchmarkList100k lists one page of 100 from a 100,000-login domain at the start and at the
// end: a page costs O(page size), so both take the same order of time.
func BenchmarkList100k(b *testing.B) {
	s := sandbox.New(testKey)
	if err := s.AddDomain("big.example"); err != nil {
		b.Fatal(err)
	}
	if err := s.AddGeneratedLogins("big.example", 100_000); err != nil {
		b.Fatal(err)
	}
	for _, bm := range []struct{ name, query string }{
		{"skip=0", "?skip=0&limit=100"},
		{"skip=99900", "?skip=99900&limit=100"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/v3/domains/big.example/credentials"+bm.query, nil)
			req.SetBasicAuth("api", testKey)
			for b.Loop() {
				rw := httptest.NewRecorder()
				s.ServeHTTP(rw, req)
				if rw.Code != http.StatusOK {
					b.Fatalf("status %d", rw.Code)
				}
			}
		})
	}
}

// TestListPageIsAWindow checks what the benchmark measures: the last page of a large domain is
// the last 100 logins, and total_count is the domain total.
func TestListPageIsAWindow(t *testing.T) {
	s, base := newSandbox(t)
	newDomain(t, s, "big.example")
	if err := s.AddGeneratedLogins("big.example", 10_000); err != nil {
		t.Fatal(err)
	}
	res := call(t, base, "GET", "/v3/domains/big.example/credentials?skip=9901&limit=100", nil, "")
	logins := res.itemLogins(t)
	if got, want := len(logins), 100; got != want {
		t.Fatalf("len = %d, want %d", got, want)
	}
	if got, want := logins[0], "gen009901@big.example"; got != want {
		t.Fatalf("first = %q, want %q", got, want)
	}
	if got, want := res.totalCount(t), 10_001; got != want {
		t.Fatalf("total_count = %d, want %d", got, want)
	}
}
