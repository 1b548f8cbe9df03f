package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun"
)

// movingLister is a domain's list that another operator changes while it is read: after each
// first page it deletes one login near the start, shifting every later one by one place, for
// the first `moves` walks (and, with `swap`, creates one at the end in the same moment, so the
// count every later page reports is the first page's); after each of the first `grow` answers
// to a later page it creates a login at the end. It stands in for Mailgun, whose list pages are
// windows by offset.
type movingLister struct {
	mu          sync.Mutex
	items       []mailgun.Credential
	moves, grow int
	swap        bool
}

func (s *movingLister) ListCredentials(_ context.Context, _ string, o *mailgun.ListOptions) (*mailgun.CredentialList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lo, hi := min(o.Skip, len(s.items)), min(o.Skip+o.Limit, len(s.items))
	out := &mailgun.CredentialList{Items: slices.Clone(s.items[lo:hi]), TotalCount: len(s.items)}
	if o.Skip == 0 && s.moves > 0 {
		s.moves--
		s.items = slices.Delete(s.items, 5, 6)
		if s.swap {
			s.items = append(s.items, mailgun.Credential{Login: fmt.Sprintf("swap%04d@example.com", s.moves)})
		}
	} else if o.Skip > 0 && s.grow > 0 {
		s.grow--
		s.items = append(s.items, mailgun.Credential{Login: fmt.Sprintf("new%04d@example.com", s.grow)})
	}
	return out, nil
}

func (s *movingLister) logins() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, cr := range s.items {
		out = append(out, cr.Login)
	}
	return out
}

func newMovingLister(n, moves int) *movingLister {
	s := &movingLister{moves: moves}
	for i := range n {
		s.items = append(s.items, mailgun.Credential{Login: fmt.Sprintf("user%04d@example.com", i)})
	}
	return s
}

// TestAllWhileTheListMoves: a login deleted while a domain's pages are read shifts the later
// ones, and the login crossing a page boundary was left out with no error (the count still
// matched Mailgun's). The walk now starts again when the pages disagree, and gives up with
// ErrListMoved when the list keeps moving, rather than leave a live login out.
// wantAllLogins fails t unless all holds exactly the logins src has now, in its order.
func wantAllLogins(t *testing.T, src *movingLister, all []mailgun.Credential) {
	t.Helper()
	var got []string
	for _, cr := range all {
		got = append(got, cr.Login)
	}
	if want := src.logins(); !slices.Equal(got, want) {
		t.Errorf("All is not the %d logins that exist: %d logins, user1000 (never deleted) present: %v", len(want), len(got), slices.Contains(got, "user1000@example.com"))
	}
}

func TestAllWhileTheListMoves(t *testing.T) {
	t.Run("moves once", func(t *testing.T) {
		src := newMovingLister(2500, 1)
		all, err := handlers.NewListCache(src, handlers.ListCacheOptions{}).All(context.Background(), "example.com")
		if err != nil {
			t.Fatal(err)
		}
		wantAllLogins(t, src, all)
	})
	// A delete before the second page and a create before the third leave as many logins as
	// the first page's count, one of them never seen: only the pages' counts disagreeing (2,499
	// on the second page) tell the walk that the list moved. FanOut 1 reads the pages in order.
	t.Run("moves and grows back to its count", func(t *testing.T) {
		src := newMovingLister(2500, 1)
		src.grow = 1
		all, err := handlers.NewListCache(src, handlers.ListCacheOptions{FanOut: 1}).All(context.Background(), "example.com")
		if err != nil {
			t.Fatal(err)
		}
		wantAllLogins(t, src, all)
	})
	// A delete and a create between the first page and the rest: every page reports the same
	// count, and as many distinct logins as that count are read, yet user1000, which existed
	// throughout, slid onto the first page after it was read. Only the pages' overlap (the
	// second page must begin with the first one's last login) shows it.
	t.Run("moves and grows in one step", func(t *testing.T) {
		src := newMovingLister(2500, 1)
		src.swap = true
		all, err := handlers.NewListCache(src, handlers.ListCacheOptions{}).All(context.Background(), "example.com")
		if err != nil {
			t.Fatal(err)
		}
		wantAllLogins(t, src, all)
	})
	t.Run("keeps moving", func(t *testing.T) {
		src := newMovingLister(2500, 100)
		if _, err := handlers.NewListCache(src, handlers.ListCacheOptions{}).All(context.Background(), "example.com"); !errors.Is(err, handlers.ErrListMoved) {
			t.Errorf("All of a list that never holds still: %v, want ErrListMoved", err)
		}
	})
}
