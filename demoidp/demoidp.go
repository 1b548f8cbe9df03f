// Package demoidp is a small but real OpenID Connect provider for SMTP Desk's demo mode and
// tests. It serves discovery, JWKS, an authorization endpoint with a persona chooser page, a token
// endpoint (authorization code with PKCE S256 and a client secret), userinfo and end-session.
// Tests can make it misbehave (wrong nonce, issuer, audience, expiry, alg none, unknown key id)
// through Options.Tamper to prove that the relying party refuses such tokens.
//
// Use Start for a provider listening on loopback, or New plus Handler with httptest.
package demoidp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Options configures a Provider. The zero value works: it listens on 127.0.0.1:0 with the default
// personas, client id "smtpdesk-demo" and a random client secret (see Provider.ClientSecret).
type Options struct {
	Addr   string // Start: listen address, default "127.0.0.1:0"
	Issuer string // New: the issuer URL (the provider's base URL); Start derives it from the listener

	Personas               []Persona // default DefaultPersonas()
	ClientID               string    // default "smtpdesk-demo"
	ClientSecret           string    // default: random
	RedirectURIs           []string  // exact matches allowed as redirect_uri
	PostLogoutRedirectURIs []string  // exact matches allowed as post_logout_redirect_uri

	Now      func() time.Time // token times (iat, exp) and code expiry; default time.Now
	TokenTTL time.Duration    // ID and access token lifetime, default 1h
	CodeTTL  time.Duration    // authorization code lifetime, default 1m

	Key   *rsa.PrivateKey // signing key; default: a fresh 2048-bit key
	KeyID string          // default: derived from the key

	// DisableEndSession leaves end_session_endpoint out of discovery (a provider without
	// RP-initiated logout).
	DisableEndSession bool

	// Tamper, when set, may change an ID token's claims and JOSE header before it is signed.
	// Setting header["alg"] to "none" produces an unsigned token.
	Tamper func(claims map[string]any, header map[string]any)
}

type codeGrant struct {
	clientID, redirectURI, nonce, challenge string
	persona                                 Persona
	expires                                 time.Time
}

type accessGrant struct {
	persona Persona
	expires time.Time
}

// Provider is a running (or mountable) demo OpenID provider.
type Provider struct {
	opts   Options
	issuer string
	key    *rsa.PrivateKey
	kid    string
	page   *template.Template
	mux    *http.ServeMux
	srv    *http.Server

	mu          sync.Mutex
	tamper      func(claims map[string]any, header map[string]any)
	codes       map[string]codeGrant
	tokens      map[string]accessGrant
	endSessions int
}

// New builds a provider for opts.Issuer without listening; serve Handler() yourself (e.g. with
// httptest.NewUnstartedServer, whose address is known before it starts).
func New(opts Options) (*Provider, error) {
	if opts.Issuer == "" {
		return nil, errors.New("demoidp: Options.Issuer is required with New (or use Start)")
	}
	u, err := url.Parse(opts.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("demoidp: issuer %q is not an http(s) URL", opts.Issuer)
	}
	if opts.Personas == nil {
		opts.Personas = DefaultPersonas()
	}
	if opts.ClientID == "" {
		opts.ClientID = "smtpdesk-demo"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = randomString(24)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.CodeTTL <= 0 {
		opts.CodeTTL = time.Minute
	}
	key := opts.Key
	if key == nil {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("demoidp: generate key: %w", err)
		}
	}
	kid := opts.KeyID
	if kid == "" {
		jwk := jose.JSONWebKey{Key: &key.PublicKey}
		tp, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("demoidp: key id: %w", err)
		}
		kid = base64.RawURLEncoding.EncodeToString(tp)[:16]
	}
	p := &Provider{
		opts:   opts,
		issuer: strings.TrimSuffix(opts.Issuer, "/"),
		key:    key,
		kid:    kid,
		page:   template.Must(template.New("page").Parse(pageHTML)),
		tamper: opts.Tamper,
		codes:  map[string]codeGrant{},
		tokens: map[string]accessGrant{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorizeGet)
	mux.HandleFunc("POST /authorize", p.authorizePost)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	mux.HandleFunc("POST /userinfo", p.userinfo)
	mux.HandleFunc("GET /end_session", p.endSession)
	p.mux = mux
	return p, nil
}

// Start listens on opts.Addr (default 127.0.0.1:0) and serves the provider until ctx ends or
// Close is called. The issuer is http://ADDR.
func Start(ctx context.Context, opts Options) (*Provider, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demoidp: listen: %w", err)
	}
	opts.Issuer = "http://" + ln.Addr().String()
	p, err := New(opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	p.srv = &http.Server{Handler: p.mux, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close
	go func() {
		<-ctx.Done()
		p.Close()
	}()
	return p, nil
}

// Handler returns the provider's HTTP handler.
func (p *Provider) Handler() http.Handler { return p.mux }

// Issuer returns the issuer URL, e.g. http://127.0.0.1:43125.
func (p *Provider) Issuer() string { return p.issuer }

// ClientID returns the client id the provider accepts.
func (p *Provider) ClientID() string { return p.opts.ClientID }

// ClientSecret returns the client secret the provider accepts.
func (p *Provider) ClientSecret() string { return p.opts.ClientSecret }

// Personas returns the personas offered on the chooser page.
func (p *Provider) Personas() []Persona { return slices.Clone(p.opts.Personas) }

// SetTamper replaces the Tamper hook for tokens issued from now on (nil = honest tokens).
func (p *Provider) SetTamper(f func(claims map[string]any, header map[string]any)) {
	p.mu.Lock()
	p.tamper = f
	p.mu.Unlock()
}

// EndSessions returns how many times the end-session endpoint was called.
func (p *Provider) EndSessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endSessions
}

// Close stops a provider started with Start; it is a no-op for one built with New.
func (p *Provider) Close() error {
	if p.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("demoidp: close: %w", err)
	}
	return nil
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	doc := map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.issuer + "/authorize",
		"token_endpoint":                        p.issuer + "/token",
		"jwks_uri":                              p.issuer + "/jwks",
		"userinfo_endpoint":                     p.issuer + "/userinfo",
		"end_session_endpoint":                  p.issuer + "/end_session",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"grant_types_supported":                 []string{"authorization_code"},
		"scopes_supported":                      []string{"openid", "email", "profile", "groups"},
		"code_challenge_methods_supported":      []string{"S256"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified", "name", "groups"},
	}
	if p.opts.DisableEndSession {
		delete(doc, "end_session_endpoint")
	}
	writeJSON(w, http.StatusOK, doc)
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: "RS256", Use: "sig",
	}}})
}

// authParams are the authorization request parameters, carried through the chooser form.
type authParams struct {
	ClientID, RedirectURI, ResponseType, Scope, State, Nonce, Challenge, ChallengeMethod string
}

func readAuthParams(v url.Values) authParams {
	return authParams{
		ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"),
		ResponseType: v.Get("response_type"), Scope: v.Get("scope"), State: v.Get("state"),
		Nonce: v.Get("nonce"), Challenge: v.Get("code_challenge"), ChallengeMethod: v.Get("code_challenge_method"),
	}
}

// check validates an authorization request. A bad client or redirect URI is shown as a page
// (never redirected to); other errors are sent back to the client's redirect URI.
func (p *Provider) check(w http.ResponseWriter, r *http.Request, a authParams) bool {
	if a.ClientID != p.opts.ClientID {
		p.errorPage(w, http.StatusBadRequest, "Unknown client_id.")
		return false
	}
	if !slices.Contains(p.opts.RedirectURIs, a.RedirectURI) {
		p.errorPage(w, http.StatusBadRequest, "This redirect_uri is not registered for the client.")
		return false
	}
	switch {
	case a.ResponseType != "code":
		p.redirectError(w, r, a, "unsupported_response_type", "only response_type=code is supported")
		return false
	case !slices.Contains(strings.Fields(a.Scope), "openid"):
		p.redirectError(w, r, a, "invalid_scope", "the openid scope is required")
		return false
	case a.Challenge == "" || a.ChallengeMethod != "S256":
		p.redirectError(w, r, a, "invalid_request", "PKCE with code_challenge_method=S256 is required")
		return false
	}
	return true
}

func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, a authParams, code, desc string) {
	q := url.Values{"error": {code}, "error_description": {desc}}
	if a.State != "" {
		q.Set("state", a.State)
	}
	http.Redirect(w, r, addQuery(a.RedirectURI, q), http.StatusFound)
}

func (p *Provider) authorizeGet(w http.ResponseWriter, r *http.Request) {
	a := readAuthParams(r.URL.Query())
	if !p.check(w, r, a) {
		return
	}
	p.render(w, http.StatusOK, pageData{Personas: p.opts.Personas, Params: a})
}

func (p *Provider) authorizePost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	a := readAuthParams(r.PostForm)
	if !p.check(w, r, a) {
		return
	}
	if r.PostForm.Get("cancel") != "" {
		p.redirectError(w, r, a, "access_denied", "the user cancelled the sign-in")
		return
	}
	id := r.PostForm.Get("persona")
	i := slices.IndexFunc(p.opts.Personas, func(pp Persona) bool { return pp.ID == id })
	if i < 0 {
		p.errorPage(w, http.StatusBadRequest, "Unknown persona.")
		return
	}
	code := randomString(32)
	p.mu.Lock()
	p.sweep(p.opts.Now())
	p.codes[code] = codeGrant{
		clientID: a.ClientID, redirectURI: a.RedirectURI, nonce: a.Nonce, challenge: a.Challenge,
		persona: p.opts.Personas[i], expires: p.opts.Now().Add(p.opts.CodeTTL),
	}
	p.mu.Unlock()
	q := url.Values{"code": {code}}
	if a.State != "" {
		q.Set("state", a.State)
	}
	http.Redirect(w, r, addQuery(a.RedirectURI, q), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 2.3.1: client_secret_basic credentials are form-urlencoded.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.opts.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.opts.ClientSecret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="demoidp"`)
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	// RFC 6749 5.2: a required parameter missing is invalid_request; code is one of the
	// authorization_code grant's only (4.1.3), so another grant is unsupported first.
	switch r.PostForm.Get("grant_type") {
	case "":
		tokenError(w, http.StatusBadRequest, "invalid_request", "missing grant_type")
		return
	case "authorization_code":
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code is supported")
		return
	}
	code := r.PostForm.Get("code")
	if code == "" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "missing code")
		return
	}
	p.mu.Lock()
	g, found := p.codes[code]
	delete(p.codes, code) // single use, even when the rest of the request fails
	p.mu.Unlock()
	now := p.opts.Now()
	switch {
	case !found || now.After(g.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case g.clientID != id || g.redirectURI != r.PostForm.Get("redirect_uri"):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code was issued to another client or redirect_uri")
		return
	case !pkceOK(r.PostForm.Get("code_verifier"), g.challenge):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}
	idToken, err := p.idToken(g, now)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", "could not sign the token")
		return
	}
	access := randomString(32)
	p.mu.Lock()
	p.sweep(now)
	p.tokens[access] = accessGrant{persona: g.persona, expires: now.Add(p.opts.TokenTTL)}
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   int(p.opts.TokenTTL / time.Second),
		"id_token":     idToken,
	})
}

func pkceOK(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

func (p *Provider) claims(pp Persona) map[string]any {
	groups := pp.Groups
	if groups == nil {
		groups = []string{}
	}
	return map[string]any{
		"sub":            "demo-" + pp.ID,
		"email":          pp.Email,
		"email_verified": pp.EmailVerified,
		"name":           pp.Name,
		"groups":         groups,
	}
}

func (p *Provider) idToken(g codeGrant, now time.Time) (string, error) {
	claims := p.claims(g.persona)
	claims["iss"] = p.issuer
	claims["aud"] = g.clientID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(p.opts.TokenTTL).Unix()
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": p.kid}
	p.mu.Lock()
	tamper := p.tamper
	p.mu.Unlock()
	if tamper != nil {
		tamper(claims, header)
	}
	return p.sign(claims, header)
}

// sign builds a compact JWS by hand, so that tampered headers (alg none, unknown kid) are
// produced exactly as asked.
func (p *Provider) sign(claims, header map[string]any) (string, error) {
	hb, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("demoidp: header: %w", err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("demoidp: claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	if header["alg"] == "none" {
		return input + ".", nil
	}
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("demoidp: sign: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// sweep forgets the codes and access tokens that expired before now, so that a demo left running
// for days keeps only those still usable (a code is taken out when exchanged, but one never
// exchanged, and every access token, stayed). The caller holds p.mu.
func (p *Provider) sweep(now time.Time) {
	maps.DeleteFunc(p.codes, func(_ string, g codeGrant) bool { return now.After(g.expires) })
	maps.DeleteFunc(p.tokens, func(_ string, g accessGrant) bool { return now.After(g.expires) })
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := bearerToken(r.Header.Get("Authorization"))
	p.mu.Lock()
	g, found := p.tokens[tok]
	p.mu.Unlock()
	if !ok || !found || p.opts.Now().After(g.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		tokenError(w, http.StatusUnauthorized, "invalid_token", "unknown or expired access token")
		return
	}
	writeJSON(w, http.StatusOK, p.claims(g.persona))
}

// bearerToken is the token of an Authorization header "Bearer <token>" (RFC 6750 2.1): the
// scheme's name in any letter case (RFC 9110 11.1), one or more spaces before the token.
func bearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	return tok, tok != ""
}

func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.endSessions++
	p.mu.Unlock()
	// A registered post_logout_redirect_uri is followed at once, as providers do (Keycloak,
	// Entra ID and Okta with an id_token_hint), so signing out lands on SMTP Desk's signed-out
	// page; anything else gets this provider's own signed-out notice and is never followed.
	next := r.URL.Query().Get("post_logout_redirect_uri")
	if !slices.Contains(p.opts.PostLogoutRedirectURIs, next) {
		p.render(w, http.StatusOK, pageData{SignedOut: true})
		return
	}
	if st := r.URL.Query().Get("state"); st != "" {
		next = addQuery(next, url.Values{"state": {st}})
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

type pageData struct {
	Personas  []Persona
	Params    authParams
	SignedOut bool
	Error     string
}

func (p *Provider) render(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_ = p.page.Execute(w, d)
}

func (p *Provider) errorPage(w http.ResponseWriter, status int, msg string) {
	p.render(w, status, pageData{Error: msg})
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func addQuery(base string, q url.Values) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + q.Encode()
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
