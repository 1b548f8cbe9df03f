// Package mailgun is a client for Mailgun's Credentials API (SMTP logins) and the domain list
// that SMTP Desk's domain picker needs.
//
// The client has go-github's shape: NewClient(key, opts...) builds a Client, every method goes
// through one newRequest/do path that sets HTTP Basic auth (user "api", password = the key),
// encodes forms as application/x-www-form-urlencoded, reads bodies through an io.LimitReader and
// decodes JSON leniently (unknown fields are ignored).
//
// Every call has a deadline (WithTimeout, 10s by default, or the context's if it is sooner).
// GET, PUT and DELETE are retried on 429, 5xx and network failures with capped, full-jitter
// exponential backoff that honours Retry-After and X-RateLimit-Reset but never sleeps past the
// deadline; POST is never retried.
//
// Errors from a call are *Error (Mailgun answered with a non-2xx status), *TransportError
// (no answer came; for a PUT or DELETE, to any attempt whose retries were then refused with a
// 429 or 5xx, since that attempt may have done the work; a PUT or DELETE answered 5xx and then
// 429 ends in the 5xx for the same reason), an *OutcomeUnknownError (a PUT or DELETE whose retry
// Mailgun refused, a revoked key's 401 say, after an attempt that got a 5xx or no answer and may
// have done the work), a context error (errors.Is with context.Canceled or
// context.DeadlineExceeded), an error wrapping ErrBadResponse (an answer that could not be
// read), or a validation error wrapping ErrInvalidInput (nothing was sent). No error string
// ever contains the API key, a password or a request body.
package mailgun

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// Region selects which of Mailgun's regional API hosts the client talks to. Credentials live
// per region.
type Region string

// Mailgun's regions.
const (
	RegionUS Region = "us" // https://api.mailgun.net (the default)
	RegionEU Region = "eu" // https://api.eu.mailgun.net
)

// Base URLs of Mailgun's regional API hosts.
const (
	BaseURLUS = "https://api.mailgun.net"
	BaseURLEU = "https://api.eu.mailgun.net"
)

// MaxLimit is the largest page size Mailgun accepts for list calls.
const MaxLimit = 1000

// DefaultTimeout is the per-call deadline used when WithTimeout is not given and the context
// has no sooner deadline. It covers every attempt of a call, including waits between retries.
const DefaultTimeout = 10 * time.Second

// DefaultUserAgent is sent when WithUserAgent is not given.
const DefaultUserAgent = "smtpdesk-mailgun/1"

// maxBodyBytes bounds every response body the client reads.
const maxBodyBytes = 4 << 20

// Client talks to Mailgun's API. It is safe for concurrent use; build one per API key and
// share it.
type Client struct {
	apiKey     string
	baseURL    string // scheme://host[/prefix], no trailing slash
	httpClient *http.Client
	userAgent  string
	timeout    time.Duration
	retry      RetryPolicy
	observer   Observer

	// Seams for tests: how to wait between attempts, what time it is (for Retry-After dates,
	// X-RateLimit-Reset and the deadline check) and the jitter source (returns [0, n)).
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
	jitter func(n int64) int64
}

// Format prints a Client as its base URL, never its API key: fmt's verbs (%v, %+v, %#v, %s)
// and log handlers that format values with them would otherwise print every field, the key
// included, for a Client passed to a log call or an error message by mistake.
func (c Client) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "mailgun.Client{base: %s, key: [redacted]}", c.baseURL)
}

// Option configures a Client in NewClient.
type Option func(*Client) error

// Observer is a metrics hook called synchronously once per HTTP attempt, after the attempt
// has finished. It must be quick and must not block.
type Observer func(CallInfo)

// CallInfo describes one HTTP attempt to Mailgun.
type CallInfo struct {
	// Endpoint is the route template with its method, e.g.
	// "DELETE /v3/domains/{domain}/credentials/{spec}": never the concrete URL, so metrics
	// keep a low cardinality.
	Endpoint string
	Method   string
	// Status is the HTTP status Mailgun answered, or 0 when no answer came.
	Status int
	// Canceled says that no answer came because the caller gave up waiting (its context was
	// canceled: the user left, another page of the same read failed, the server is stopping),
	// not because Mailgun did not answer in time: it says nothing about Mailgun. Status is 0.
	Canceled bool
	Duration time.Duration
	// Attempt counts from 1; attempts after the first are retries.
	Attempt int
	// Err is the attempt's error (an *Error, a *TransportError, ...), nil on success. A 2xx
	// whose body is not the call's answer (not JSON, too long, or without the fields the call
	// checks) has Status 2xx and an Err wrapping ErrBadResponse.
	Err error
}

// NewClient returns a Client for the given private API key. Without options it talks to the
// US region with a 10s per-call deadline, 3 attempts for GET/PUT/DELETE, and its own pooled
// keep-alive *http.Client.
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	if apiKey == "" {
		return nil, fmt.Errorf("%w: API key is empty", ErrInvalidInput)
	}
	for _, r := range apiKey {
		if r <= ' ' || r == 0x7f {
			// The key goes in a header; never echo it, just say what is wrong.
			return nil, fmt.Errorf("%w: API key contains whitespace or a control character", ErrInvalidInput)
		}
	}
	c := &Client{
		apiKey:    apiKey,
		baseURL:   BaseURLUS,
		userAgent: DefaultUserAgent,
		timeout:   DefaultTimeout,
		retry:     defaultRetryPolicy(),
		sleep:     sleepContext,
		now:       time.Now,
		jitter:    rand.Int64N,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("mailgun: NewClient: %w", err)
		}
	}
	if c.httpClient == nil {
		c.httpClient = NewHTTPClient()
	}
	return c, nil
}

// String describes the client without its key, so printing or logging a *Client (%v, %+v,
// slog) cannot leak the key.
func (c *Client) String() string {
	return fmt.Sprintf("mailgun.Client{baseURL: %s, timeout: %s, key: [redacted]}", c.baseURL, c.timeout)
}

// GoString is String for %#v.
func (c *Client) GoString() string { return c.String() }

// NewHTTPClient returns a new pooled keep-alive client of the kind a Client uses unless
// WithHTTPClient is given: HTTP/2 where the server offers it, 64 idle connections per host,
// 32 kB reads, and redirects returned rather than followed. Deadlines come from the request
// context, not Client.Timeout.
func NewHTTPClient() *http.Client {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t.ForceAttemptHTTP2 = true
	t.MaxIdleConns = 128
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ExpectContinueTimeout = time.Second
	// A 100-login list is ~13 kB and a 1,000-login one ~130 kB: read them in a few large reads
	// rather than through the default 4 kB buffer (one read syscall per 4 kB).
	t.ReadBufferSize = 32 << 10
	return &http.Client{Transport: t, CheckRedirect: noRedirects}
}

// noRedirects is the CheckRedirect of every *http.Client a Client sends through. Mailgun's API
// does not redirect; following one could turn a POST into a GET (whose answer would then read as
// the POST's) or send the key somewhere unexpected, so a 3xx is returned as an *Error instead.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// WithRegion selects Mailgun's US (default) or EU API host.
func WithRegion(r Region) Option {
	return func(c *Client) error {
		switch r {
		case RegionUS, "":
			c.baseURL = BaseURLUS
		case RegionEU:
			c.baseURL = BaseURLEU
		default:
			return fmt.Errorf("%w: unknown region %q (want %q or %q)", ErrInvalidInput, string(r), RegionUS, RegionEU)
		}
		return nil
	}
}

// WithBaseURL points the client at an explicit API root, e.g. the sandbox at
// "http://127.0.0.1:8025". The URL must be http or https with a host, and may carry a path
// prefix; it must not carry credentials, a query or a fragment.
func WithBaseURL(raw string) Option {
	return func(c *Client) error {
		u, err := url.Parse(raw)
		if err != nil {
			// Not err's text: it quotes the URL, or a piece of it, and a URL given the key (or
			// another secret) by mistake does not parse more often than not.
			return fmt.Errorf("%w: base URL does not parse (want e.g. %s)", ErrInvalidInput, BaseURLUS)
		}
		switch {
		case u.Scheme != "http" && u.Scheme != "https":
			return fmt.Errorf("%w: base URL must start with http:// or https://", ErrInvalidInput)
		case u.Host == "":
			return fmt.Errorf("%w: base URL has no host", ErrInvalidInput)
		case u.User != nil:
			return fmt.Errorf("%w: base URL must not carry credentials (the key is sent as Basic auth)", ErrInvalidInput)
		case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
			return fmt.Errorf("%w: base URL must not have a query or fragment", ErrInvalidInput)
		}
		c.baseURL = u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
		return nil
	}
}

// WithHTTPClient makes the client send requests through h's transport, jar and timeout instead
// of its own pooled client. Redirects are still not followed (see NewHTTPClient): the client
// uses a copy of h with its own CheckRedirect, and h itself is left as it is.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) error {
		if h == nil {
			return fmt.Errorf("%w: nil *http.Client", ErrInvalidInput)
		}
		// An *http.Client follows redirects unless told otherwise: a 301 to a create was
		// followed as a GET of the list, whose 200 read as a create that succeeded.
		own := *h
		own.CheckRedirect = noRedirects
		c.httpClient = &own
		return nil
	}
}

// WithUserAgent sets the User-Agent header sent with every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		if ua == "" || strings.ContainsFunc(ua, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return fmt.Errorf("%w: user agent is empty or contains a control character", ErrInvalidInput)
		}
		c.userAgent = ua
		return nil
	}
}

// WithTimeout sets the default per-call deadline (10s unless set). It covers all attempts of
// a call and applies unless the context already has a sooner deadline. d must be positive:
// every Mailgun call has a deadline.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("%w: timeout must be positive, got %s", ErrInvalidInput, d)
		}
		c.timeout = d
		return nil
	}
}

// WithRetry sets the retry policy for GET, PUT and DELETE. Zero fields keep their defaults
// (3 attempts, 200ms base delay, 2s cap); MaxAttempts 1 turns retries off.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		p, err := p.withDefaults()
		if err != nil {
			return err
		}
		c.retry = p
		return nil
	}
}

// WithObserver installs a metrics hook called once per HTTP attempt.
func WithObserver(o Observer) Option {
	return func(c *Client) error {
		c.observer = o
		return nil
	}
}

// route names one of the API's routes as "METHOD /path/template". Errors and the observer
// report it in place of the concrete URL.
type route string

// The routes the client calls.
const (
	routeListCredentials   route = "GET /v3/domains/{domain}/credentials"
	routeCreateCredentials route = "POST /v3/domains/{domain}/credentials"
	routeDeleteAll         route = "DELETE /v3/domains/{domain}/credentials"
	routeChangePassword    route = "PUT /v3/domains/{domain}/credentials/{spec}"
	routeDeleteCredential  route = "DELETE /v3/domains/{domain}/credentials/{spec}"
	routeChangeMailbox     route = "PUT /v3/{domain}/mailboxes/{spec}"
	routeListDomains       route = "GET /v4/domains"
)

// method is the route's HTTP method.
func (r route) method() string {
	m, _, _ := strings.Cut(string(r), " ")
	return m
}

// call is everything do needs for one API call.
type call struct {
	route route
	path  string     // escaped path, built by one of the path functions
	query url.Values // nil = none
	form  url.Values // nil = no body
	// secrets are scrubbed from any message Mailgun sends back (passwords in the form).
	secrets []string
	// doneAfterUnknown, when set, says whether an error answer to a retry means that an
	// earlier attempt whose outcome was unknown (5xx, transport error) already did the work,
	// e.g. 404 "Credentials not found" to a retried DELETE. Any other refusal after such an
	// attempt ends the call in an *OutcomeUnknownError (stillUnknown).
	doneAfterUnknown func(*Error) bool
	// check, when set, says whether a 2xx answer decoded into the call's value is Mailgun's
	// answer: it returns an error wrapping ErrBadResponse when fields are missing or out of
	// range. attempt runs it, so that the observer counts such an answer as unreadable, as it
	// does one that is not JSON, rather than as the 200 the user never saw a result of.
	check func() error
	// afterUnknown is set by do when the call succeeded on a retry that followed an attempt
	// whose outcome was unknown: that attempt may have done part of the work.
	afterUnknown bool
}

// errDoneEarlier is returned by do when call.doneAfterUnknown matched.
var errDoneEarlier = errors.New("mailgun: done by an earlier attempt")

// newRequest builds the HTTP request for one attempt.
func (c *Client) newRequest(ctx context.Context, cl *call) (*http.Request, error) {
	u := c.baseURL + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.form != nil {
		body = strings.NewReader(cl.form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, cl.route.method(), u, body)
	if err != nil {
		// url.Error text would not hold secrets, but keep the message to the route anyway.
		return nil, fmt.Errorf("mailgun: %s: building request: %w", cl.route, unwrapURLError(err))
	}
	req.SetBasicAuth("api", c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if cl.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req, nil
}

// do runs a call with the per-call deadline and the retry policy, and decodes a 2xx JSON
// answer into v (when v is not nil).
func (c *Client) do(ctx context.Context, cl *call, v any) error {
	if err := ctx.Err(); err != nil {
		// The caller gave up before the call began (a sibling page of a whole-domain read
		// failed, say): nothing is sent, and no attempt is reported to the observer.
		return notSent(ctx, cl)
	}
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	attempts := 1
	if cl.route.method() != http.MethodPost {
		attempts = c.retry.MaxAttempts
	}
	var (
		lastErr        error
		unknownOutcome bool            // an earlier attempt may have reached Mailgun and done the work
		noAnswer       *TransportError // the first attempt that got no (whole) answer
		serverErr      *Error          // the first attempt answered with a 5xx
	)
	for attempt := 1; ; attempt++ {
		status, hint, err := c.attempt(ctx, caller, cl, attempt, v)
		if err == nil {
			cl.afterUnknown = unknownOutcome
			return nil
		}
		var apiErr *Error
		if unknownOutcome && cl.doneAfterUnknown != nil && errors.As(err, &apiErr) && cl.doneAfterUnknown(apiErr) {
			return errDoneEarlier
		}
		lastErr = err
		var te *TransportError
		if errors.As(err, &te) && noAnswer == nil {
			noAnswer = te
		}
		if errors.As(err, &apiErr) && apiErr.StatusCode >= 500 && serverErr == nil {
			serverErr = apiErr
		}
		if ctx.Err() != nil {
			return contextError(ctx, cl, cl.stillUnknown(noAnswer, serverErr, err))
		}
		if !retryable(status, err) || attempt >= attempts {
			return cl.stillUnknown(noAnswer, serverErr, lastErr)
		}
		if status == 0 || status >= 500 || te != nil {
			// No answer, a server error, or a 2xx whose body broke off: Mailgun may have done
			// the work, so a retry's refusal may only say that it is done.
			unknownOutcome = true
		}
		wait := hint
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && !c.now().Add(wait).Before(dl) {
			// Waiting would pass the deadline: give the caller Mailgun's answer now.
			return cl.stillUnknown(noAnswer, serverErr, lastErr)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return contextError(ctx, cl, cl.stillUnknown(noAnswer, serverErr, lastErr))
		}
	}
}

// stillUnknown is the error a PUT or DELETE ends with when last is Mailgun's answer to an attempt
// that came after one which may have done the work: one that got no answer (noAnswer) or one
// answered with a 5xx (serverErr). Only the answers doneAfterUnknown recognises (and success)
// settle such a call; any other says nothing about that attempt, so the outcome is unknown, as
// after it alone. Callers read a 4xx *Error (429 included) as Mailgun's answer to the call
// (nothing changed), and a 5xx *Error or a *TransportError as an unknown outcome, so:
//   - after a refusal for now (429, 5xx), the result is noAnswer's *TransportError (with the
//     refusal's status in its text), or else the earlier 5xx in place of a last 429;
//   - after any other refusal (401 or 403 from a key revoked meanwhile, a 404 that does not say
//     the login is gone, a 400, a 3xx), an *OutcomeUnknownError holding that attempt's error
//     and the refusal, which callers can still tell (a refused key, say).
//
// A GET keeps last (its outcome is no question), and so does a call without such an attempt.
func (cl *call) stillUnknown(noAnswer *TransportError, serverErr *Error, last error) error {
	var apiErr *Error
	if cl.route.method() == http.MethodGet || !errors.As(last, &apiErr) || (noAnswer == nil && serverErr == nil) {
		return last
	}
	if apiErr.StatusCode != http.StatusTooManyRequests && apiErr.StatusCode < 500 {
		var earlier error = serverErr
		if noAnswer != nil {
			earlier = noAnswer
		}
		return &OutcomeUnknownError{Earlier: earlier, Refusal: apiErr}
	}
	switch {
	case noAnswer != nil:
		return &TransportError{Method: noAnswer.Method, Endpoint: noAnswer.Endpoint,
			Err: fmt.Errorf("%w; a retry was answered HTTP %d", noAnswer.Err, apiErr.StatusCode)}
	case serverErr != nil && apiErr.StatusCode == http.StatusTooManyRequests:
		return serverErr
	}
	return last
}

// contextError reports a call cut short by its context, keeping the last attempt's error
// reachable through errors.As. A context canceled with a cause (a server's shutdown cutting its
// requests off) keeps the cause reachable too, through errors.Is: ctx.Err alone says only
// "canceled", which reads as a user who left.
func contextError(ctx context.Context, cl *call, last error) error {
	cerr := ctx.Err()
	if cerr == nil {
		return last
	}
	cause := context.Cause(ctx)
	switch {
	case errors.Is(last, cerr) && errors.Is(last, cause):
		return last
	case cause != cerr:
		return fmt.Errorf("mailgun: %s: %w: %w (last attempt: %w)", cl.route, cerr, cause, last)
	}
	return fmt.Errorf("mailgun: %s: %w (last attempt: %w)", cl.route, cerr, last)
}

// notSent is the error of a call whose caller's context had ended before it began.
func notSent(ctx context.Context, cl *call) error {
	if cerr, cause := ctx.Err(), context.Cause(ctx); cause != cerr {
		return fmt.Errorf("mailgun: %s: %w: %w: %w", cl.route, ErrNotSent, cerr, cause)
	}
	return fmt.Errorf("mailgun: %s: %w: %w", cl.route, ErrNotSent, ctx.Err())
}

// attempt sends one HTTP request under ctx (the caller's context, caller, with the per-call
// deadline) and reads its answer. It returns the status (0 when no answer came) and any
// server-requested wait.
func (c *Client) attempt(ctx, caller context.Context, cl *call, n int, v any) (status int, hint time.Duration, err error) {
	start := time.Now()
	defer func() {
		if c.observer != nil {
			c.observer(CallInfo{
				Endpoint: string(cl.route),
				Method:   cl.route.method(),
				Status:   status,
				Canceled: status == 0 && err != nil && errors.Is(caller.Err(), context.Canceled),
				Duration: time.Since(start),
				Attempt:  n,
				Err:      err,
			})
		}
	}()

	req, err := c.newRequest(ctx, cl)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return 0, 0, &TransportError{Method: cl.route.method(), Endpoint: string(cl.route), Err: unwrapURLError(err)}
	}
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()

	if resp.StatusCode >= 200 && resp.StatusCode <= 299 && v != nil {
		err := c.decode(cl, resp, v)
		if _, cut := errors.AsType[*TransportError](err); cut {
			return 0, 0, err // the answer broke off: no answer came, as below
		}
		if err == nil && cl.check != nil {
			err = cl.check()
		}
		return resp.StatusCode, 0, err
	}
	body, readErr := readBody(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := c.newError(cl, resp, body)
		return resp.StatusCode, e.RetryAfter, e
	}
	if readErr != nil {
		if errors.Is(readErr, errBodyTooLarge) {
			return resp.StatusCode, 0, cl.bodyError(true, readErr)
		}
		return 0, 0, cl.bodyError(false, readErr)
	}
	return resp.StatusCode, 0, nil
}

// bodyError is the error for a 2xx answer whose body could not be read whole: one longer than
// maxBodyBytes is ErrBadResponse; a connection that broke mid-answer is a *TransportError
// (nobody knows what Mailgun did).
func (cl *call) bodyError(tooLarge bool, err error) error {
	if tooLarge {
		return fmt.Errorf("mailgun: %s: %w: body larger than %d bytes", cl.route, ErrBadResponse, maxBodyBytes)
	}
	return &TransportError{Method: cl.route.method(), Endpoint: string(cl.route), Err: err}
}

// decode reads a 2xx JSON answer into v straight from the body (at most maxBodyBytes of it),
// without first copying the whole body into a slice of its own. A body that is not one JSON
// value, or is longer than the limit, is ErrBadResponse; a connection that breaks mid-answer is
// a *TransportError (nobody knows what Mailgun did).
func (c *Client) decode(cl *call, resp *http.Response, v any) error {
	// An earlier attempt of this call may have decoded its answer into v before its connection
	// broke off; json fills in only the fields an answer has (and adds to maps), so start from
	// the zero value rather than report part of an answer that was not the outcome.
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv.Elem().SetZero()
	}
	lr := &limitedBody{r: resp.Body, left: maxBodyBytes}
	var body io.Reader = lr
	if fd, ok := v.(fastDecoder); ok {
		// Read the whole body (json.Decoder would buffer all of it too) into a pooled buffer,
		// let v try its fast path, and decode it as below only when that gives up. Neither
		// keeps a reference to the buffer, so it goes back to the pool when decode returns.
		bp := bodyBufs.Get().(*[]byte)
		b, err := readSized((*bp)[:0], lr, resp.ContentLength)
		defer func() {
			if cap(b) <= maxPooledBody {
				*bp = b[:0]
				bodyBufs.Put(bp)
			}
		}()
		if lr.tooLarge || lr.err != nil || err != nil {
			return cl.bodyError(lr.tooLarge, cmp.Or(lr.err, err))
		}
		if fd.decodeFast(b) {
			return nil
		}
		body = bytes.NewReader(b)
	}
	dec := json.NewDecoder(body)
	err := dec.Decode(v)
	if err == nil {
		// One value and nothing after it but white space, as json.Unmarshal requires.
		if _, terr := dec.Token(); terr != io.EOF {
			err = errTrailingData
		}
	}
	switch {
	case lr.tooLarge || lr.err != nil:
		return cl.bodyError(lr.tooLarge, lr.err)
	case err != nil:
		return fmt.Errorf("mailgun: %s: HTTP %d: %w: %s", cl.route, resp.StatusCode, ErrBadResponse, describeJSONError(err))
	}
	return nil
}

// fastDecoder is a value with its own decoder for the usual shape of an answer. decodeFast
// reads the whole body and says whether it did; when it did not, the body is decoded with
// encoding/json as for any other value. decodeFast must not keep body: it is reused.
type fastDecoder interface {
	decodeFast(body []byte) bool
}

// bodyBufs holds the buffers list answers are read into; maxPooledBody keeps a rare huge answer
// from staying in the pool.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

const maxPooledBody = 1 << 20

// readSized reads r to its end into dst (from its start), grown first to the Content-Length
// (when it is known and within maxBodyBytes), so the read does not grow and copy its buffer.
func readSized(dst []byte, r io.Reader, size int64) ([]byte, error) {
	n := 512
	if size > 0 && size <= maxBodyBytes {
		n = int(size) + 1 // room for the read that sees the end
	}
	b := slices.Grow(dst[:0], n)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		k, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+k]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// limitedBody reads at most left bytes and notes whether the body was longer (tooLarge) and
// any read error other than the end of the body.
type limitedBody struct {
	r        io.Reader
	left     int64
	tooLarge bool
	err      error
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// At the limit: one more byte means the body is too long.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.tooLarge = true
			return 0, errBodyTooLarge
		}
		if err != nil && err != io.EOF {
			l.err = err
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if err != nil && err != io.EOF {
		l.err = err
	}
	return n, err
}

var (
	errBodyTooLarge = errors.New("response body too large")
	errTrailingData = errors.New("data after the JSON value")
)

// readBody reads at most maxBodyBytes; a longer body is an error.
func readBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBodyBytes+1))
	if err != nil {
		return b, err
	}
	if len(b) > maxBodyBytes {
		return b[:maxBodyBytes], errBodyTooLarge
	}
	return b, nil
}

// describeJSONError says what was wrong with a JSON body without quoting any of it: a
// generated password could sit next to the fault.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		what := "the answer"
		if typ.Field != "" {
			what = fmt.Sprintf("field %q", typ.Field)
		}
		return fmt.Sprintf("%s is a JSON %s, want %s", what, typ.Value, jsonKind(typ.Type))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	case errors.Is(err, errTrailingData):
		return "data after the JSON value"
	default:
		return "invalid JSON"
	}
}

// jsonKind names the JSON value a Go type decodes from, for describeJSONError: the type's own
// name (mailgun.credentialPage, an anonymous struct with its tags) means nothing in a log.
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number" // json reports 1.5 (and one out of range) as "number 1.5"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another value"
}

// unwrapURLError drops *url.Error's "Get \"https://...\"" wrapper: the route name already
// says which call it was, and the concrete URL would leak logins into metrics and logs.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// isTimeout reports whether err is a deadline or a network timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
