// Package auth signs users in with OpenID Connect (authorization code flow with PKCE), keeps
// revocable server-side sessions behind a gorilla/sessions Store, checks CSRF tokens and exposes
// the signed-in user, flash messages and preferences to handlers through echo middleware.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
)

// Config configures sign-in and sessions.
type Config struct {
	IssuerURL    string   // the OpenID provider, exactly as its discovery document names itself
	ClientID     string   // the OAuth client id; also the expected ID token audience
	ClientSecret string   // never logged
	RedirectURL  string   // this app's callback, e.g. https://smtp-desk.example.com/auth/callback
	Scopes       []string // default openid, email, profile
	GroupsClaim  string   // the claim holding the user's groups, default "groups"

	// SessionKeys are securecookie key pairs (hash key, block key, hash key, block key, ...): the
	// first pair encodes, every pair decodes, so keys can be rotated by prepending a new pair.
	// Every pair has both keys (the block key of 16, 24 or 32 bytes), so cookies are always
	// encrypted as well as signed.
	SessionKeys [][]byte

	IdleTimeout     time.Duration // default 30m
	AbsoluteTimeout time.Duration // default 12h

	// SecureCookies is false only for the plain-HTTP loopback demo: the cookies are then named
	// "smtpdesk" and "smtpdesk-login-…" without the __Host- prefix and without Secure.
	SecureCookies bool

	Now        func() time.Time // default time.Now; tests move it
	HTTPClient *http.Client     // for every call to the provider; default: 10s timeout

	// PostLogoutRedirectURL is sent to the provider's end_session_endpoint, e.g.
	// https://smtp-desk.example.com/auth/signed-out. Empty: not sent.
	PostLogoutRedirectURL string

	// TrustedClientIP returns the client address for the audit trail (the trusted-proxy rule);
	// default: the connection's remote address.
	TrustedClientIP func(*http.Request) string

	// RequestHost returns the host (name and port, as a Host header gives it) the browser
	// addressed: the Host header, or the X-Forwarded-Host a trusted proxy sent
	// (handlers.ForwardedHost); default: the request's Host. A sign-in started at another host
	// than RedirectURL's is sent there first (see Register).
	RequestHost func(*http.Request) string

	// SignedOutPage renders GET /auth/signed-out; nil redirects to "/".
	SignedOutPage echo.HandlerFunc

	// DiscoveryRetryMin and DiscoveryRetryMax bound the backoff between discovery attempts while
	// the provider is unreachable (defaults 1s and 1m).
	DiscoveryRetryMin time.Duration
	DiscoveryRetryMax time.Duration

	// SignInPerMinute limits sign-in attempts (GET /auth/login and /auth/callback) per client IP
	// (see TrustedClientIP; an IPv6 client's whole /64 shares one budget), answered 429 with Retry-After. 0 means DefaultSignInPerMinute (20);
	// a negative value disables the limit.
	SignInPerMinute int
}

// Cookie names.
const (
	CookieName            = "__Host-smtpdesk"         // session cookie (HTTPS)
	LoginCookieName       = "__Host-smtpdesk-login"   // sign-in state cookies (HTTPS): this, "-", loginCookieKey(state)
	InsecureCookieName    = "smtpdesk"                // session cookie of the plain-HTTP loopback demo
	InsecureLoginCookie   = "smtpdesk-login"          // sign-in state cookies of the plain-HTTP demo, named as above
	ChangedCookieName     = "__Host-smtpdesk-changed" // set anew by each change's answer (AfterChange, HTTPS)
	InsecureChangedCookie = "smtpdesk-changed"        // the same in the plain-HTTP demo
	loginCookieLifetime   = 10 * time.Minute
	maxLoginsInProgress   = 4 // sign-in state cookies kept per browser; a fifth sign-in drops the oldest
	lastSeenWriteInterval = time.Minute
)

// Paths registered by Register.
const (
	LoginPath     = "/auth/login"
	CallbackPath  = "/auth/callback"
	LogoutPath    = "/auth/logout"
	SignedOutPath = "/auth/signed-out"
)

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.IssuerURL == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return cfg, errors.New("auth: IssuerURL, ClientID and RedirectURL are required")
	}
	if len(cfg.SessionKeys) == 0 {
		return cfg, errors.New("auth: SessionKeys are required (hash key, block key pairs)")
	}
	if len(cfg.SessionKeys)%2 != 0 {
		// securecookie takes a pair without its block key as "sign only": the cookie would be
		// signed but not encrypted.
		return cfg, fmt.Errorf("auth: SessionKeys are %d keys, want hash key, block key pairs", len(cfg.SessionKeys))
	}
	for i := 0; i < len(cfg.SessionKeys); i += 2 {
		if len(cfg.SessionKeys[i]) < 32 {
			return cfg, fmt.Errorf("auth: session hash key %d is %d bytes, want at least 32", i/2+1, len(cfg.SessionKeys[i]))
		}
		if n := len(cfg.SessionKeys[i+1]); n != 16 && n != 24 && n != 32 {
			return cfg, fmt.Errorf("auth: session block key %d is %d bytes, want 16, 24 or 32", i/2+1, n)
		}
	}
	if u, err := url.Parse(cfg.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return cfg, fmt.Errorf("auth: RedirectURL %q is not an absolute http(s) URL", cfg.RedirectURL)
	}
	if cfg.RequestHost == nil {
		cfg.RequestHost = func(r *http.Request) string { return r.Host }
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"openid", "email", "profile"}
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	} else if cfg.HTTPClient.Timeout <= 0 {
		hc := *cfg.HTTPClient
		hc.Timeout = 10 * time.Second
		cfg.HTTPClient = &hc
	}
	if cfg.DiscoveryRetryMin <= 0 {
		cfg.DiscoveryRetryMin = time.Second
	}
	if cfg.DiscoveryRetryMax < cfg.DiscoveryRetryMin {
		cfg.DiscoveryRetryMax = max(time.Minute, cfg.DiscoveryRetryMin)
	}
	return cfg, nil
}

// SessionRecord is one server-side session as a SessionRepo keeps it: the id (the repository
// stores only its hash), the session's encoded values and its times.
type SessionRecord struct {
	ID        string
	Data      []byte
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

// ErrSessionNotFound is what a SessionRepo returns, or wraps, for a session it does not have (never
// made, signed out, revoked or swept): the browser is then signed out.
var ErrSessionNotFound = errors.New("auth: no such session record")

// ErrSessionChanged is what a SessionRepo's UpdateSession returns, or wraps, when the record's
// data are no longer those the caller read: another request of the same session saved since.
var ErrSessionChanged = errors.New("auth: the session record changed since it was read")

// SessionRepo stores session records. app.SessionRepo adapts the store's database to it, so that
// auth does not import store.
type SessionRepo interface {
	CreateSession(ctx context.Context, rec SessionRecord) error
	GetSession(ctx context.Context, id string) (SessionRecord, error)
	// UpdateSession writes data and lastSeen if the record's data are still old (compare and
	// swap), and returns ErrSessionChanged if not; ErrSessionNotFound when the record is gone.
	UpdateSession(ctx context.Context, id string, old, data []byte, lastSeen time.Time) error
	// TouchSession sets only the last-seen time (the activity write of a page view), never
	// the data, so it cannot put back data another request saved meanwhile.
	TouchSession(ctx context.Context, id string, lastSeen time.Time) error
	DeleteSession(ctx context.Context, id string) error
}

// Audit actions recorded through EventRecorder.
const (
	ActionSignIn        = "auth.sign_in"
	ActionSignOut       = "auth.sign_out"
	ActionSignInRefused = "auth.sign_in_refused"
	// ActionSessionsRevoked is recorded by "web sessions revoke" (cmd/web), which ends every
	// session of one user.
	ActionSessionsRevoked = "auth.sessions_revoked"
)

// AuthEvent is one sign-in, sign-out or refused sign-in, for the audit trail. (A denied access
// is the handlers' to record: they know the domain and the action refused.)
type AuthEvent struct {
	Action    string // ActionSignIn, ActionSignOut, ActionSignInRefused
	Outcome   string // "ok" or "failed" (refused sign-in)
	Issuer    string
	Subject   string
	Email     string
	Name      string
	Detail    string // why, for refusals; never a secret
	RequestID string
	ClientIP  string
	UserAgent string
}

// EventRecorder records AuthEvents; the app adapts it to the audit package.
type EventRecorder interface {
	RecordAuthEvent(ctx context.Context, e AuthEvent) error
}
