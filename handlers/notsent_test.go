package handlers_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/smtpdesk/smtpdesk/handlers"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/store"
)

// leaveBeforeDelete is the real client; while leave is set, a delete waits for its request to
// end (the browser left: the Stop button, a tab closed) before it calls Mailgun, as a slow
// audit Begin or database would make it.
type leaveBeforeDelete struct {
	handlers.CredentialsAPI
	leave   atomic.Bool
	reached chan struct{}
	done    chan error
}

func (l *leaveBeforeDelete) DeleteCredential(ctx context.Context, domain, spec string) (*mailgun.DeleteResult, error) {
	if !l.leave.Load() {
		return l.CredentialsAPI.DeleteCredential(ctx, domain, spec)
	}
	l.reached <- struct{}{}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
	res, err := l.CredentialsAPI.DeleteCredential(ctx, domain, spec)
	l.done <- err
	return res, err
}

// TestDeleteNotSentIsNotAnUnknownOutcome (by a review helper): a delete whose request ended before its
// Mailgun call sent nothing (mailgun.ErrNotSent), and the audit trail now says so ("failed",
// "nothing was sent to Mailgun"). The handlers read the error as "Mailgun did not answer"
// (classify: upNoAnswer; outcomeUnknown true; changedNothing false): the form's one-time token
// stays spent, so the same form sent again is refused "This form was already sent ... check the
// list to see whether dave is gone", though nothing was sent and the trail says so.
func TestDeleteNotSentIsNotAnUnknownOutcome(t *testing.T) {
	lb := &leaveBeforeDelete{reached: make(chan struct{}, 1), done: make(chan error, 1)}
	e := newEnv(t, envOptions{Settings: handlers.Settings{ActionsPerMinute: 1000},
		Mailgun: func(mg handlers.CredentialsAPI) handlers.CredentialsAPI { lb.CredentialsAPI = mg; return lb }})
	c := e.signIn(t, "admin")
	const login = "dave@acme.example"
	const path = "/d/acme.example/logins/" + login + "/delete"
	confirm := get(t, c, path)
	wantStatus(t, confirm, 200)
	form := confirm.Find(testid("delete-form"))
	v := url.Values{}
	form.Find(`input[type="hidden"]`).Each(func(_ int, in *goquery.Selection) {
		v.Add(in.AttrOr("name", ""), in.AttrOr("value", ""))
	})
	action := form.AttrOr("action", "")
	e.SB.ResetCalls()

	lb.leave.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-lb.reached; cancel() }()
	if _, err := c.Post(ctx, action, v); err == nil {
		t.Fatal("the first sending was answered: the client did not leave")
	}
	err := <-lb.done
	if !errors.Is(err, mailgun.ErrNotSent) {
		t.Fatalf("the delete's error is %v, want mailgun.ErrNotSent", err)
	}
	lb.leave.Store(false)
	// Its audit entry is completed as the handler returns.
	var entry store.AuditEntry
	for deadline := time.Now().Add(10 * time.Second); ; {
		es := e.auditEntries(t, store.AuditFilter{Action: "credential.delete", Login: login})
		if len(es) == 1 && es[0].Outcome != "pending" {
			entry = es[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit entries %+v", es)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("audit: %s %q", entry.Outcome, entry.UpstreamMessage)
	if n := len(e.callsTo(sandbox.RouteDelete, "")); n != 0 {
		t.Fatalf("%d delete calls reached Mailgun, want none", n)
	}
	// Nothing was sent, as the trail says: the same form sent again deletes the login.
	p, err := c.Post(context.Background(), action, v)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != 200 || !strings.Contains(p.Text(), "Deleted "+login) {
		t.Errorf("the same form sent again after nothing was sent: %d %.300q; want the login deleted", p.Status,
			strings.Join(strings.Fields(p.TestID("upstream-error").Text()), " "))
	}
}
