package mailgun

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentinels matched by (*Error).Is through errors.Is, by HTTP status.
var (
	// ErrNotFound matches 404: an unknown domain or login.
	ErrNotFound = errors.New("mailgun: not found")
	// ErrUnauthorized matches 401 and 403: a wrong key, or a key without access.
	ErrUnauthorized = errors.New("mailgun: unauthorized")
	// ErrRateLimited matches 429.
	ErrRateLimited = errors.New("mailgun: rate limited")
	// ErrBadRequest matches 400 and 422: Mailgun refused the input.
	ErrBadRequest = errors.New("mailgun: bad request")
	// ErrServer matches any 5xx.
	ErrServer = errors.New("mailgun: server error")
)

// ErrInvalidInput is wrapped by every validation error; nothing was sent to Mailgun.
var ErrInvalidInput = errors.New("mailgun: invalid input")

// ErrNotSent is wrapped, with the context's error (and its cause), when a call's context had
// ended before it began: nothing was sent to Mailgun.
var ErrNotSent = errors.New("not sent")

// ErrBadResponse is wrapped when Mailgun answered 2xx but the body could not be read as the
// expected JSON (or was larger than the client reads). For a mutating call the outcome is
// then unknown.
var ErrBadResponse = errors.New("unreadable response")

// maxMessageBytes bounds the Mailgun message kept in an *Error.
const maxMessageBytes = 512

// Error is Mailgun's answer to a call that did not succeed (any non-2xx status).
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is Mailgun's message (the "message" field, or a plain-text body such as
	// "Forbidden"), trimmed, without control characters, with the key (also base64-encoded as
	// in the Authorization header) and any password sent replaced by "[redacted]". It is upstream text: log it, don't show it to users verbatim.
	Message string
	// RetryAfter is the wait Mailgun asked for (Retry-After, X-RateLimit-Reset or a
	// "retry-seconds" body field), 0 when it named none.
	RetryAfter time.Duration
	// Method is the HTTP method.
	Method string
	// Endpoint is the route template with its method, e.g.
	// "GET /v3/domains/{domain}/credentials" (never the concrete URL).
	Endpoint string
}

// Error implements error. It names the route, the status and Mailgun's message.
func (e *Error) Error() string {
	name := e.Endpoint
	if name == "" {
		name = e.Method
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("mailgun: %s: HTTP %d: %s", name, e.StatusCode, msg)
}

// Is matches the status sentinels: ErrNotFound (404), ErrUnauthorized (401, 403),
// ErrRateLimited (429), ErrBadRequest (400, 422) and ErrServer (5xx).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity
	case ErrServer:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	}
	return false
}

// TransportError is a call that got no answer from Mailgun: a refused or dropped connection,
// a TLS failure, a timeout. For a mutating call the outcome is unknown. A PUT or DELETE with an
// attempt that got no answer ends in that attempt's TransportError even when its retries were
// then refused for now (429, 5xx): the refusal says nothing about the unanswered attempt.
type TransportError struct {
	Method   string
	Endpoint string // route template with its method, as in Error
	Err      error
}

// Error implements error.
func (e *TransportError) Error() string {
	return fmt.Sprintf("mailgun: %s: no answer: %v", e.Endpoint, e.Err)
}

// Unwrap returns the underlying network or context error.
func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether the call ran out of time (its deadline or a network timeout).
func (e *TransportError) Timeout() bool { return isTimeout(e.Err) }

// OutcomeUnknownError is the error of a PUT or DELETE whose outcome is unknown although Mailgun
// answered its last attempt: an earlier attempt got no answer or a 5xx (Earlier), so it may have
// made the change, and the retry was then refused (Refusal) with an answer that says nothing
// about that attempt: a 401 or 403 (the key was revoked meanwhile), a 404 other than a DELETE's
// "Credentials not found" (the domain is gone, or a proxy's page), any other 4xx or 3xx.
//
// Unwrap returns Earlier, so errors.As finds the *TransportError or the 5xx *Error that made the
// outcome unknown, and never the refusal: callers read a refusal's *Error (and errors.Is with
// ErrNotFound, ErrUnauthorized, ErrBadRequest) as "Mailgun answered: nothing was changed", which
// this is not. Refusal says what the retry was told, such as a key Mailgun no longer accepts.
type OutcomeUnknownError struct {
	// Earlier is the attempt whose outcome is unknown: its *TransportError or its 5xx *Error.
	Earlier error
	// Refusal is Mailgun's answer to the last retry (StatusCode 4xx or 3xx, never 429).
	Refusal *Error
}

// Error implements error. It names the route, what the earlier attempt got and the refusal.
func (e *OutcomeUnknownError) Error() string {
	earlier := "an earlier attempt's outcome is unknown"
	var te *TransportError
	var se *Error
	switch {
	case errors.As(e.Earlier, &te):
		earlier = fmt.Sprintf("an earlier attempt got no answer (%v)", te.Err)
	case errors.As(e.Earlier, &se):
		earlier = fmt.Sprintf("an earlier attempt was answered HTTP %d", se.StatusCode)
	}
	return fmt.Sprintf("%v; outcome unknown: %s", e.Refusal, earlier)
}

// Unwrap returns Earlier (see OutcomeUnknownError).
func (e *OutcomeUnknownError) Unwrap() error { return e.Earlier }

// errorBody is the JSON shape of Mailgun's error answers; "error" and "retry-seconds" show up
// on some endpoints and in some 429s. Each field is read on its own (see its methods), so that
// one of another type ("retry-seconds": "60") does not lose the others, the message above all.
type errorBody struct {
	Message      json.RawMessage `json:"message"`
	Error        json.RawMessage `json:"error"`
	RetrySeconds json.RawMessage `json:"retry-seconds"`
}

// message is the answer's "message", or its "error" when it has no message; "" when neither is
// a string.
func (eb *errorBody) message() string {
	var msg string
	if json.Unmarshal(eb.Message, &msg) != nil || msg == "" {
		msg = ""
		_ = json.Unmarshal(eb.Error, &msg)
	}
	return msg
}

// retrySeconds is the answer's "retry-seconds" when it is a number.
func (eb *errorBody) retrySeconds() (float64, bool) {
	var n float64
	if len(eb.RetrySeconds) == 0 || json.Unmarshal(eb.RetrySeconds, &n) != nil {
		return 0, false
	}
	return n, true
}

// newError builds the *Error for a non-2xx answer.
func (c *Client) newError(cl *call, resp *http.Response, body []byte) *Error {
	e := &Error{
		StatusCode: resp.StatusCode,
		Method:     cl.route.method(),
		Endpoint:   string(cl.route),
	}
	// The key also as the Authorization header carries it (base64 of "api:key", unpadded so an
	// echo with or without padding matches): a proxy or gateway may quote the header it refused.
	basic := base64.RawStdEncoding.EncodeToString([]byte("api:" + c.apiKey))
	secrets := append([]string{c.apiKey, basic}, cl.secrets...)
	// The passwords also as the request's form carried them: a proxy or gateway may quote the
	// body it refused ("password=Tr0ub4dor%263+x").
	for _, s := range cl.secrets {
		if q := url.QueryEscape(s); q != s {
			secrets = append(secrets, q)
		}
	}
	// A byte-order mark (Windows-hosted proxies write one) is no part of the text: left on, it
	// hid JSON from the decoder and an HTML page from the check below, and either was kept whole
	// as Mailgun's message.
	body = bytes.TrimPrefix(body, []byte("\ufeff"))
	var eb errorBody
	msg := ""
	if err := json.Unmarshal(body, &eb); err == nil {
		msg = eb.message()
	} else {
		// Redacted before the white space around it is trimmed and the first line is cut off:
		// a secret beginning or ending with a space, or with a line break in it, would
		// otherwise leave the rest of it behind, no longer matching the secret.
		text := strings.TrimSpace(redact(string(body), secrets))
		// Plain text such as "Forbidden" is Mailgun's message; an HTML error page from a
		// proxy is not worth keeping.
		if !strings.HasPrefix(text, "<") && !strings.HasPrefix(text, "{") {
			if i := strings.IndexAny(text, "\r\n"); i >= 0 {
				text = text[:i]
			}
			msg = text
		}
	}
	e.Message = cleanMessage(msg, secrets)
	rateLimited := resp.StatusCode == http.StatusTooManyRequests
	e.RetryAfter = retryHint(resp.Header, c.now(), rateLimited)
	if n, ok := eb.retrySeconds(); e.RetryAfter == 0 && ok && rateLimited {
		e.RetryAfter = secondsToDuration(n)
	}
	return e
}

// cleanMessage makes upstream text safe to put in an error: secrets redacted, control
// characters replaced, valid UTF-8, bounded length.
func cleanMessage(msg string, secrets []string) string {
	msg = strings.ToValidUTF8(redact(msg, secrets), "\uFFFD")
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, msg)
	msg = strings.TrimSpace(msg)
	if len(msg) > maxMessageBytes {
		cut := maxMessageBytes
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// redact replaces each of the secrets in s with "[redacted]". Every occurrence is found in s as
// it came, and occurrences that overlap or touch become one "[redacted]": replacing the secrets
// one after another let the first break up a later one that held it or overlapped it (two
// passwords with a common stem, a password holding the key), and the rest of that one stayed.
func redact(s string, secrets []string) string {
	var hide []bool // hide[i]: byte i of s is part of a secret; nil while none was found
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		marked := 0 // hide is set up to here for this secret: each byte is marked once
		for i := 0; ; {
			j := strings.Index(s[i:], secret)
			if j < 0 {
				break
			}
			if hide == nil {
				hide = make([]bool, len(s))
			}
			lo, hi := i+j, i+j+len(secret)
			for k := max(lo, marked); k < hi; k++ {
				hide[k] = true
			}
			marked = hi
			i = lo + 1 // occurrences of one secret may overlap too ("aaa" in "aaaa")
		}
	}
	if hide == nil {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		start := i
		for i < len(s) && !hide[i] {
			i++
		}
		b.WriteString(s[start:i])
		if i < len(s) {
			b.WriteString("[redacted]")
			for i < len(s) && hide[i] {
				i++
			}
		}
	}
	return b.String()
}
