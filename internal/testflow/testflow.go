// Package testflow drives SMTP Desk like a browser without one: an http.Client with a cookie jar
// signs in through the real OpenID Connect flow against the demo provider (GET /auth/login,
// follow the redirects to the persona page, press a persona's button, follow the redirects back),
// then reads pages with goquery and posts forms with the page's CSRF token. Handler tests, the
// security tests and the load test use it; it never touches the server's internals.
package testflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// maxBody bounds what a Page reads.
const maxBody = 16 << 20

// Client is one browser: its own cookie jar, hence its own session.
type Client struct {
	// HTTP is the underlying client; it follows redirects and keeps cookies.
	HTTP *http.Client
	// Base is the app's URL, e.g. http://127.0.0.1:8080.
	Base *url.URL
}

// Option changes a new Client.
type Option func(*Client)

// WithTimeout sets the whole-request timeout (default 30s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.HTTP.Timeout = d } }

// WithTransport sets the client's transport (e.g. a shared one in a load test).
func WithTransport(rt http.RoundTripper) Option { return func(c *Client) { c.HTTP.Transport = rt } }

// New returns a client for the app at baseURL with an empty cookie jar.
func New(baseURL string, opts ...Option) (*Client, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("testflow: base url: %w", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("testflow: cookie jar: %w", err)
	}
	c := &Client{
		HTTP: &http.Client{Jar: loopbackJar{jar}, Timeout: 30 * time.Second},
		Base: base,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// loopbackJar treats plain-HTTP loopback origins as secure, as browsers do for localhost, so
// `Secure` and `__Host-` cookies work against a test server on 127.0.0.1.
type loopbackJar struct{ jar *cookiejar.Jar }

func secureLoopback(u *url.URL) *url.URL {
	if u.Scheme != "http" {
		return u
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return u
	}
	v := *u
	v.Scheme = "https"
	return &v
}

// SetCookies implements http.CookieJar.
func (j loopbackJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.jar.SetCookies(secureLoopback(u), cookies)
}

// Cookies implements http.CookieJar.
func (j loopbackJar) Cookies(u *url.URL) []*http.Cookie { return j.jar.Cookies(secureLoopback(u)) }

// Cookies returns the cookies the jar would send to the app.
func (c *Client) Cookies() []*http.Cookie { return c.HTTP.Jar.Cookies(c.Base) }

// Page is one response, read in full.
type Page struct {
	Status    int
	Header    http.Header
	Body      []byte
	URL       *url.URL   // where the last request went, after redirects
	Redirects []*url.URL // the Location of every redirect followed, in order
	Doc       *goquery.Document
}

// Text returns the page's visible text with runs of white space collapsed.
func (p *Page) Text() string {
	if p.Doc == nil {
		return string(p.Body)
	}
	return strings.Join(strings.Fields(p.Doc.Text()), " ")
}

// Find selects in the page.
func (p *Page) Find(sel string) *goquery.Selection {
	if p.Doc == nil {
		return &goquery.Selection{}
	}
	return p.Doc.Find(sel)
}

// TestID selects the elements with data-testid="id".
func (p *Page) TestID(id string) *goquery.Selection {
	return p.Find(fmt.Sprintf(`[data-testid=%q]`, id))
}

// CSRF returns the page's CSRF token (the first `_csrf` input).
func (p *Page) CSRF() string {
	v, _ := p.Find(`input[name="_csrf"]`).First().Attr("value")
	return v
}

// resolve makes a path (or absolute URL) absolute against the base.
func (c *Client) resolve(ref string) (*url.URL, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("testflow: url %q: %w", ref, err)
	}
	return c.Base.ResolveReference(u), nil
}

// Do sends req and reads the answer into a Page.
func (c *Client) Do(req *http.Request) (*Page, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("testflow: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("testflow: read %s: %w", req.URL.Path, err)
	}
	p := &Page{Status: resp.StatusCode, Header: resp.Header, Body: body, URL: resp.Request.URL}
	for r := resp.Request; r != nil && r.Response != nil; r = r.Response.Request {
		p.Redirects = append([]*url.URL{r.URL}, p.Redirects...)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("testflow: parse %s: %w", req.URL.Path, err)
		}
		p.Doc = doc
	}
	return p, nil
}

// Get fetches a path (or absolute URL), following redirects.
func (c *Client) Get(ctx context.Context, ref string) (*Page, error) {
	u, err := c.resolve(ref)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("testflow: %w", err)
	}
	return c.Do(req)
}

// Post sends form to a path as application/x-www-form-urlencoded, following redirects (a 303
// becomes a GET). It does not add a CSRF token: see Submit.
func (c *Client) Post(ctx context.Context, ref string, form url.Values) (*Page, error) {
	u, err := c.resolve(ref)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("testflow: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.Base.Scheme+"://"+c.Base.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.Do(req)
}

// Submit loads the page at formPage, takes its CSRF token, and posts form (plus the token) to
// action, like a browser filling in the page's form.
func (c *Client) Submit(ctx context.Context, formPage, action string, form url.Values) (*Page, error) {
	p, err := c.Get(ctx, formPage)
	if err != nil {
		return nil, err
	}
	tok := p.CSRF()
	if tok == "" {
		return nil, fmt.Errorf("testflow: %s (status %d) has no _csrf input", formPage, p.Status)
	}
	f := url.Values{}
	for k, v := range form {
		f[k] = append([]string(nil), v...)
	}
	f.Set("_csrf", tok)
	return c.Post(ctx, action, f)
}

// ErrNoPersona is returned when the provider's page has no button for the persona.
var ErrNoPersona = errors.New("testflow: persona not on the sign-in page")

// SignIn signs in as the demo persona (admin, operator, reviewer, nobody) through the real
// flow and returns the page it lands on.
func (c *Client) SignIn(ctx context.Context, persona string) (*Page, error) {
	return c.SignInNext(ctx, persona, "")
}

// SignInNext is SignIn starting from /auth/login?next=next.
func (c *Client) SignInNext(ctx context.Context, persona, next string) (*Page, error) {
	start := "/auth/login"
	if next != "" {
		start += "?" + url.Values{"next": {next}}.Encode()
	}
	p, err := c.Get(ctx, start)
	if err != nil {
		return nil, err
	}
	if p.Doc == nil {
		return nil, fmt.Errorf("testflow: sign-in page %s answered %d %s", p.URL, p.Status, p.Header.Get("Content-Type"))
	}
	btn := p.TestID("persona-" + persona).First()
	if btn.Length() == 0 {
		return nil, fmt.Errorf("%w: %q at %s (status %d)", ErrNoPersona, persona, p.URL, p.Status)
	}
	before := c.sessionID(c.Base)
	p, err = c.press(ctx, p, btn)
	if err != nil {
		return nil, err
	}
	// A sign-in makes a new session (SECURITY.md item 2) on the host it ends at (the base URL's,
	// when it started at another name of the app): a flow that ends without one (the provider's
	// cancel, a refused callback) is no sign-in, whatever page it shows.
	after := c.sessionID(p.URL)
	if after == "" || p.URL.Host == c.Base.Host && after == before {
		return p, fmt.Errorf("%w: as %q, it ended at %s (status %d)", ErrNoSession, persona, p.URL, p.Status)
	}
	return p, nil
}

// ErrNoSession is returned, with the page the flow ended on, when a sign-in made no new session
// (a caller that stops the flow early on purpose, before the callback, expects it).
var ErrNoSession = errors.New("testflow: sign-in made no new session")

// The app's session cookies: auth.CookieName over HTTPS and auth.InsecureCookieName in the
// plain-HTTP loopback demo (testflow does not import auth).
const (
	sessionCookie         = "__Host-smtpdesk"
	insecureSessionCookie = "smtpdesk"
)

// sessionID is the value of the app's session cookie the jar would send to u, "" when none.
func (c *Client) sessionID(u *url.URL) string {
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == sessionCookie || ck.Name == insecureSessionCookie {
			return ck.Value
		}
	}
	return ""
}

// press submits the form btn belongs to, with btn's own name and value, as a browser would.
func (c *Client) press(ctx context.Context, p *Page, btn *goquery.Selection) (*Page, error) {
	form := btn.Closest("form")
	if id, ok := btn.Attr("form"); ok && id != "" {
		form = p.Find("form#" + id)
	}
	if form.Length() == 0 {
		return nil, fmt.Errorf("testflow: persona button at %s is not in a form", p.URL)
	}
	vals := url.Values{}
	form.Find("input").Each(func(_ int, in *goquery.Selection) {
		name, ok := in.Attr("name")
		if !ok || name == "" {
			return
		}
		typ := strings.ToLower(in.AttrOr("type", "text"))
		if typ == "submit" || typ == "button" || typ == "image" {
			return
		}
		if (typ == "checkbox" || typ == "radio") && !in.Is("[checked]") {
			return
		}
		vals.Add(name, in.AttrOr("value", ""))
	})
	if name, ok := btn.Attr("name"); ok && name != "" {
		vals.Add(name, btn.AttrOr("value", ""))
	}
	action := form.AttrOr("action", "")
	if a, ok := btn.Attr("formaction"); ok {
		action = a
	}
	target := p.URL
	if action != "" {
		u, err := url.Parse(action)
		if err != nil {
			return nil, fmt.Errorf("testflow: form action %q: %w", action, err)
		}
		target = p.URL.ResolveReference(u)
	}
	method := strings.ToUpper(form.AttrOr("method", "GET"))
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(vals.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", target.Scheme+"://"+target.Host)
		}
	} else {
		t := *target
		t.RawQuery = vals.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, t.String(), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("testflow: %w", err)
	}
	return c.Do(req)
}
