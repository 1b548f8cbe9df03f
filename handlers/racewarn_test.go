package handlers

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/mailgun"
	"github.com/smtpdesk/smtpdesk/store"
)

// The race warnings' filters, read against a real audit trail written by the recorder as the
// handlers write it, on a clock the test sets: which entries count as another action at the same
// moment (not one refused; one pending or of unknown outcome, which may have changed the login),
// entries at exactly the same instant as the action's start or end, the user's own entries, and
// more entries landing meanwhile than the few the warnings read.

const raceDomain = "acme.example"

var (
	raceIvan = &auth.User{Issuer: "https://idp.example", Subject: "ivan", Name: "Ivan Admin", Email: "ivan@acme.example"}
	raceOlga = &auth.User{Issuer: "https://idp.example", Subject: "olga", Name: "Olga Owner", Email: "olga@acme.example"}
	raceOmar = &auth.User{Issuer: "https://idp.example", Subject: "omar", Name: "Omar Operator", Email: "omar@acme.example"}
	// Mailgun refused the call: the entry is failed, nothing changed.
	errRefused = &mailgun.Error{StatusCode: 429, Message: "Too many requests"}
	// No answer in time: the entry is of unknown outcome, the change may have been made.
	errNoAnswer = context.DeadlineExceeded
)

// raceTrail is an audit trail in a SQLite file, its recorder's clock set by at.
type raceTrail struct {
	t    *testing.T
	db   *store.DB
	rec  *audit.Recorder
	base time.Time
	now  time.Time
}

func newRaceTrail(t *testing.T) *raceTrail {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "smtpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	base := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	tr := &raceTrail{t: t, db: db, base: base, now: base}
	tr.rec = audit.NewRecorder(db, func() time.Time { return tr.now })
	return tr
}

// at sets the clock to s seconds after the trail's base time.
func (tr *raceTrail) at(s float64) { tr.now = tr.base.Add(time.Duration(s * float64(time.Second))) }

// time is s seconds after the trail's base time, as pages write it.
func (tr *raceTrail) time(s float64) string {
	return tr.base.Add(time.Duration(s * float64(time.Second))).Format(trailTime)
}

// begin records u's action on logins of raceDomain as pending, at the clock's time.
func (tr *raceTrail) begin(u *auth.User, action string, logins ...string) *audit.Pending {
	tr.t.Helper()
	p, err := tr.rec.Begin(context.Background(), actorOf(u), audit.Meta{}, action, raceDomain, "", logins)
	if err != nil {
		tr.t.Fatal(err)
	}
	return p
}

// end completes p at the clock's time with the Mailgun call's error (nil: ok).
func (tr *raceTrail) end(p *audit.Pending, err error) {
	tr.t.Helper()
	if cerr := p.Complete(context.Background(), err); cerr != nil {
		tr.t.Fatal(cerr)
	}
}

// did records u's action begun at from and completed at to with err.
func (tr *raceTrail) did(u *auth.User, action string, from, to float64, err error, logins ...string) {
	tr.t.Helper()
	tr.at(from)
	p := tr.begin(u, action, logins...)
	tr.at(to)
	tr.end(p, err)
}

// denied records a refusal by the policy of u's action on login, as the handlers write it.
func (tr *raceTrail) denied(u *auth.User, login string) {
	tr.t.Helper()
	if err := tr.rec.Event(context.Background(), actorOf(u), audit.Meta{}, audit.ActionAccessDenied, audit.OutcomeDenied,
		raceDomain, "reset", login); err != nil {
		tr.t.Fatal(err)
	}
}

// omarTries records n of Omar's tries on bob from from seconds, each of which changed nothing:
// refused by the policy (a denial) or by Mailgun (a failed reset).
func omarTries(tr *raceTrail, from float64, n int) {
	for i := range n {
		s := from + float64(i)/100
		tr.at(s)
		if i%2 == 0 {
			tr.denied(raceOmar, raceBob)
		} else {
			tr.did(raceOmar, audit.ActionCredentialReset, s, s, errRefused, raceBob)
		}
	}
}

func (tr *raceTrail) pages() *CredentialPages {
	return &CredentialPages{site: &site{auditLog: tr.db}}
}

func raceScope(u *auth.User, login string) *scope {
	return &scope{user: u, domain: raceDomain, login: login}
}

const raceBob = "bob@acme.example"

// TestOtherResetFilter: Ivan's reset of bob ran from 10 s to 12 s. Another reset warns when it
// ran at the same moment and may have set a password: not one Mailgun refused, but one still
// pending or of unknown outcome, and one that ended at the very instant Ivan's began; Ivan's own
// in another tab is "you". More of bob's entries landing meanwhile than the 20 read still warn.
func TestOtherResetFilter(t *testing.T) {
	const reset = audit.ActionCredentialReset
	for _, tt := range []struct {
		name   string
		before func(tr *raceTrail) // entries begun before Ivan's reset
		during func(tr *raceTrail) // entries begun while it ran
		want   string              // "" for no warning
	}{
		{name: "alone"},
		{name: "refused by Mailgun while it ran",
			during: func(tr *raceTrail) { tr.did(raceOlga, reset, 11, 11.5, errRefused, raceBob) }},
		{name: "refused, begun before and ending after",
			before: func(tr *raceTrail) { tr.did(raceOlga, reset, 9, 13, errRefused, raceBob) }},
		{name: "of unknown outcome",
			during: func(tr *raceTrail) { tr.did(raceOlga, reset, 11, 13, errNoAnswer, raceBob) },
			want:   "Olga Owner reset it at the same moment"},
		{name: "still pending",
			during: func(tr *raceTrail) { tr.at(11); tr.begin(raceOlga, reset, raceBob) },
			want:   "Olga Owner reset it at the same moment"},
		{name: "ended at the instant it began",
			before: func(tr *raceTrail) { tr.did(raceOlga, reset, 8, 10, nil, raceBob) },
			want:   "Olga Owner reset it at the same moment"},
		{name: "ended just before it began",
			before: func(tr *raceTrail) { tr.did(raceOlga, reset, 8, 9.999, nil, raceBob) }},
		{name: "in another tab",
			during: func(tr *raceTrail) { tr.did(raceIvan, reset, 11, 13, nil, raceBob) },
			want:   "you (in another tab or window) reset it at the same moment"},
		{name: "of another login",
			during: func(tr *raceTrail) { tr.did(raceOlga, reset, 11, 11.5, nil, "alice@acme.example") }},
		{name: "after a few tries that changed nothing",
			during: func(tr *raceTrail) { omarTries(tr, 11, 3); tr.did(raceOlga, reset, 11.5, 11.6, nil, raceBob) },
			want:   "Olga Owner reset it at the same moment"},
		{name: "more entries meanwhile than read",
			during: func(tr *raceTrail) {
				omarTries(tr, 11, 5)
				tr.did(raceOlga, reset, 11.5, 11.6, nil, raceBob)
				omarTries(tr, 11.6, 15)
			},
			want: "Olga Owner reset it at the same moment"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := newRaceTrail(t)
			if tt.before != nil {
				tt.before(tr)
			}
			tr.at(10)
			own := tr.begin(raceIvan, reset, raceBob)
			if tt.during != nil {
				tt.during(tr)
			}
			tr.at(12)
			tr.end(own, nil)
			got := tr.pages().otherReset(context.Background(), raceScope(raceIvan, raceBob), own.ID())
			if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
				t.Errorf("otherReset = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDeletedMeanwhileFilter: Ivan's reset of bob ran from 10 s to 12 s. A delete of bob, or a
// delete all of the domain, that ran at the same moment warns, saying whether it went through,
// is still running or may have: not one Mailgun refused, nor one that ended before the reset
// began, and Ivan's own delete all (in another tab) is "you". More entries of the domain landing
// meanwhile than the 50 read still warn.
func TestDeletedMeanwhileFilter(t *testing.T) {
	const (
		del    = audit.ActionCredentialDelete
		delAll = audit.ActionCredentialDeleteAll
	)
	for _, tt := range []struct {
		name   string
		before func(tr *raceTrail)
		during func(tr *raceTrail)
		want   string
	}{
		{name: "alone"},
		{name: "a delete refused by Mailgun",
			during: func(tr *raceTrail) { tr.did(raceOlga, del, 11, 11.5, errRefused, raceBob) }},
		{name: "a delete all refused by Mailgun",
			before: func(tr *raceTrail) { tr.did(raceOlga, delAll, 9, 11, errRefused, raceBob) }},
		{name: "a delete that went through",
			during: func(tr *raceTrail) { tr.did(raceOlga, del, 11, 11.5, nil, "BOB@acme.example") },
			want:   "Olga Owner deleted bob@acme.example at the same moment"},
		{name: "a delete of unknown outcome",
			during: func(tr *raceTrail) { tr.did(raceOlga, del, 11, 13, errNoAnswer, raceBob) },
			want:   "Olga Owner may have deleted bob@acme.example at the same moment"},
		{name: "a delete all still running",
			before: func(tr *raceTrail) { tr.at(9); tr.begin(raceOlga, delAll, "alice@acme.example") },
			want:   "Olga Owner is deleting every login of acme.example at the same moment"},
		{name: "your delete all in another tab",
			before: func(tr *raceTrail) { tr.at(9); tr.begin(raceIvan, delAll, "alice@acme.example") },
			want:   "you (in another tab or window) are deleting every login of acme.example at the same moment"},
		{name: "a delete all that ended at the instant the reset began",
			before: func(tr *raceTrail) { tr.did(raceOlga, delAll, 8, 10, nil, raceBob) },
			want:   "Olga Owner deleted every login of acme.example at the same moment"},
		{name: "a delete all that ended just before",
			before: func(tr *raceTrail) { tr.did(raceOlga, delAll, 8, 9.999, nil, raceBob) }},
		{name: "a delete of another login",
			during: func(tr *raceTrail) { tr.did(raceOlga, del, 11, 11.5, nil, "alice@acme.example") }},
		{name: "more entries of the domain meanwhile than read",
			during: func(tr *raceTrail) {
				// Omar resets other logins of the domain, one after another.
				omarResets := func(from float64, n int) {
					for i := range n {
						s := from + float64(i)/100
						tr.did(raceOmar, audit.ActionCredentialReset, s, s+0.005, nil, "alice@acme.example")
					}
				}
				omarResets(11, 10)
				tr.did(raceOlga, del, 11.2, 11.3, nil, raceBob)
				omarResets(11.3, 45)
			},
			want: "Olga Owner deleted bob@acme.example at the same moment"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := newRaceTrail(t)
			if tt.before != nil {
				tt.before(tr)
			}
			tr.at(10)
			own := tr.begin(raceIvan, audit.ActionCredentialReset, raceBob)
			if tt.during != nil {
				tt.during(tr)
			}
			tr.at(12)
			tr.end(own, nil)
			got := tr.pages().deletedMeanwhile(context.Background(), raceScope(raceIvan, raceBob), own.ID(), []string{raceBob})
			if got != tt.want {
				t.Errorf("deletedMeanwhile = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestChangedSinceFilter: Ivan reset bob from 10 s to 12 s and comes back to the list naming it.
// A colleague's change after his counts only when it went through (not refused, nor pending or
// of unknown outcome, which may not have changed anything), and a delete only when the list no
// longer has the login; one begun at the very instant his ended counts, as does a delete that
// ended at the very instant his began; his own newest change is the one Mailgun did not refuse
// (one of unknown outcome may have set the password after hers); a delete all is named "you"
// when it was his.
func TestChangedSinceFilter(t *testing.T) {
	const (
		reset  = audit.ActionCredentialReset
		del    = audit.ActionCredentialDelete
		delAll = audit.ActionCredentialDeleteAll
	)
	gone := []mailgun.Credential{{Login: "alice@acme.example"}}
	there := []mailgun.Credential{{Login: "alice@acme.example"}, {Login: raceBob}}
	for _, tt := range []struct {
		name   string
		before func(tr *raceTrail) // entries begun before Ivan's reset (10 s to 12 s)
		trail  func(tr *raceTrail) // entries begun after it
		all    []mailgun.Credential
		want   string // the note, with the time's place as %s; "" for none
		when   float64
	}{
		{name: "alone", all: there},
		{name: "a reset after it",
			trail: func(tr *raceTrail) { tr.did(raceOlga, reset, 20, 21, nil, raceBob) }, all: there,
			want: "Olga Owner reset the password of bob@acme.example again on %s, after your change", when: 21},
		{name: "a reset begun at the instant it ended",
			trail: func(tr *raceTrail) { tr.did(raceOlga, reset, 12, 13, nil, raceBob) }, all: there,
			want: "Olga Owner reset the password of bob@acme.example again on %s, after your change", when: 13},
		{name: "a reset refused by Mailgun",
			trail: func(tr *raceTrail) { tr.did(raceOlga, reset, 20, 21, errRefused, raceBob) }, all: there},
		{name: "a reset of unknown outcome",
			trail: func(tr *raceTrail) { tr.did(raceOlga, reset, 20, 21, errNoAnswer, raceBob) }, all: there},
		{name: "a reset still pending",
			trail: func(tr *raceTrail) { tr.at(20); tr.begin(raceOlga, reset, raceBob) }, all: there},
		{name: "a reset after it, then one of his Mailgun refused",
			trail: func(tr *raceTrail) {
				tr.did(raceOlga, reset, 20, 21, nil, raceBob)
				tr.did(raceIvan, reset, 30, 31, errRefused, raceBob)
			}, all: there,
			want: "Olga Owner reset the password of bob@acme.example again on %s, after your change", when: 21},
		{name: "a reset after it, then one of his of unknown outcome",
			// His newest may have set the password after hers: hers is not known to have replaced it.
			trail: func(tr *raceTrail) {
				tr.did(raceOlga, reset, 20, 21, nil, raceBob)
				tr.did(raceIvan, reset, 30, 31, errNoAnswer, raceBob)
			}, all: there},
		{name: "a delete that ended at the instant it began",
			before: func(tr *raceTrail) { tr.did(raceOlga, del, 8, 10, nil, raceBob) }, all: gone,
			want: "Olga Owner deleted bob@acme.example on %s, after your change", when: 10},
		{name: "a delete of unknown outcome",
			trail: func(tr *raceTrail) { tr.did(raceOlga, del, 20, 21, errNoAnswer, raceBob) }, all: gone},
		{name: "a delete, the login listed again",
			trail: func(tr *raceTrail) { tr.did(raceOlga, del, 20, 21, nil, raceBob) }, all: there},
		{name: "his own delete all",
			trail: func(tr *raceTrail) { tr.did(raceIvan, delAll, 20, 21, nil, raceBob) }, all: gone,
			want: "bob@acme.example is no longer in acme.example: you deleted all of its logins on %s", when: 21},
		{name: "a delete all that ended at the instant it began",
			before: func(tr *raceTrail) { tr.did(raceIvan, delAll, 8, 10, nil, "alice@acme.example") }, all: gone,
			want: "bob@acme.example is no longer in acme.example: you deleted all of its logins on %s", when: 10},
		{name: "a delete all refused by Mailgun",
			trail: func(tr *raceTrail) { tr.did(raceOlga, delAll, 20, 21, errRefused, "alice@acme.example") }, all: gone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := newRaceTrail(t)
			if tt.before != nil {
				tt.before(tr)
			}
			tr.did(raceIvan, reset, 10, 12, nil, raceBob)
			if tt.trail != nil {
				tt.trail(tr)
			}
			notes := tr.pages().changedSince(context.Background(), raceScope(raceIvan, raceBob), map[string]bool{raceBob: true}, tt.all, 0)
			want := ""
			if tt.want != "" {
				want = strings.Replace(tt.want, "%s", tr.time(tt.when), 1)
			}
			switch {
			case want == "" && len(notes) > 0:
				t.Errorf("changedSince = %q, want no note", notes)
			case want != "" && (len(notes) != 1 || !strings.HasPrefix(notes[0], want)):
				t.Errorf("changedSince = %q, want %q", notes, want)
			}
		})
	}
}

// TestDeletedByFilter: the page of a gone login names who deleted it, and when it ended, when
// the trail's newest change of it is a delete that went through: past tries that changed nothing
// (refused by Mailgun or by the policy) and the action's own entry (even when its outcome was
// not written), but not past a delete of unknown outcome or still pending, which may not have
// deleted it, nor past a create of unknown outcome, which may have made it anew; "you" for the
// user's own delete all.
func TestDeletedByFilter(t *testing.T) {
	const (
		reset  = audit.ActionCredentialReset
		del    = audit.ActionCredentialDelete
		delAll = audit.ActionCredentialDeleteAll
	)
	for _, tt := range []struct {
		name  string
		trail func(tr *raceTrail)
		// ownLost: the outcome of Ivan's reset was not written (the database did not answer),
		// which leaves its entry pending.
		ownLost bool
		want    string // "" for none
	}{
		{name: "a delete, then tries that changed nothing",
			trail: func(tr *raceTrail) {
				tr.did(raceOlga, del, 1, 70, nil, raceBob)
				tr.did(raceOmar, reset, 75, 76, errRefused, raceBob)
				tr.at(77)
				tr.denied(raceOmar, raceBob)
			},
			want: "Olga Owner deleted it through SMTP Desk on %s"},
		{name: "a delete, the reset's own outcome not written",
			trail:   func(tr *raceTrail) { tr.did(raceOlga, del, 1, 70, nil, raceBob) },
			ownLost: true,
			want:    "Olga Owner deleted it through SMTP Desk on %s"},
		{name: "a delete of unknown outcome",
			trail: func(tr *raceTrail) { tr.did(raceOlga, del, 1, 2, errNoAnswer, raceBob) }},
		{name: "a delete still pending",
			trail: func(tr *raceTrail) { tr.at(1); tr.begin(raceOlga, del, raceBob) }},
		{name: "your own delete all",
			trail: func(tr *raceTrail) { tr.did(raceIvan, delAll, 1, 70, nil, raceBob) },
			want:  "you deleted it through SMTP Desk on %s"},
		{name: "a create of unknown outcome after the delete",
			// It may have made the login anew: the delete is not known to be what removed it.
			trail: func(tr *raceTrail) {
				tr.did(raceOlga, del, 1, 70, nil, raceBob)
				tr.did(raceOmar, audit.ActionCredentialCreate, 75, 76, errNoAnswer, raceBob)
			}},
		{name: "a reset after the delete",
			trail: func(tr *raceTrail) {
				tr.did(raceOlga, del, 1, 70, nil, raceBob)
				tr.did(raceOmar, reset, 75, 76, nil, raceBob)
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := newRaceTrail(t)
			tt.trail(tr)
			// Ivan's reset from a stale row, which Mailgun answered "not found" (a failed entry).
			tr.at(100)
			own := tr.begin(raceIvan, reset, raceBob)
			if !tt.ownLost {
				tr.end(own, &mailgun.Error{StatusCode: 404, Message: "Not found"})
			}
			got, ok := tr.pages().whoDeleted(context.Background(), raceScope(raceIvan, raceBob), own.ID())
			want := strings.Replace(tt.want, "%s", tr.time(70), 1)
			if got != want || ok != (want != "") {
				t.Errorf("whoDeleted = %q, %v; want %q", got, ok, want)
			}
		})
	}
}

// TestChangedSinceGoneLogin (a review's): a login the list read whole no longer has is never told
// of a newer password ("use the newer one", "ask them for the new one"): a reset that began
// inside the delete that removed it, or one older than a delete not counted (the user's own on
// an address naming no change, one of unknown outcome), was said instead of the delete or of
// nothing. Every case: Ivan's change of bob ran 10-12 s; bob is gone.
func TestChangedSinceGoneLogin(t *testing.T) {
	const (
		reset  = audit.ActionCredentialReset
		create = audit.ActionCredentialCreate
		del    = audit.ActionCredentialDelete
		delAll = audit.ActionCredentialDeleteAll
	)
	gone := []mailgun.Credential{{Login: "alice@acme.example"}}
	for _, tt := range []struct {
		name  string
		named bool
		trail func(tr *raceTrail)
		want  string // in the note; "" for none
	}{
		{"old link: olga reset, then own delete", false, func(tr *raceTrail) {
			tr.did(raceOlga, reset, 20, 21, nil, raceBob)
			tr.did(raceIvan, del, 30, 31, nil, raceBob)
		}, ""},
		{"old link: olga reset, then own delete all", false, func(tr *raceTrail) {
			tr.did(raceOlga, reset, 20, 21, nil, raceBob)
			tr.did(raceIvan, delAll, 30, 31, nil, raceBob, "alice@acme.example")
		}, "you deleted all of its logins"},
		{"named: own reset 21-22 inside olga delete all 20-23", true, func(tr *raceTrail) {
			tr.at(20)
			p := tr.begin(raceOlga, delAll, "alice@acme.example", raceBob)
			tr.did(raceIvan, reset, 21, 22, nil, raceBob)
			tr.at(23)
			tr.end(p, nil)
		}, "deleted " + raceBob},
		{"named: omar reset 21-22 inside olga delete 20-23", true, func(tr *raceTrail) {
			tr.at(20)
			p := tr.begin(raceOlga, del, raceBob)
			tr.did(raceOmar, reset, 21, 22, nil, raceBob)
			tr.at(23)
			tr.end(p, nil)
		}, "deleted " + raceBob},
		{"named: own reset, then delete of unknown outcome (list: gone)", true, func(tr *raceTrail) {
			tr.did(raceIvan, reset, 20, 21, nil, raceBob)
			tr.did(raceOlga, del, 30, 31, errNoAnswer, raceBob)
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := newRaceTrail(t)
			tr.at(10)
			c := tr.begin(raceIvan, create, raceBob)
			tr.at(12)
			tr.end(c, nil)
			tt.trail(tr)
			var id int64
			if tt.named {
				id = c.ID()
			}
			notes := tr.pages().changedSince(context.Background(), raceScope(raceIvan, raceBob), map[string]bool{raceBob: true}, gone, id)
			got := strings.Join(notes, " ")
			if strings.Contains(got, "Use the newer one") || strings.Contains(got, "Ask them for the new one") ||
				(tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("notes %q, want one saying %q (bob is gone)", got, tt.want)
			}
		})
	}
}

// TestChangedSinceEverySequence (a review's model): Ivan's create or reset of bob (10-12 s, named
// by ?entry=), then every sequence of two or three later changes one after the other (his own or
// a colleague's reset, create anew, delete or delete all, each possible at its turn), the list as
// the sequence leaves it. The one note is the newest change that matters, by its author ("You"
// for Ivan) and time; a gone login is never told of a newer password, a present one never of a
// delete.
func TestChangedSinceEverySequence(t *testing.T) {
	type op struct {
		own    bool
		action string
	}
	kinds := []string{audit.ActionCredentialReset, audit.ActionCredentialCreate, audit.ActionCredentialDelete, audit.ActionCredentialDeleteAll}
	var ops []op
	for _, own := range []bool{true, false} {
		for _, k := range kinds {
			ops = append(ops, op{own, k})
		}
	}
	short := map[string]string{audit.ActionCredentialReset: "reset", audit.ActionCredentialCreate: "create", audit.ActionCredentialDelete: "delete", audit.ActionCredentialDeleteAll: "deleteall"}
	alice := "alice@acme.example"
	for _, first := range []string{audit.ActionCredentialCreate, audit.ActionCredentialReset} {
		var seqs [][]op
		for _, a := range ops {
			for _, b := range ops {
				seqs = append(seqs, []op{a, b})
				for _, c := range ops {
					seqs = append(seqs, []op{a, b, c})
				}
			}
		}
		for _, pair := range seqs {
			// validity and expected
			present := true
			valid := true
			var matter int = -1 // index of the change that matters
			for i, o := range pair {
				switch o.action {
				case audit.ActionCredentialReset:
					if !present {
						valid = false
					}
					matter = i
				case audit.ActionCredentialCreate:
					if present {
						valid = false
					}
					present = true
					matter = i
				case audit.ActionCredentialDelete:
					if !present {
						valid = false
					}
					present = false
					matter = i
				case audit.ActionCredentialDeleteAll:
					if present {
						matter = i
					}
					present = false
				}
			}
			if !valid {
				continue
			}
			name := fmt.Sprintf("%s/", short[first])
			for _, o := range pair {
				w := "olga"
				if o.own {
					w = "own"
				}
				name += w + "-" + short[o.action] + "+"
			}
			t.Run(name, func(t *testing.T) {
				tr := newRaceTrail(t)
				tr.at(10)
				c := tr.begin(raceIvan, first, raceBob)
				tr.at(12)
				tr.end(c, nil)
				present := true
				colleagues := []*auth.User{raceOlga, raceOmar, raceOlga}
				for i, o := range pair {
					u := colleagues[i]
					if o.own {
						u = raceIvan
					}
					from := 20 + float64(i)*10
					logins := []string{raceBob}
					if o.action == audit.ActionCredentialDeleteAll {
						logins = []string{alice}
						if present {
							logins = append(logins, raceBob)
						}
					}
					tr.did(u, o.action, from, from+1, nil, logins...)
					switch o.action {
					case audit.ActionCredentialCreate:
						present = true
					case audit.ActionCredentialDelete, audit.ActionCredentialDeleteAll:
						present = false
					}
				}
				all := []mailgun.Credential{{Login: alice}}
				if present {
					all = append(all, mailgun.Credential{Login: raceBob})
				}
				notes := tr.pages().changedSince(context.Background(), raceScope(raceIvan, raceBob), map[string]bool{raceBob: true}, all, c.ID())
				got := strings.Join(notes, " | ")
				m := pair[matter]
				who := []string{"Olga Owner", "Omar Operator", "Olga Owner"}[matter]
				if m.own {
					who = "You"
				}
				var want string
				switch m.action {
				case audit.ActionCredentialReset:
					want = who + " reset the password of " + raceBob
				case audit.ActionCredentialCreate:
					want = who + " created " + raceBob + " anew"
				case audit.ActionCredentialDelete:
					want = who + " deleted " + raceBob
				case audit.ActionCredentialDeleteAll:
					want = "deleted all of its logins"
					if !m.own {
						want = who + " deleted"
					}
				}
				when := tr.time(20 + float64(matter)*10 + 1)
				bad := len(notes) != 1 || !strings.Contains(got, want) || !strings.Contains(got, when)
				if present && (strings.Contains(got, "no longer in") || strings.Contains(got, "deleted")) {
					bad = true
				}
				if !present && (strings.Contains(got, "Use the newer one") || strings.Contains(got, "new one")) {
					bad = true
				}
				if m.action == audit.ActionCredentialDeleteAll && m.own && !strings.Contains(got, "you deleted all") {
					bad = true
				}
				if bad {
					t.Errorf("present=%v notes %q; want one saying %q at %s", present, got, want, when)
				}
			})
		}
	}
}
