package mailgun_test

import (
	"context"
	"errors"
	"testing"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

// TestListDecoding covers the streaming decode of a list answer: size_bytes in every form
// Mailgun may send, and bodies that are not exactly one JSON value.
func TestListDecoding(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name     string
		body     string
		wantSize *string
		wantErr  error
	}{
		{"string", `{"items":[{"login":"a@example.com","size_bytes":"1024"}],"total_count":1}`, str("1024"), nil},
		{"escaped string", `{"items":[{"login":"a@example.com","size_bytes":"\u0031\u0032"}],"total_count":1}`, str("12"), nil},
		{"number", `{"items":[{"login":"a@example.com","size_bytes":2048}],"total_count":1}`, str("2048"), nil},
		{"null", `{"items":[{"login":"a@example.com","size_bytes":null}],"total_count":1}`, nil, nil},
		{"absent", `{"items":[{"login":"a@example.com"}],"total_count":1}`, nil, nil},
		{"white space after the value", "{\"items\":[{\"login\":\"a@example.com\"}],\"total_count\":1}\n\t ", nil, nil},
		{"array", `{"items":[{"login":"a@example.com","size_bytes":[1]}],"total_count":1}`, nil, mailgun.ErrBadResponse},
		{"data after the value", `{"items":[],"total_count":0} {}`, nil, mailgun.ErrBadResponse},
		{"garbage after the value", `{"items":[],"total_count":0}x`, nil, mailgun.ErrBadResponse},
		{"empty body", ``, nil, mailgun.ErrBadResponse},
		{"truncated", `{"items":[{"login":"a@exa`, nil, mailgun.ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{body: tt.body})
			c, _ := newClient(t, f)
			l, err := c.ListCredentials(context.Background(), "example.com", nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if len(l.Items) != 1 {
				t.Fatalf("items = %d, want 1", len(l.Items))
			}
			got := l.Items[0].SizeBytes
			switch {
			case (got == nil) != (tt.wantSize == nil):
				t.Errorf("size_bytes: got %v, want %v", got, tt.wantSize)
			case got != nil && *got != *tt.wantSize:
				t.Errorf("size_bytes: got %q, want %q", *got, *tt.wantSize)
			}
		})
	}
}
