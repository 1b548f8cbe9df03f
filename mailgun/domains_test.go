package mailgun_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

func TestListDomains(t *testing.T) {
	f := newFake(t, reply{body: `{"total_count":3,"items":[
		{"name":"example.com","state":"active","type":"custom","created_at":"Wed, 08 Mar 2023 23:34:57 GMT","id":"d1","spam_action":"disabled"},
		{"name":"acme.example","state":"unverified","type":"custom","created_at":"Thu, 09 Mar 2023 01:00:00 +0000","id":"d2"}]}`})
	c, _ := newClient(t, f)
	got, err := c.ListDomains(context.Background(), &mailgun.DomainListOptions{Skip: 10, Limit: 2, Search: "ex", State: "active", Sort: "name:asc"})
	if err != nil {
		t.Fatalf("ListDomains: %v", err)
	}
	want := &mailgun.DomainList{TotalCount: 3, Items: []mailgun.Domain{
		{ID: "d1", Name: "example.com", State: "active", Type: "custom", CreatedAt: time.Date(2023, 3, 8, 23, 34, 57, 0, time.UTC)},
		{ID: "d2", Name: "acme.example", State: "unverified", Type: "custom", CreatedAt: time.Date(2023, 3, 9, 1, 0, 0, 0, time.UTC)},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	req := onlyRequest(t, f)
	if req.Method != http.MethodGet || req.EscapedPath != "/v4/domains" {
		t.Errorf("request = %s %s", req.Method, req.EscapedPath)
	}
	wantQuery := map[string][]string{"skip": {"10"}, "limit": {"2"}, "search": {"ex"}, "state": {"active"}, "sort": {"name:asc"}}
	if !reflect.DeepEqual(map[string][]string(req.Query), wantQuery) {
		t.Errorf("query = %v, want %v", req.Query, wantQuery)
	}
}

func TestListDomainsNoOptions(t *testing.T) {
	f := newFake(t, reply{body: `{"total_count":0,"items":[]}`})
	c, _ := newClient(t, f)
	if _, err := c.ListDomains(context.Background(), nil); err != nil {
		t.Fatalf("ListDomains: %v", err)
	}
	if q := onlyRequest(t, f).Query; len(q) != 0 {
		t.Errorf("query = %v, want none", q)
	}
}

// TestListDomainsBadTimestamp: a created_at that is no timestamp is a broken answer, not a
// domain created at the zero time.
func TestListDomainsBadTimestamp(t *testing.T) {
	f := newFake(t, reply{body: `{"total_count":1,"items":[{"name":"example.com","created_at":"yesterday"}]}`})
	c, _ := newClient(t, f)
	got, err := c.ListDomains(context.Background(), nil)
	if !errors.Is(err, mailgun.ErrBadResponse) {
		t.Errorf("ListDomains = %+v, %v; want ErrBadResponse", got, err)
	}
}
