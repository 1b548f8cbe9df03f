package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/store"
)

// PasswordSets knows what the audit trail tells of a domain's logins that Mailgun's list does
// not. When SMTP Desk last set the password of each: the newest successful reset (Mailgun keeps
// only a login's creation date, so without it a login reset yesterday would still be marked
// "consider rotating" for its age). And which it created as system logins: those whose newest
// successful create asked for them (Mailgun's list has no system flag, and its delete all keeps
// them, so without it the delete-all page named them among the logins it deletes, and each row
// offered a delete Mailgun refuses). A domain's answer is kept for ttl (two queries per domain
// and ttl, not per page view); a reset or a create of system logins through this instance
// forgets it at once, and one through another instance is seen within ttl.
type PasswordSets struct {
	src AuditLog
	ttl time.Duration
	now func() time.Time
	log *slog.Logger

	sf      singleflight.Group
	mu      sync.Mutex
	domains map[string]pwSetEntry
	gen     map[string]uint64
}

type pwSetEntry struct {
	at      map[string]time.Time
	system  map[string]store.MarkedOK // lower-case login → its create as a system login through SMTP Desk
	expires time.Time
	// unread: the audit trail could not be read just now, so at and system are empty for want
	// of it, not because SMTP Desk never reset or created anything there. Never kept.
	unread bool
}

// passwordSetsFor is the PasswordSets of an audit trail, or nil without one.
func passwordSetsFor(src AuditLog, ttl time.Duration, now func() time.Time, log *slog.Logger) *PasswordSets {
	if src == nil {
		return nil
	}
	return &PasswordSets{src: src, ttl: ttl, now: now, log: log, domains: map[string]pwSetEntry{}, gen: map[string]uint64{}}
}

// maxPasswordSetDomains bounds the domains whose answers PasswordSets keeps. A domain page asks
// for its domain's password ages before Mailgun has said whether the domain exists, so without a
// bound every name typed into /d/… by a viewer of every domain ("*") would stay in memory for
// good.
const maxPasswordSetDomains = 1000

// lastOKTimeout bounds the audit queries behind a domain's password ages and system logins
// (LastOK, then NewestOKMarked), together; they run detached from the request that started
// them (shared).
const lastOKTimeout = 5 * time.Second

// entry is what is known of domain, read from the audit trail when it is not kept: its logins
// (lower case) with the time SMTP Desk last set their password, and those it created as system
// logins. A nil PasswordSets, or an audit trail that cannot be read, gives none: the page then
// marks logins by their creation date alone, and knows postmaster as the only system login, as
// it would without the trail, logs why, and (unread) says so to the user.
func (p *PasswordSets) entry(ctx context.Context, domain string) pwSetEntry {
	if p == nil {
		return pwSetEntry{}
	}
	d := domainKey(domain)
	p.mu.Lock()
	if e, ok := p.domains[d]; ok && p.now().Before(e.expires) {
		p.mu.Unlock()
		return e
	}
	g := p.gen[d]
	p.mu.Unlock()
	v, err := shared(ctx, &p.sf, "password ages", fmt.Sprintf("%s\x00%d", d, g), func(ctx context.Context) (any, error) {
		ctx, cancel := context.WithTimeout(ctx, lastOKTimeout)
		defer cancel()
		// Kept for the ttl from when the reading began, as ListCache keeps its entries: a reset
		// through another instance just after that is seen within the ttl.
		start := p.now()
		at, err := p.src.LastOK(ctx, d, audit.ActionCredentialReset)
		if err != nil {
			return nil, err
		}
		system, err := p.src.NewestOKMarked(ctx, d, audit.ActionCredentialCreate, aboutSystemLogins)
		if err != nil {
			return nil, err
		}
		e := pwSetEntry{at: at, system: system, expires: start.Add(p.ttl)}
		p.mu.Lock()
		if p.gen[d] == g && p.now().Before(e.expires) {
			p.roomLocked()
			p.domains[d] = e
		}
		p.mu.Unlock()
		return e, nil
	})
	if err != nil {
		p.log.WarnContext(ctx, "password ages: read the audit trail", "domain", domain, "err", err)
		return pwSetEntry{unread: true}
	}
	return v.(pwSetEntry)
}

// roomLocked makes room for one more domain: once maxPasswordSetDomains are kept it drops the
// expired answers and, if that is not enough, all of them (they are read again, one query a
// domain), as ListCache bounds its pages.
func (p *PasswordSets) roomLocked() {
	if len(p.domains) < maxPasswordSetDomains {
		return
	}
	now := p.now()
	for d, e := range p.domains {
		if !now.Before(e.expires) {
			delete(p.domains, d)
		}
	}
	if len(p.domains) >= maxPasswordSetDomains {
		clear(p.domains)
	}
}

// Forget drops what is known of domain, after this instance changed a password there or
// created system logins.
func (p *PasswordSets) Forget(domain string) {
	if p == nil {
		return
	}
	d := domainKey(domain)
	p.mu.Lock()
	p.gen[d]++
	delete(p.domains, d)
	p.mu.Unlock()
}

// lastSet is when SMTP Desk last set login's password according to sets, or zero.
func lastSet(sets map[string]time.Time, login string) time.Time {
	if len(sets) == 0 {
		return time.Time{}
	}
	return sets[strings.ToLower(login)]
}
