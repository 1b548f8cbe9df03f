package auth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/securecookie"
	"github.com/labstack/echo/v4"
	"github.com/smtpdesk/smtpdesk/internal/ratelimit"
	"github.com/smtpdesk/smtpdesk/policy"
	"golang.org/x/oauth2"
)

// ErrSignInUnavailable is the Internal error of the 503 answered while the provider has not been
// discovered yet, or when it failed in the middle of a sign-in (its token endpoint unreachable
// or answering 5xx, or its answer server_error or temporarily_unavailable).
var ErrSignInUnavailable = errors.New("auth: identity provider not discovered yet")

// ErrSignInRefused is the Internal error of the 400 answered when a callback fails a check, and
// of the 403 answered when the provider refused the sign-in.
var ErrSignInRefused = errors.New("auth: sign-in refused")

// User is the signed-in person, read from the server-side session record.
type User struct {
	Issuer        string
	Subject       string
	Email         string
	Name          string
	EmailVerified bool
	Groups        []string
	// GroupsProblem says why no groups were read when the provider sent a groups claim that is
	// not a string or a list of strings ("the \"groups\" claim was a number, ..."); "" otherwise.
	// The no-access page shows it: "no groups" is then the claim's fault, not the user's.
	GroupsProblem  string    `json:",omitempty"`
	SessionCreated time.Time `json:"-"`
}

// PolicySubject returns the user as the access policy sees them.
func (u *User) PolicySubject() policy.Subject {
	return policy.Subject{Email: u.Email, EmailVerified: u.EmailVerified, Groups: u.Groups}
}

// Display returns the name, or the e-mail when the provider sent no name.
func (u *User) Display() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

// discovered is what provider discovery yields.
type discovered struct {
	provider   *oidc.Provider
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
	userinfo   string
}

// Auth signs users in and out and carries sessions through echo middleware.
type Auth struct {
	cfg         Config
	store       *SessionStore
	repo        SessionRepo
	events      EventRecorder
	log         *slog.Logger
	loginCodecs []securecookie.Codec
	loginName   string
	signInLimit *ratelimit.Limiter // nil: unlimited

	// home is RedirectURL's origin (scheme://host), where every sign-in takes place: the state
	// cookie the login sets is the browser's for that host alone, and the provider sends the
	// browser back to RedirectURL. homeScheme and homeHost are its parts as hostKey compares them.
	home       string
	homeScheme string
	homeHost   string

	prov      atomic.Pointer[discovered]
	ready     chan struct{}
	readyOnce sync.Once
	kick      chan struct{}
	startOnce sync.Once
}

// New builds the authenticator. events may be nil (nothing recorded); logger may be nil.
// Call Start to discover the provider in the background.
func New(cfg Config, sessions SessionRepo, events EventRecorder, logger *slog.Logger) (*Auth, error) {
	if sessions == nil {
		return nil, errors.New("auth: a session repository is required")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	loginName := InsecureLoginCookie
	if c.SecureCookies {
		loginName = LoginCookieName
	}
	ru, err := url.Parse(c.RedirectURL) // withDefaults checked it
	if err != nil {
		return nil, fmt.Errorf("auth: RedirectURL: %w", err)
	}
	return &Auth{
		cfg:         c,
		store:       newSessionStore(sessions, c),
		repo:        sessions,
		events:      events,
		log:         logger.With("component", "auth"),
		loginCodecs: codecs(c.SessionKeys, loginCookieLifetime+5*time.Minute),
		loginName:   loginName,
		signInLimit: newSignInLimiter(c.SignInPerMinute, c.Now),
		home:        ru.Scheme + "://" + ru.Host,
		homeScheme:  ru.Scheme,
		homeHost:    hostKey(ru.Scheme, ru.Host),
		ready:       make(chan struct{}),
		kick:        make(chan struct{}, 1),
	}, nil
}

// Store returns the gorilla/sessions store behind the sessions.
func (a *Auth) Store() *SessionStore { return a.store }

// Start discovers the provider in the background, retrying with capped exponential backoff until
// it succeeds or ctx ends, so the app can start while the provider is down. Calling it again is a
// no-op.
func (a *Auth) Start(ctx context.Context) {
	a.startOnce.Do(func() { go a.discoverLoop(ctx) })
}

// Ready reports whether the provider has been discovered (sign-in is available).
func (a *Auth) Ready() bool { return a.prov.Load() != nil }

// EndSessionEndpoint returns the provider's end_session_endpoint from discovery: where sign-out
// redirects the browser. It is "" before discovery and when the provider offers none.
func (a *Auth) EndSessionEndpoint() string {
	if d := a.prov.Load(); d != nil {
		return d.endSession
	}
	return ""
}

// WaitReady blocks until the provider has been discovered or ctx ends.
func (a *Auth) WaitReady(ctx context.Context) error {
	select {
	case <-a.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting for provider discovery: %w", ctx.Err())
	}
}

func (a *Auth) discoverLoop(ctx context.Context) {
	delay := a.cfg.DiscoveryRetryMin
	for {
		err := a.Discover(ctx)
		if err == nil || ctx.Err() != nil {
			// Done, or the process is stopping (start-up failed after Start, say, to listen):
			// a discovery cut short by that is no news about the provider.
			return
		}
		a.log.Warn("identity provider discovery failed; sign-in answers 503 until it succeeds (check that OIDC_ISSUER is the provider's issuer URL and that this host can reach it)",
			"issuer", a.cfg.IssuerURL, "retry_in", delay.String(), "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-a.kick:
			t.Stop()
		}
		delay = min(delay*2, a.cfg.DiscoveryRetryMax)
	}
}

// Discover fetches the provider's discovery document once. Start calls it in a loop; it is
// exported for callers that want to discover synchronously.
func (a *Auth) Discover(ctx context.Context) error {
	if a.Ready() {
		return nil
	}
	dctx, cancel := context.WithTimeout(ctx, a.cfg.HTTPClient.Timeout)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(dctx, a.cfg.HTTPClient), a.cfg.IssuerURL)
	if err != nil {
		return fmt.Errorf("auth: discover %s: %w", a.cfg.IssuerURL, err)
	}
	var extra struct {
		EndSession      string   `json:"end_session_endpoint"`
		UserInfo        string   `json:"userinfo_endpoint"`
		TokenAuthMethod []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := p.Claims(&extra); err != nil {
		return fmt.Errorf("auth: discovery document: %w", err)
	}
	endpoint := p.Endpoint()
	endpoint.AuthStyle = tokenAuthStyle(extra.TokenAuthMethod)
	d := &discovered{
		provider: p,
		oauth: oauth2.Config{
			ClientID: a.cfg.ClientID, ClientSecret: a.cfg.ClientSecret, RedirectURL: a.cfg.RedirectURL,
			Endpoint: endpoint, Scopes: a.cfg.Scopes,
		},
		verifier: p.Verifier(&oidc.Config{
			ClientID:             a.cfg.ClientID,
			SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256},
			Now:                  a.cfg.Now,
		}),
		endSession: extra.EndSession,
		userinfo:   extra.UserInfo,
	}
	a.prov.Store(d)
	a.readyOnce.Do(func() { close(a.ready) })
	a.log.Info("identity provider discovered", "issuer", a.cfg.IssuerURL, "end_session", extra.EndSession != "")
	return nil
}

// Register adds GET /auth/login, GET /auth/callback, POST /auth/logout and GET and HEAD
// /auth/signed-out. They load the session themselves, so they work with or without the Session
// middleware; logout is CSRF-checked whether or not CSRF() runs globally. A HEAD of the sign-in
// steps is refused (405, Allow: GET): one starts a sign-in and the other spends its code, which a
// link checker must not do, and unrouted it fell through to the pages' catch-all and was sent to
// sign in. A sign-in started at another host than RedirectURL's (Config.RequestHost) is first
// redirected to the same sign-in there, before any cookie is set (see homeRedirect).
func (a *Auth) Register(e *echo.Echo) {
	e.GET(LoginPath, a.login)
	e.GET(CallbackPath, a.callback)
	refuseHead := func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderAllow, http.MethodGet)
		return echo.NewHTTPError(http.StatusMethodNotAllowed)
	}
	e.HEAD(LoginPath, refuseHead)
	e.HEAD(CallbackPath, refuseHead)
	e.POST(LogoutPath, a.logout, a.CSRF())
	e.Match([]string{http.MethodGet, http.MethodHead}, SignedOutPath, a.signedOut)
}

func (a *Auth) signedOut(c echo.Context) error {
	// The same address is a page signed out and a redirect home signed in: neither may be kept
	// and given to the other.
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	if a.cfg.SignedOutPage != nil {
		return a.cfg.SignedOutPage(c)
	}
	return c.Redirect(http.StatusFound, "/")
}

// loginState is what the short-lived sign-in cookie carries between login and callback.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"r"`
	Issued   int64  `json:"t"`
}

func (a *Auth) unavailable() error {
	select {
	case a.kick <- struct{}{}:
	default:
	}
	return echo.NewHTTPError(http.StatusServiceUnavailable, signInUnavailableMsg).SetInternal(ErrSignInUnavailable)
}

// movedParam marks a sign-in that homeRedirect has sent to RedirectURL's host already.
const movedParam = "moved"

// homeRedirect returns where to send a sign-in request that reached this server at another host
// than RedirectURL's (another name of the same server: localhost for 127.0.0.1, an internal
// alias): the same sign-in, with its path to come back to, at RedirectURL's host. Started where
// it arrived, the sign-in's state cookie was the browser's for that host only, the provider sent
// the browser back to RedirectURL's host, and the callback there found no sign-in in progress:
// the first try failed, and the second, now on the right host, worked. ok is false when the
// request is at the right host, or was sent there once already.
func (a *Auth) homeRedirect(c echo.Context) (to string, ok bool) {
	r := c.Request()
	host := a.cfg.RequestHost(r)
	if hostKey(a.homeScheme, host) == a.homeHost {
		return "", false
	}
	q := r.URL.Query()
	if q.Get(movedParam) != "" {
		// Sent there once, and still another host: a proxy in front gives SMTP Desk its own
		// name for it as the Host (an upstream's, say), not the browser's. Sending the browser
		// again would loop; the sign-in goes on here, as it did before this redirect existed.
		a.log.Warn("sign-in: the request's host is not the base URL's even after a redirect there; a proxy in front probably sets its own Host: have it pass the browser's Host header, or send X-Forwarded-Host from an address TRUSTED_PROXIES lists",
			"host", clip(host, 100), "base_host", a.homeHost, "request_id", requestID(c))
		return "", false
	}
	v := url.Values{movedParam: {"1"}}
	if next := q.Get("next"); next != "" {
		v.Set("next", SafeNext(next))
	}
	return a.home + LoginPath + "?" + v.Encode(), true
}

// hostKey is a host (name and port, as in a Host header) as homeRedirect compares it: in lower
// case, without the port scheme implies. A trailing dot stays: a browser keeps the cookies of
// "x." apart from those of "x".
func hostKey(scheme, host string) string {
	host = strings.ToLower(host)
	switch scheme {
	case "https":
		return strings.TrimSuffix(host, ":443")
	case "http":
		return strings.TrimSuffix(host, ":80")
	}
	return host
}

func (a *Auth) login(c echo.Context) error {
	if to, ok := a.homeRedirect(c); ok {
		// Ahead of the rate limit: the sign-in itself, at the base URL's host, counts once.
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.Redirect(http.StatusFound, to)
	}
	if err := a.limitSignIn(c); err != nil {
		return err
	}
	d := a.prov.Load()
	if d == nil {
		return a.unavailable()
	}
	ls := loginState{
		State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Next: SafeNext(c.QueryParam("next")), Issued: a.cfg.Now().Unix(),
	}
	name := a.loginCookieName(ls.State)
	encoded, err := a.encodeLoginState(name, &ls)
	if err != nil {
		return err
	}
	a.pruneLoginCookies(c)
	c.SetCookie(&http.Cookie{
		Name: name, Value: encoded, Path: "/", MaxAge: int(loginCookieLifetime / time.Second),
		Secure: a.cfg.SecureCookies, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	c.Response().Header().Set("Cache-Control", "no-store")
	u := d.oauth.AuthCodeURL(ls.State, oidc.Nonce(ls.Nonce), oauth2.S256ChallengeOption(ls.Verifier))
	return c.Redirect(http.StatusFound, u)
}

// maxCookieBytes is the most a cookie's name and value may hold together: browsers drop a
// larger cookie without a word (RFC 6265 6.1 asks them to keep at least 4096 bytes).
const maxCookieBytes = 4096

// encodeLoginState encodes ls as the value of the state cookie name, within maxCookieBytes. The
// path to come back to takes most of it, and it grows in the encoding (JSON writes each "&",
// "<" or ">" as six bytes, then two rounds of base64), so a long one, of at most 2048 bytes
// (SafeNext), could make a value securecookie refuses (a 500) or a cookie the browser drops
// (the callback then finds no sign-in in progress). Such a path is cut to its part before the
// query, and that to "/" if it is still too long: the user signs in, a little off their place.
func (a *Auth) encodeLoginState(name string, ls *loginState) (string, error) {
	next, _, _ := strings.Cut(ls.Next, "?")
	var err error
	for _, try := range []string{ls.Next, next, "/"} {
		ls.Next = try
		var encoded string
		encoded, err = securecookie.EncodeMulti(name, *ls, a.loginCodecs...)
		if err == nil && len(name)+len(encoded) <= maxCookieBytes {
			return encoded, nil
		}
	}
	if err == nil {
		err = errors.New("larger than a cookie holds")
	}
	return "", fmt.Errorf("auth: encode sign-in cookie: %w", err)
}

// Each sign-in in progress has its own state cookie, named after its state, so that sign-ins
// started in two tabs both complete, and a callback with another state (a stale tab, or a link
// from another site) leaves the one in progress alone.

// loginCookieName is the name of the state cookie of the sign-in whose state is state.
func (a *Auth) loginCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return a.loginName + "-" + hex.EncodeToString(sum[:8])
}

func (a *Auth) clearLoginCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(1, 0),
		Secure: a.cfg.SecureCookies, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// pruneLoginCookies clears the state cookies that are no longer usable, and the oldest ones
// beyond maxLoginsInProgress-1, to make room for a new sign-in.
func (a *Auth) pruneLoginCookies(c echo.Context) {
	type inProgress struct {
		name   string
		issued int64
	}
	var live []inProgress
	for _, ck := range c.Cookies() {
		if !strings.HasPrefix(ck.Name, a.loginName+"-") {
			continue
		}
		if ls, ok := a.decodeLoginCookie(ck); ok {
			live = append(live, inProgress{ck.Name, ls.Issued})
		} else {
			a.clearLoginCookie(c, ck.Name)
		}
	}
	// Stable: browsers send cookies of the same path oldest first (RFC 6265 5.4), which orders
	// sign-ins started within the same second.
	slices.SortStableFunc(live, func(x, y inProgress) int { return cmp.Compare(x.issued, y.issued) })
	for len(live) > maxLoginsInProgress-1 {
		a.clearLoginCookie(c, live[0].name)
		live = live[1:]
	}
}

// takeLoginCookie reads the state cookie of the sign-in whose state is state and clears it: a
// state is used once, whatever happens next. It reports false when there is none, or it has
// expired or does not decode.
func (a *Auth) takeLoginCookie(c echo.Context, state string) (loginState, bool) {
	if state == "" {
		return loginState{}, false
	}
	ck, err := c.Cookie(a.loginCookieName(state))
	if err != nil {
		return loginState{}, false
	}
	a.clearLoginCookie(c, ck.Name)
	ls, ok := a.decodeLoginCookie(ck)
	return ls, ok && equalConst(state, ls.State)
}

func (a *Auth) decodeLoginCookie(ck *http.Cookie) (loginState, bool) {
	var ls loginState
	if ck.Value == "" {
		return ls, false
	}
	if err := securecookie.DecodeMulti(ck.Name, ck.Value, &ls, a.loginCodecs...); err != nil {
		return ls, false
	}
	age := a.cfg.Now().Sub(time.Unix(ls.Issued, 0))
	if age < -time.Minute || age > loginCookieLifetime || ls.State == "" || ls.Nonce == "" || ls.Verifier == "" {
		return ls, false
	}
	return ls, true
}

// authorizedParty returns the ID token's azp claim ("" when it has none). A claim that is not a
// string is an error: the token cannot say which client it was issued to.
func authorizedParty(idt *oidc.IDToken) (string, error) {
	var claims struct {
		AZP any `json:"azp"`
	}
	if err := idt.Claims(&claims); err != nil {
		return "", fmt.Errorf("reading azp: %w", err)
	}
	switch v := claims.AZP.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("azp is a %T, not a string", v)
	}
}

func equalConst(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (a *Auth) callback(c echo.Context) error {
	if err := a.limitSignIn(c); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	q := c.QueryParams()
	ls, ok := a.takeLoginCookie(c, q.Get("state"))
	switch {
	case q.Get("state") == "":
		return a.refuse(c, "no state in the callback", nil)
	case !ok:
		// The user is told the likely reasons: "could not be completed" alone left one who had
		// spent a while at the provider's page (its own sign-in, a second factor) guessing.
		return a.refuseAs(c, http.StatusBadRequest, staleSignInMsg, ErrSignInRefused,
			"no sign-in in progress in this browser has this state (missing, expired or already used)", nil)
	case q.Get("error") != "":
		return a.providerError(c, q.Get("error"), q.Get("error_description"))
	case q.Get("code") == "":
		return a.refuse(c, "no authorization code", nil)
	}
	d := a.prov.Load()
	if d == nil {
		return a.unavailable()
	}
	ctx := oidc.ClientContext(c.Request().Context(), a.cfg.HTTPClient)
	tok, err := d.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || (re.Response != nil && re.Response.StatusCode >= 500) {
			// The token endpoint did not answer, or failed: the provider is down, not the
			// sign-in wrong. Starting again would fail the same way, so the user is told so.
			return a.refuseAs(c, http.StatusServiceUnavailable, signInUnavailableMsg, ErrSignInUnavailable, "code exchange failed", err)
		}
		return a.refuse(c, "code exchange failed", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return a.refuse(c, "token response has no id_token", nil)
	}
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		if strings.Contains(err.Error(), "fetching keys") {
			// The provider's signing keys could not be fetched (go-oidc says so only in its
			// message): the provider is down, not the token wrong, as for the code exchange.
			return a.refuseAs(c, http.StatusServiceUnavailable, signInUnavailableMsg, ErrSignInUnavailable, "id_token could not be checked: the provider's signing keys could not be fetched", err)
		}
		return a.refuse(c, "id_token rejected", err)
	}
	if idt.Nonce == "" || !equalConst(idt.Nonce, ls.Nonce) {
		return a.refuse(c, "id_token nonce does not match", nil)
	}
	if idt.Subject == "" {
		// OpenID Connect requires sub; a session without it would read as signed out, and the
		// browser would be sent round the sign-in flow again and again.
		return a.refuse(c, "id_token has no sub claim", nil)
	}
	if azp, err := authorizedParty(idt); err != nil || (azp != "" && azp != a.cfg.ClientID) {
		// go-oidc checks only that this client is among the audiences. A token whose azp names
		// another client was issued to that client (OpenID Connect Core 3.1.3.7, steps 4 and 5).
		return a.refuse(c, "id_token was issued to another client (azp)", err)
	}
	u, unreadable, err := a.userFromToken(ctx, d, idt, tok)
	if err != nil {
		if errors.Is(err, errProviderFailed) {
			return a.refuseAs(c, http.StatusServiceUnavailable, signInUnavailableMsg, ErrSignInUnavailable, "reading the user's claims failed", err)
		}
		return a.refuse(c, "reading the user's claims failed", err)
	}
	if unreadable != "" {
		u.GroupsProblem = fmt.Sprintf("the %q claim was %s, not a string or a list of strings", a.cfg.GroupsClaim, unreadable)
	}
	if err := a.startSession(c, u, raw); err != nil {
		return err
	}
	detail := groupsDetail(u.Groups)
	if unreadable != "" {
		// The user is let in with no groups (no rule matches them by group): the administrator
		// needs to know why, or the provider looks as if it sent no claim at all.
		detail += "; " + u.GroupsProblem + ", so none was read"
		a.log.Warn("sign-in: unreadable groups claim; the user has no groups", "claim", a.cfg.GroupsClaim, "shape", unreadable, "request_id", requestID(c))
	}
	a.record(c, AuthEvent{Action: ActionSignIn, Outcome: "ok", Issuer: u.Issuer, Subject: u.Subject,
		Email: u.Email, Name: u.Name, Detail: detail})
	return c.Redirect(http.StatusFound, ls.Next)
}

// refuse answers a failed callback with 400 and records auth.sign_in_refused. No session is made.
func (a *Auth) refuse(c echo.Context, detail string, err error) error {
	return a.refuseAs(c, http.StatusBadRequest, "Sign-in could not be completed.", ErrSignInRefused, detail, err)
}

// staleSignInMsg is the answer to a callback whose sign-in this browser does not have in progress
// (its state cookie expired after loginCookieLifetime, was used, or was never kept).
var staleSignInMsg = fmt.Sprintf("This sign-in was started more than %d minutes ago, or was completed already, "+
	"or this browser blocks SMTP Desk's cookies (allow them for this site).", int(loginCookieLifetime/time.Minute))

const signInUnavailableMsg = "sign-in is unavailable: the identity provider cannot be reached"

// providerError answers a callback whose provider said no (RFC 6749 4.1.2.1). Starting again
// helps only after a cancelled sign-in: a provider that refused the user (access_denied, the
// user not assigned to the application) refuses again, and one that failed (server_error,
// temporarily_unavailable) is down, so each is told as such. The code is shown only when it is
// one of the standard ones; the description, the provider's free text, goes to the trail alone.
func (a *Auth) providerError(c echo.Context, code, description string) error {
	detail := "identity provider answered " + clip(code, 64) + ": " + clip(description, 200)
	switch code {
	case "server_error", "temporarily_unavailable":
		return a.refuseAs(c, http.StatusServiceUnavailable, signInUnavailableMsg, ErrSignInUnavailable, detail, nil)
	case "access_denied", "unauthorized_client", "login_required", "consent_required", "interaction_required",
		"account_selection_required", "invalid_scope", "invalid_request", "unsupported_response_type":
		return a.refuseAs(c, http.StatusForbidden, "Your identity provider did not sign you in (it answered "+code+").",
			ErrSignInRefused, detail, nil)
	}
	return a.refuseAs(c, http.StatusForbidden, "Your identity provider did not sign you in.", ErrSignInRefused, detail, nil)
}

// refuseAs answers a failed callback with status and msg (internal is the sentinel the error
// handler classifies by) and records auth.sign_in_refused. No session is made.
func (a *Auth) refuseAs(c echo.Context, status int, msg string, internal error, detail string, err error) error {
	if err != nil {
		// The token endpoint's error quotes the provider's answer, and a provider may echo the
		// request in it: the client secret, as sent (form-encoded too), never reaches the log or
		// the trail.
		text := err.Error()
		if secret := a.cfg.ClientSecret; secret != "" {
			text = strings.NewReplacer(secret, "[client secret]", url.QueryEscape(secret), "[client secret]").Replace(text)
		}
		a.log.Warn("sign-in refused", "detail", detail, "err", text, "request_id", requestID(c))
		detail = detail + ": " + clip(text, 300)
	} else {
		a.log.Warn("sign-in refused", "detail", detail, "request_id", requestID(c))
	}
	a.record(c, AuthEvent{Action: ActionSignInRefused, Outcome: "failed", Issuer: a.cfg.IssuerURL, Detail: detail})
	return echo.NewHTTPError(status, msg).SetInternal(fmt.Errorf("%w: %s", internal, detail))
}

// tokenAuthStyle is how the client secret goes to the token endpoint, from the methods the
// provider's discovery document lists: in the Authorization header (client_secret_basic, the
// default OpenID Connect Discovery gives when none are listed) unless the provider takes it only
// in the form (client_secret_post). oauth2 would otherwise guess, sending the code again the
// other way after any failure: a token endpoint that does not answer then kept the user
// waiting two timeouts instead of one.
func tokenAuthStyle(methods []string) oauth2.AuthStyle {
	if len(methods) == 0 || slices.Contains(methods, "client_secret_basic") || !slices.Contains(methods, "client_secret_post") {
		return oauth2.AuthStyleInHeader
	}
	return oauth2.AuthStyleInParams
}

// userFromToken reads the user from the ID token, and from userinfo when the token lacks the
// e-mail, whether it is verified, or the groups. unreadable names the shape of a groups claim that was there but held no
// list of strings ("a list of objects"), when no readable one was found elsewhere.
func (a *Auth) userFromToken(ctx context.Context, d *discovered, idt *oidc.IDToken, tok *oauth2.Token) (_ *User, unreadable string, _ error) {
	var claims map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return nil, "", fmt.Errorf("id_token claims: %w", err)
	}
	u := &User{Issuer: idt.Issuer, Subject: idt.Subject}
	// verifiedSaid: the source of u.Email said whether it is verified. A provider may send the
	// address in the ID token and email_verified in userinfo alone; without reading it there,
	// the user's e-mail rules and self-service matched nothing. Userinfo's word counts for the
	// same address only, and only where the token said nothing.
	verifiedSaid := false
	fill := func(m map[string]json.RawMessage) {
		var email string
		_ = json.Unmarshal(m["email"], &email)
		_, said := m["email_verified"]
		switch {
		case u.Email == "":
			u.Email, u.EmailVerified, verifiedSaid = email, boolClaim(m["email_verified"]), said
		case !verifiedSaid && said && policy.SameEmail(email, u.Email):
			u.EmailVerified, verifiedSaid = boolClaim(m["email_verified"]), true
		}
		if u.Name == "" {
			_ = json.Unmarshal(m["name"], &u.Name)
		}
	}
	fill(claims)
	groups, found := stringsClaim(claims[a.cfg.GroupsClaim])
	unreadable = claimShape(claims[a.cfg.GroupsClaim], found)
	// needed: userinfo is asked for the e-mail or the groups, without which the sign-in cannot
	// go on as it should; otherwise only for email_verified, and an answer that fails, or is
	// another subject's, leaves the e-mail unverified, as the token alone says, and refuses
	// nobody a token let in before.
	needed := !found || u.Email == ""
	if (needed || !verifiedSaid) && d.userinfo != "" {
		ui, err := d.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		switch {
		case err != nil:
			if !found && providerFailed(err) {
				return nil, "", fmt.Errorf("userinfo: %w: %w", errProviderFailed, err)
			}
			if !found {
				return nil, "", fmt.Errorf("userinfo: %w", err)
			}
		case ui.Subject != idt.Subject:
			if needed {
				return nil, "", errors.New("userinfo subject differs from the id_token's")
			}
			a.log.WarnContext(ctx, "sign-in: userinfo answered for another subject; the e-mail is taken as unverified")
		default:
			var uc map[string]json.RawMessage
			if err := ui.Claims(&uc); err != nil {
				if needed {
					return nil, "", fmt.Errorf("userinfo claims: %w", err)
				}
				break
			}
			fill(uc)
			if !found {
				groups, found = stringsClaim(uc[a.cfg.GroupsClaim])
				if s := claimShape(uc[a.cfg.GroupsClaim], found); found || s != "" {
					unreadable = s
				}
			}
		}
	}
	if !found && unreadable == "" && distributedClaim(claims, a.cfg.GroupsClaim) {
		// Microsoft Entra ID sends a link to the groups of a user in more than 200 of them
		// ("groups overage"), and its userinfo has none: the user gets no groups, as with no
		// claim, but the sign-in's audit entry and the no-access page say why.
		unreadable = "sent as a distributed claim (a link to the groups, which a provider sends instead of them when the user is in too many groups)"
	}
	u.Groups = groups
	if u.Groups == nil {
		u.Groups = []string{}
	}
	return u, unreadable, nil
}

// errProviderFailed marks a sign-in that failed because the provider did not answer, or answered
// with a server error: a 503 "Sign-in is unavailable", since starting again fails the same way.
var errProviderFailed = errors.New("the provider did not answer or failed")

// userinfoServerError matches go-oidc's error for a userinfo answer with a 5xx status, which it
// gives only as text ("503 Service Unavailable: …").
var userinfoServerError = regexp.MustCompile(`^5\d\d `)

// providerFailed reports whether a call to the provider failed on the provider's side: no
// answer (a *url.Error: refused, reset, timed out) or a server error.
func providerFailed(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) || userinfoServerError.MatchString(err.Error())
}

// distributedClaim reports whether the token's _claim_names (OpenID Connect Core 5.6.2) names
// claim: the claim's value is elsewhere, behind a link SMTP Desk does not follow.
func distributedClaim(claims map[string]json.RawMessage, claim string) bool {
	var names map[string]json.RawMessage
	if json.Unmarshal(claims["_claim_names"], &names) != nil {
		return false
	}
	_, ok := names[claim]
	return ok
}

// claimShape names a claim that is there but that stringsClaim could not read ("a number", "a
// list of objects"); "" when it was read (found) or is absent.
func claimShape(raw json.RawMessage, found bool) string {
	if found || len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "unreadable JSON"
	}
	kind := func(v any) string {
		switch v.(type) {
		case float64:
			return "a number"
		case bool:
			return "a boolean"
		case []any:
			return "a list"
		case map[string]any:
			return "an object"
		}
		return "a string"
	}
	if list, ok := v.([]any); ok {
		for _, e := range list {
			if k := kind(e); e != nil && k != "a string" {
				return "a list holding " + k
			}
		}
	}
	return kind(v)
}

func boolClaim(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && strings.EqualFold(s, "true")
}

// stringsClaim reads a list of strings, or one string, from a claim.
func stringsClaim(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list, true
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	return nil, false
}

// startSession drops whatever session the browser had and issues a new one for u.
func (a *Auth) startSession(c echo.Context, u *User, rawIDToken string) error {
	rs, err := a.load(c)
	if err != nil {
		return err
	}
	if rs.sess.ID != "" {
		if err := a.deleteSession(c, rs.sess.ID); err != nil {
			return fmt.Errorf("auth: drop previous session: %w", err)
		}
	}
	sess := a.store.fresh()
	sess.Values[keyUser] = u
	sess.Values[keyCSRF] = randomToken()
	sess.Values[keyIDToken] = rawIDToken
	if err := a.store.Save(c.Request(), c.Response(), sess); err != nil {
		return err
	}
	u.SessionCreated = a.cfg.Now()
	rs.sess, rs.user = sess, u
	return nil
}

// deleteSession ends the session id, whether or not the browser that asked is still there: with
// the request's context, a user who signed out and closed the laptop at once left the session
// live until its idle timeout. The store bounds the delete's time.
func (a *Auth) deleteSession(c echo.Context, id string) error {
	return a.repo.DeleteSession(context.WithoutCancel(c.Request().Context()), id)
}

func (a *Auth) logout(c echo.Context) error {
	rs, err := a.load(c)
	if err != nil {
		return err
	}
	var rawIDToken string
	if rs.sess.ID != "" {
		value(rs.sess, keyIDToken, &rawIDToken)
		if err := a.deleteSession(c, rs.sess.ID); err != nil {
			return fmt.Errorf("auth: sign out: %w", err)
		}
		if u := rs.user; u != nil {
			a.record(c, AuthEvent{Action: ActionSignOut, Outcome: "ok", Issuer: u.Issuer, Subject: u.Subject, Email: u.Email, Name: u.Name})
		}
	}
	a.store.clearCookie(c.Response())
	rs.sess, rs.user = a.store.fresh(), nil
	c.Response().Header().Set("Cache-Control", "no-store")
	// 303: the next request, at the provider or here, is a GET whatever the client (RFC 9110
	// 15.4.4); a 302 leaves the POST's method to the client's habit.
	if d := a.prov.Load(); d != nil && d.endSession != "" && rawIDToken != "" {
		q := url.Values{"id_token_hint": {rawIDToken}, "client_id": {a.cfg.ClientID}}
		if a.cfg.PostLogoutRedirectURL != "" {
			q.Set("post_logout_redirect_uri", a.cfg.PostLogoutRedirectURL)
		}
		sep := "?"
		if strings.Contains(d.endSession, "?") {
			sep = "&"
		}
		return c.Redirect(http.StatusSeeOther, d.endSession+sep+q.Encode())
	}
	return c.Redirect(http.StatusSeeOther, SignedOutPath)
}

// SafeNext returns next when it is a local path ("/x": one leading slash, no scheme, no host, no
// backslash, no control characters), else "/".
func SafeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 2048 {
		return "/"
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "/"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// clip replaces control characters with spaces and cuts s to at most n bytes, on a character
// boundary, marking the cut.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n] + "…"
	}
	return s
}

// groupsDetail says how many IdP groups a sign-in brought, for the audit trail: the count, not
// the names, which the session record keeps.
func groupsDetail(groups []string) string {
	if len(groups) == 1 {
		return "1 group"
	}
	return fmt.Sprintf("%d groups", len(groups))
}
