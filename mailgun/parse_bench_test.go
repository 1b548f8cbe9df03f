package mailgun

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkParseCredentialPage is the fast list decode of a 100-login answer as Mailgun (and the
// sandbox) writes it.
func BenchmarkParseCredentialPage(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"items":[`)
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		login := fmt.Sprintf("gen%06d@big1.example", i)
		fmt.Fprintf(&sb, `{"created_at":%q,"login":%q,"mailbox":%q,"size_bytes":null}`,
			t0.Add(time.Duration(i)*time.Second).Format("Mon, 02 Jan 2006 15:04:05 -0700"), login, login)
	}
	sb.WriteString(`],"total_count":100000}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := parseCredentialPage(body); !ok {
			b.Fatal("fast path refused the body")
		}
	}
}
