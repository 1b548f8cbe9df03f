package views

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/a-h/templ"
)

// benchCredentials is the domain page as an owner sees it (every per-row control on), with n
// rows built the way the handler builds them.
func benchCredentials(n int) CredentialsVM {
	p := samplePage("example.com", "SMTP logins of this domain: list, create, reset and delete them.")
	p.Nav = "domains"
	p.CurrentDomain = "example.com"
	rows := make([]CredentialRow, n)
	for i := range rows {
		login := fmt.Sprintf("user%04d@example.com", i+1)
		rows[i] = CredentialRow{
			Login:     login,
			Mailbox:   login,
			CreatedAt: sampleNow.AddDate(0, 0, -(i*7)%1200),
			Old:       (i*7)%1200 > 365,
			CanReset:  true,
			CanDelete: true,
		}
	}
	return CredentialsVM{
		Page:            p,
		Domain:          "example.com",
		Role:            "owner",
		Can:             Perms{Create: true, Reset: true, Delete: true, DeleteAll: true, System: true},
		Rows:            rows,
		Pager:           samplePager(3, n, 10*n, "/d/example.com", nil),
		AgeDays:         365,
		CreateURL:       "/d/example.com/new",
		DeleteAllURL:    "/d/example.com/delete-all",
		AuditURL:        "/audit?domain=example.com",
		LoginURL:        "/d/example.com/logins/",
		LoginHistoryURL: "/audit?domain=example.com&login=",
	}
}

// countingWriter counts the bytes a render writes, for the MB/s column.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// BenchmarkCredentials renders the domain page at 25, 100 and 1,000 rows into a discarding
// writer (the handler renders into a pooled buffer; its cost is measured in the handlers
// benchmarks).
func BenchmarkCredentials(b *testing.B) {
	for _, n := range []int{25, 100, 1000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			vm := benchCredentials(n)
			ctx := templ.WithNonce(context.Background(), "n0nce")
			var cw countingWriter
			if err := Credentials(vm).Render(ctx, &cw); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(cw.n)
			b.ReportAllocs()
			for b.Loop() {
				if err := Credentials(vm).Render(ctx, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
