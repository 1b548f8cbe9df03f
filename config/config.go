// Package config reads SMTP Desk's settings from the environment, once, into one typed Config.
// Nothing else in SMTP Desk reads the environment, but for the PostgreSQL driver's own PG*
// variables (PGPASSWORD, PGSSLMODE, PGCONNECT_TIMEOUT, …), which fill in what DATABASE_URL
// leaves out.
package config

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Secret is a string that never prints: String, GoString, LogValue and MarshalText all redact it.
// Reveal returns the value for the one place that needs it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts the secret for %#v.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue redacts the secret in log/slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts the secret in JSON and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Mailgun holds the Mailgun API settings.
type Mailgun struct {
	APIKey  Secret
	Region  string // "us" or "eu"; ignored when BaseURL is set
	BaseURL string // overrides Region, e.g. a sandbox "http://127.0.0.1:8025"
	Timeout time.Duration
}

// OIDC holds the OpenID Connect provider settings.
type OIDC struct {
	Issuer       string
	ClientID     string
	ClientSecret Secret
	Scopes       []string
	GroupsClaim  string
}

// SessionKey is one configured session key and the key pair derived from it.
type SessionKey struct {
	Hash  Secret // 64 bytes, HMAC-SHA256 signing key for gorilla/securecookie
	Block Secret // 32 bytes, AES-256 encryption key for gorilla/securecookie
}

// Session holds the session cookie settings.
type Session struct {
	// Keys are the session keys in order: the first encodes, all decode.
	Keys        []SessionKey
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// SecureCookies is true when BaseURL is https: cookies get Secure and the __Host- prefix.
	SecureCookies bool
}

// KeyPairs returns the keys in gorilla/sessions' form: hash1, block1, hash2, block2, ….
func (s Session) KeyPairs() [][]byte {
	pairs := make([][]byte, 0, 2*len(s.Keys))
	for _, k := range s.Keys {
		pairs = append(pairs, []byte(k.Hash.Reveal()), []byte(k.Block.Reveal()))
	}
	return pairs
}

// Config is every SMTP Desk setting.
type Config struct {
	// Demo is set by the caller (the -demo flag), never by the environment: it relaxes the
	// settings the demo wiring fills in itself.
	Demo bool

	Listen string // host:port to listen on
	// ListenFlag is set by the caller when its -addr flag gave Listen: a problem with the
	// address then names the flag, not SMTPDESK_LISTEN, which the operator did not set.
	ListenFlag bool
	BaseURL    string // public URL, e.g. https://smtp-desk.corp.example

	Mailgun Mailgun
	OIDC    OIDC
	Session Session

	PolicyFile string
	// DatabaseURL is a SQLite path (default smtpdesk.db), "sqlite:path" or postgres://…; it is a
	// Secret because a URL may carry a password.
	DatabaseURL Secret

	// TrustedProxies are the proxies whose X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host
	// are believed.
	// Empty: trust none, the client is the socket peer.
	TrustedProxies []netip.Prefix

	LogLevel  slog.Level
	LogFormat string // "json" or "text"

	AgeWarningDays int
	AuditRetention time.Duration // 0 keeps the audit trail forever

	// Support names who users should ask for access or help ("the mail team, #mail-ops on
	// Slack"), shown on the error pages, the no-access page and an empty domain list; "" shows
	// nothing and the pages say "your administrator".
	Support string

	MetricsToken Secret
	// MetricsAddr is a separate listener serving /metrics without a token; Validate accepts
	// only a loopback address.
	MetricsAddr string
	// MetricsPprof also serves Go's profiler (/debug/pprof/) on MetricsAddr, for profiling a
	// running instance; it is never served on the main listener.
	MetricsPprof bool

	// NoGzip (HTTP_GZIP=false) sends every answer as it is, for a proxy in front that
	// compresses; by default pages, JSON and text static files are gzipped for clients that
	// accept it. Compression is a quarter to a third of a busy instance's CPU
	// (docs/PERFORMANCE.md).
	NoGzip bool

	RateLimitActions int // mutating actions per user per minute
	RateLimitExports int // exports and audit trail checks per user per minute
	RateLimitSignIn  int // sign-in attempts per client IP (an IPv6 client's /64) per minute

	// loadProblems names the variables Load already complained about, so Validate does not
	// also call them missing.
	loadProblems map[string]bool
}

// Var describes one environment variable for -help and the README.
type Var struct {
	Name    string
	Default string
	Example string
	Help    string
}

// Vars lists every environment variable SMTP Desk reads, in the order -help shows them.
func Vars() []Var {
	return []Var{
		{"SMTPDESK_LISTEN", ":8080 (demo: 127.0.0.1:8080)", "SMTPDESK_LISTEN=:8080", "address to listen on"},
		{"SMTPDESK_BASE_URL", "required (demo: the listen URL)", "SMTPDESK_BASE_URL=https://smtp-desk.corp.example", "public URL of SMTP Desk; https unless the host is loopback"},
		{"MAILGUN_API_KEY", "required, or MAILGUN_API_KEY_FILE", "MAILGUN_API_KEY=key-0123…", "Mailgun private API key"},
		{"MAILGUN_API_KEY_FILE", "", "MAILGUN_API_KEY_FILE=/run/secrets/mailgun", "file holding the Mailgun private API key"},
		{"MAILGUN_REGION", "us", "MAILGUN_REGION=eu", "Mailgun region: us or eu"},
		{"MAILGUN_BASE_URL", "", "MAILGUN_BASE_URL=http://127.0.0.1:8025", "Mailgun API base URL (instead of MAILGUN_REGION), e.g. the sandbox"},
		{"MAILGUN_TIMEOUT", "10s", "MAILGUN_TIMEOUT=15s", "deadline for each Mailgun call"},
		{"OIDC_ISSUER", "required", "OIDC_ISSUER=https://login.corp.example", "OpenID Connect issuer URL"},
		{"OIDC_CLIENT_ID", "required", "OIDC_CLIENT_ID=smtp-desk", "OpenID Connect client id"},
		{"OIDC_CLIENT_SECRET", "required, or OIDC_CLIENT_SECRET_FILE", "OIDC_CLIENT_SECRET=s3cr3t", "OpenID Connect client secret"},
		{"OIDC_CLIENT_SECRET_FILE", "", "OIDC_CLIENT_SECRET_FILE=/run/secrets/oidc", "file holding the OpenID Connect client secret"},
		{"OIDC_SCOPES", "openid email profile", "OIDC_SCOPES=openid email profile groups", "scopes to request, space-separated"},
		{"OIDC_GROUPS_CLAIM", "groups", "OIDC_GROUPS_CLAIM=roles", "ID token or userinfo claim holding the user's groups"},
		{"SESSION_KEYS", "required, or SESSION_KEYS_FILE", "SESSION_KEYS=$(openssl rand -base64 32)", "comma-separated base64 keys (≥32 bytes each); the first signs, all verify"},
		{"SESSION_KEYS_FILE", "", "SESSION_KEYS_FILE=/run/secrets/session-keys", "file holding SESSION_KEYS"},
		{"SESSION_IDLE_TIMEOUT", "30m", "SESSION_IDLE_TIMEOUT=15m", "sign out after this long without a request (and at most a minute, or a tenth of it, later: activity is written that often)"},
		{"SESSION_MAX_AGE", "12h", "SESSION_MAX_AGE=8h", "sign out this long after sign-in, whatever the activity"},
		{"POLICY_FILE", "required", "POLICY_FILE=/etc/smtp-desk/policy.yaml", "access policy file (YAML or JSON); reloaded on SIGHUP"},
		{"DATABASE_URL", "smtpdesk.db (SQLite)", "DATABASE_URL=postgres://smtpdesk@db:5432/smtpdesk", "SQLite file path or postgres:// URL; a PostgreSQL connection gives up after 5s, or the URL's connect_timeout (seconds, at most 10)"},
		{"DATABASE_URL_FILE", "", "DATABASE_URL_FILE=/run/secrets/database-url", "file holding DATABASE_URL (which may carry a password)"},
		{"TRUSTED_PROXIES", "none (use the socket peer)", "TRUSTED_PROXIES=10.0.0.0/8,192.168.1.10/32", "CIDRs of proxies whose X-Forwarded-For/-Proto/-Host are believed"},
		{"LOG_LEVEL", "info", "LOG_LEVEL=debug", "debug, info, warn or error"},
		{"LOG_FORMAT", "json (demo: text)", "LOG_FORMAT=text", "json or text"},
		{"AGE_WARNING_DAYS", "365", "AGE_WARNING_DAYS=180", "flag logins whose password is older than this many days (since created, or last reset through SMTP Desk; at most 106751)"},
		{"SMTPDESK_SUPPORT", "none", "SMTPDESK_SUPPORT=the mail team, #mail-ops on Slack", "who users should ask for access or help, shown on the error and no-access pages (plain text, at most 200 characters)"},
		{"AUDIT_RETENTION", "0 (keep forever)", "AUDIT_RETENTION=400d", "delete audit entries older than this (Go duration or Nd, at least 1d, at most 106751d)"},
		{"METRICS_TOKEN", "none (no /metrics on the main listener)", "METRICS_TOKEN=m3tr1cs", "bearer token for /metrics on the main listener"},
		{"METRICS_TOKEN_FILE", "", "METRICS_TOKEN_FILE=/run/secrets/metrics-token", "file holding METRICS_TOKEN"},
		{"METRICS_ADDR", "none", "METRICS_ADDR=127.0.0.1:9090", "separate listener serving /metrics without a token; loopback only"},
		{"METRICS_PPROF", "false", "METRICS_PPROF=true", "also serve Go's profiler (/debug/pprof/) on METRICS_ADDR"},
		{"HTTP_GZIP", "true", "HTTP_GZIP=false", "gzip answers for clients that accept it; false when the proxy in front compresses"},
		{"GOGC", "200 (set by SMTP Desk when unset)", "GOGC=100", "Go's garbage collection target percentage, or off; checked with the rest, as Go's runtime takes a malformed one as 100"},
		{"RATE_LIMIT_ACTIONS", "30", "RATE_LIMIT_ACTIONS=60", "mutating actions per user per minute"},
		{"RATE_LIMIT_EXPORTS", "10", "RATE_LIMIT_EXPORTS=20", "exports (logins, audit trail) and audit trail checks per user per minute, apart from the actions"},
		{"RATE_LIMIT_SIGNIN", "20", "RATE_LIMIT_SIGNIN=10", "sign-in attempts per client IP (an IPv6 client's /64) per minute"},
	}
}

// Problem is one invalid or missing setting.
type Problem struct {
	Var     string
	Message string
}

// Problems lists every invalid or missing setting; its Error has one line per problem.
type Problems []Problem

// Error returns one line per problem.
func (p Problems) Error() string {
	lines := make([]string, len(p))
	for i, pr := range p {
		lines[i] = pr.Var + ": " + pr.Message
	}
	return strings.Join(lines, "\n")
}

func (p *Problems) add(name, format string, args ...any) {
	*p = append(*p, Problem{Var: name, Message: fmt.Sprintf(format, args...)})
}

func (p Problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return p
}

// Defaults.
const (
	DefaultListen         = ":8080"
	DefaultDemoListen     = "127.0.0.1:8080"
	DefaultDatabaseURL    = "smtpdesk.db"
	DefaultMailgunTimeout = 10 * time.Second
	DefaultIdleTimeout    = 30 * time.Minute
	DefaultMaxAge         = 12 * time.Hour
	MinSessionKeyBytes    = 32
)

// Load reads every setting through getenv (os.Getenv in production) and the *_FILE files it names.
// It returns a Config filled with what could be read and, when a value is malformed, a Problems
// error naming every such variable. Missing required settings are Validate's business.
func Load(getenv func(string) string) (Config, error) {
	var p Problems
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	cfg := Config{
		Listen:         get("SMTPDESK_LISTEN"),
		BaseURL:        originLower(strings.TrimRight(get("SMTPDESK_BASE_URL"), "/")),
		PolicyFile:     get("POLICY_FILE"),
		DatabaseURL:    Secret(secret(getenv, &p, "DATABASE_URL", "DATABASE_URL_FILE")),
		MetricsAddr:    get("METRICS_ADDR"),
		MetricsToken:   Secret(secret(getenv, &p, "METRICS_TOKEN", "METRICS_TOKEN_FILE")),
		LogFormat:      strings.ToLower(get("LOG_FORMAT")),
		AgeWarningDays: 365,
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = DefaultDatabaseURL
	}

	cfg.Mailgun = Mailgun{
		APIKey:  Secret(secret(getenv, &p, "MAILGUN_API_KEY", "MAILGUN_API_KEY_FILE")),
		Region:  strings.ToLower(get("MAILGUN_REGION")),
		BaseURL: strings.TrimRight(get("MAILGUN_BASE_URL"), "/"),
		Timeout: duration(get, &p, "MAILGUN_TIMEOUT", DefaultMailgunTimeout, "MAILGUN_TIMEOUT=15s"),
	}
	if cfg.Mailgun.Region == "" {
		cfg.Mailgun.Region = "us"
	} else if cfg.Mailgun.BaseURL != "" {
		p.add("MAILGUN_REGION", "set together with MAILGUN_BASE_URL; set only one of them (MAILGUN_REGION=eu, or MAILGUN_BASE_URL=http://127.0.0.1:8025 for the sandbox)")
	}

	cfg.OIDC = OIDC{
		// Exactly as given: go-oidc requires the issuer its discovery document names, and some
		// providers' end in "/" (Auth0, Azure AD v1) while others' do not.
		Issuer:       get("OIDC_ISSUER"),
		ClientID:     get("OIDC_CLIENT_ID"),
		ClientSecret: Secret(secret(getenv, &p, "OIDC_CLIENT_SECRET", "OIDC_CLIENT_SECRET_FILE")),
		Scopes:       strings.Fields(get("OIDC_SCOPES")),
		GroupsClaim:  get("OIDC_GROUPS_CLAIM"),
	}
	if len(cfg.OIDC.Scopes) == 0 {
		cfg.OIDC.Scopes = []string{"openid", "email", "profile"}
	}
	if cfg.OIDC.GroupsClaim == "" {
		cfg.OIDC.GroupsClaim = "groups"
	}

	cfg.Session = Session{
		IdleTimeout: duration(get, &p, "SESSION_IDLE_TIMEOUT", DefaultIdleTimeout, "SESSION_IDLE_TIMEOUT=30m"),
		MaxAge:      duration(get, &p, "SESSION_MAX_AGE", DefaultMaxAge, "SESSION_MAX_AGE=12h"),
	}
	if raw := secret(getenv, &p, "SESSION_KEYS", "SESSION_KEYS_FILE"); raw != "" {
		keys, err := ParseSessionKeys(raw)
		switch {
		case err != nil && strings.Contains(raw, "\n"):
			// openssl rand -base64 breaks its output after 64 characters: a key of more than 48
			// bytes arrives as two, the second short ("key 2 is 16 bytes" for one key given).
			p.add("SESSION_KEYS", "%v; a line break separates keys, as a comma does, and openssl rand -base64 breaks lines after 64 characters: generate a key on one line (openssl rand -base64 32, or -A for a longer one)", err)
		case err != nil:
			p.add("SESSION_KEYS", "%v; generate one with: openssl rand -base64 32", err)
		}
		cfg.Session.Keys = keys
	}

	for _, s := range splitList(get("TRUSTED_PROXIES")) {
		pfx, err := parsePrefix(s)
		if err != nil {
			p.add("TRUSTED_PROXIES", "%q is not a CIDR or IP address; use e.g. TRUSTED_PROXIES=10.0.0.0/8,192.168.1.10", s)
			continue
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, pfx)
	}

	switch lvl := strings.ToLower(get("LOG_LEVEL")); lvl {
	case "", "info":
		cfg.LogLevel = slog.LevelInfo
	case "debug":
		cfg.LogLevel = slog.LevelDebug
	case "warn", "warning":
		cfg.LogLevel = slog.LevelWarn
	case "error":
		cfg.LogLevel = slog.LevelError
	default:
		p.add("LOG_LEVEL", "%q is not a level; use debug, info, warn or error (e.g. LOG_LEVEL=info)", lvl)
	}

	cfg.AgeWarningDays = integer(get, &p, "AGE_WARNING_DAYS", 365, 1, "AGE_WARNING_DAYS=365")
	if cfg.AgeWarningDays > maxDays {
		// The cutoff is today less this many days: past what a date holds it wrapped around, to a
		// day in the future for fifteen nines meant as "never", and every login was flagged.
		p.add("AGE_WARNING_DAYS", "%q is more days than SMTP Desk can count (at most %d); use e.g. AGE_WARNING_DAYS=365", get("AGE_WARNING_DAYS"), maxDays)
		cfg.AgeWarningDays = 365
	}
	cfg.Support = strings.TrimSpace(get("SMTPDESK_SUPPORT"))
	if msg := supportProblem(cfg.Support); msg != "" {
		p.add("SMTPDESK_SUPPORT", "%s; use plain text, e.g. SMTPDESK_SUPPORT=the mail team, #mail-ops on Slack", msg)
	}
	cfg.RateLimitActions = integer(get, &p, "RATE_LIMIT_ACTIONS", 30, 1, "RATE_LIMIT_ACTIONS=30")
	cfg.RateLimitExports = integer(get, &p, "RATE_LIMIT_EXPORTS", 10, 1, "RATE_LIMIT_EXPORTS=10")
	cfg.RateLimitSignIn = integer(get, &p, "RATE_LIMIT_SIGNIN", 20, 1, "RATE_LIMIT_SIGNIN=20")
	cfg.MetricsPprof = boolean(get, &p, "METRICS_PPROF", false, "METRICS_PPROF=true")
	cfg.NoGzip = !boolean(get, &p, "HTTP_GZIP", true, "HTTP_GZIP=false")

	// Go's runtime reads GOGC itself, and takes a malformed value as 100 without a word: SMTP Desk
	// names it with the other settings instead. Any whole number is Go's (0 collects all the
	// time, a negative one is off, as "off" is), read as the runtime reads it: untrimmed ("off "
	// and " 50" are 100 to it), and within 32 bits.
	if v := getenv("GOGC"); v != "" && v != "off" {
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			p.add("GOGC", "%q is not a whole percentage; use e.g. GOGC=200 (SMTP Desk's default when unset), or GOGC=off, with no spaces", v)
		}
	}
	if v := get("AUDIT_RETENTION"); v != "" && v != "0" {
		d, err := parseDays(v)
		switch {
		case errors.Is(err, errTooManyDays):
			p.add("AUDIT_RETENTION", "%q is more days than SMTP Desk can count (at most %dd); use 0 to keep forever", v, maxDays)
		case err != nil || d < 0:
			p.add("AUDIT_RETENTION", "%q is not a duration; use e.g. AUDIT_RETENTION=400d or 0 to keep forever", v)
		case d == 0:
			// "0s" or "0d" as well as "0": keep forever.
		case d < 24*time.Hour:
			// Retention deletes entries for good, at start-up first: "6m" meant as six months
			// would keep six minutes.
			p.add("AUDIT_RETENTION", "%q is shorter than a day (m is minutes); use whole days, e.g. AUDIT_RETENTION=180d, or 0 to keep forever", v)
		default:
			cfg.AuditRetention = d
		}
	}
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Scheme == "https" {
		cfg.Session.SecureCookies = true
	}
	cfg.loadProblems = map[string]bool{}
	for _, pr := range p {
		cfg.loadProblems[pr.Var] = true
		cfg.loadProblems[strings.TrimSuffix(pr.Var, "_FILE")] = true
	}
	return cfg, p.err()
}

// Validate checks that every required setting is present and consistent, and returns a Problems
// error naming each missing or invalid one with an example.
func (c Config) Validate() error {
	var p Problems
	if c.Listen != "" {
		name, set := "SMTPDESK_LISTEN", "SMTPDESK_LISTEN="
		if c.ListenFlag {
			name, set = "-addr", "-addr "
		}
		example := set + ":8080"
		if c.Demo {
			example = set + "127.0.0.1:8080" // the demo listens on loopback only
		}
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			p.add(name, "%q is not host:port; use e.g. %s", c.Listen, example)
		} else if !validPort(c.Listen) {
			p.add(name, "%q has no usable port (a number from 0 to 65535); use e.g. %s", c.Listen, example)
		} else if c.Demo && !isLoopbackHostPort(c.Listen) {
			p.add(name, "%q: demo mode listens on loopback only; use e.g. %s127.0.0.1:8080", c.Listen, set)
		}
	}

	required := !c.Demo
	missing := func(name string) bool { return required && !c.loadProblems[name] }
	checkURL(&p, "SMTPDESK_BASE_URL", c.BaseURL, required,
		"set it to SMTP Desk's public URL (e.g. SMTPDESK_BASE_URL=https://smtp-desk.corp.example)")
	if u, err := url.Parse(c.BaseURL); err == nil && u.Host != "" && (u.Path != "" || strings.ContainsAny(c.BaseURL, "?#")) {
		// SMTP Desk serves from the root of its host: its own links and the sign-in callback
		// would leave a path out, and a query would end up in the middle of the callback. A
		// bare "?" or "#" at the end counts: the callback became "https://host?/auth/callback".
		// A user name or password is checkURL's to name; the URL is shown without them (shown as
		// given, the password was in the start-up error).
		p.add("SMTPDESK_BASE_URL", "%q has a path or query; SMTP Desk must be served at the root of its host (e.g. SMTPDESK_BASE_URL=https://smtp-desk.corp.example)", redactURL(c.BaseURL))
	}

	if c.Mailgun.APIKey == "" && missing("MAILGUN_API_KEY") {
		p.add("MAILGUN_API_KEY", "missing; set it to your Mailgun private API key (e.g. MAILGUN_API_KEY=key-0123…) or MAILGUN_API_KEY_FILE=/run/secrets/mailgun")
	}
	if c.Mailgun.BaseURL != "" {
		// Every call carries the API key: plain http only to a sandbox on this machine.
		const hint = "use e.g. MAILGUN_BASE_URL=https://api.mailgun.net"
		if checkURL(&p, "MAILGUN_BASE_URL", c.Mailgun.BaseURL, false, hint) {
			// Each call's path and query are SMTP Desk's: the client refuses a base with its own
			// (only after the database was opened, and without naming the variable).
			noQuery(&p, "MAILGUN_BASE_URL", c.Mailgun.BaseURL, hint)
		}
		// The API's version is part of each call's path: a base that ends in one (a URL
		// pasted from Mailgun's documentation) would make every call a 404.
		if u, err := url.Parse(c.Mailgun.BaseURL); err == nil {
			if last := path.Base(u.Path); last == "v3" || last == "v4" {
				p.add("MAILGUN_BASE_URL", "%q ends in /%s; give the API's base without a version, e.g. MAILGUN_BASE_URL=https://api.mailgun.net (SMTP Desk adds /v3 and /v4 to each call)", redactURL(c.Mailgun.BaseURL), last)
			}
		}
	} else if c.Mailgun.Region != "" && c.Mailgun.Region != "us" && c.Mailgun.Region != "eu" {
		p.add("MAILGUN_REGION", "%q is not a region; use us or eu (e.g. MAILGUN_REGION=eu)", c.Mailgun.Region)
	}

	const issuerHint = "set it to your identity provider's issuer URL (e.g. OIDC_ISSUER=https://login.corp.example)"
	if checkURL(&p, "OIDC_ISSUER", c.OIDC.Issuer, required, issuerHint) {
		// OpenID Connect Discovery 1.0, 4: an issuer has no query or fragment; with one, the
		// discovery document's address is wrong and sign-in can never work.
		noQuery(&p, "OIDC_ISSUER", c.OIDC.Issuer, issuerHint)
	}
	if c.OIDC.ClientID == "" && required {
		p.add("OIDC_CLIENT_ID", "missing; set it to the client id registered with your identity provider (e.g. OIDC_CLIENT_ID=smtp-desk)")
	}
	if c.OIDC.ClientSecret == "" && missing("OIDC_CLIENT_SECRET") {
		p.add("OIDC_CLIENT_SECRET", "missing; set it to the client secret (e.g. OIDC_CLIENT_SECRET=…) or OIDC_CLIENT_SECRET_FILE=/run/secrets/oidc")
	}
	if !contains(c.OIDC.Scopes, "openid") {
		if scopes := strings.Join(c.OIDC.Scopes, " "); strings.Contains(scopes, ",") {
			// "openid,email" is one scope, which is not openid: say why.
			p.add("OIDC_SCOPES", "%q: scopes are separated by spaces, not commas (e.g. OIDC_SCOPES=openid email profile)", scopes)
		} else {
			p.add("OIDC_SCOPES", "must include openid (e.g. OIDC_SCOPES=openid email profile)")
		}
	}

	if len(c.Session.Keys) == 0 && missing("SESSION_KEYS") {
		p.add("SESSION_KEYS", "missing; set it to a random base64 key of at least 32 bytes (e.g. SESSION_KEYS=$(openssl rand -base64 32)) or SESSION_KEYS_FILE=/run/secrets/session-keys")
	}
	if c.Session.IdleTimeout <= 0 {
		p.add("SESSION_IDLE_TIMEOUT", "must be positive (e.g. SESSION_IDLE_TIMEOUT=30m)")
	}
	if c.Session.MaxAge <= 0 {
		p.add("SESSION_MAX_AGE", "must be positive (e.g. SESSION_MAX_AGE=12h)")
	} else if c.Session.IdleTimeout > c.Session.MaxAge && !c.loadProblems["SESSION_IDLE_TIMEOUT"] && !c.loadProblems["SESSION_MAX_AGE"] {
		// (A malformed one was named already, and its default in place here is not the user's.)
		p.add("SESSION_IDLE_TIMEOUT", "%s is longer than SESSION_MAX_AGE %s; use e.g. SESSION_IDLE_TIMEOUT=30m", c.Session.IdleTimeout, c.Session.MaxAge)
	}

	if c.PolicyFile == "" {
		if required {
			p.add("POLICY_FILE", "missing; set it to the access policy file (e.g. POLICY_FILE=/etc/smtp-desk/policy.yaml)")
		}
	} else if st, err := os.Stat(c.PolicyFile); err != nil || st.IsDir() {
		p.add("POLICY_FILE", "%q is not a readable file; set it to the access policy file (e.g. POLICY_FILE=/etc/smtp-desk/policy.yaml)", c.PolicyFile)
	}

	// The values stay out of these messages: a PostgreSQL URL may carry a password.
	if dsn := c.DatabaseURL.Reveal(); pgPrefix.MatchString(dsn) && !postgresURL(dsn) {
		// The driver knows a PostgreSQL URL by exactly these prefixes: "Postgres://…" or
		// "postgres:/…" would be taken for a SQLite file path, and the error that the file
		// cannot be opened would show it, password included.
		p.add("DATABASE_URL", "starts like a PostgreSQL URL but not with postgres:// or postgresql:// (in lower case, with both slashes); use e.g. DATABASE_URL=postgres://user:password@host:5432/db")
	} else if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		switch {
		case err != nil && postgresURL(dsn):
			p.add("DATABASE_URL", "is not a valid URL; percent-encode the characters that have a meaning in a URL in the user name and password (%% as %%25, # as %%23, / as %%2F, ? as %%3F, @ as %%40), e.g. DATABASE_URL=postgres://user:pa%%23ss@host:5432/db")
		case err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql"):
			p.add("DATABASE_URL", "unsupported URL; use a SQLite file path (e.g. DATABASE_URL=/var/lib/smtp-desk/smtpdesk.db) or DATABASE_URL=postgres://user@host:5432/db")
		default:
			// Else the driver's parse error came with the advice to check that the server runs.
			if ct := u.Query().Get("connect_timeout"); ct != "" {
				if n, err := strconv.Atoi(ct); err != nil || n < 0 {
					p.add("DATABASE_URL", "its connect_timeout %q is not a whole number of seconds; use e.g. ?connect_timeout=5, or leave it out for 5", ct)
				}
			}
		}
	} else if pgKeywordDSN.MatchString(dsn) {
		// Taken for a SQLite path, it would give a file named after it, password included, and
		// the start-up log would show it. The value stays out of the message.
		p.add("DATABASE_URL", "looks like a PostgreSQL keyword/value string (host=… password=…); use a URL, e.g. DATABASE_URL=postgres://user:password@host:5432/db")
	}

	if c.LogFormat != "" && c.LogFormat != "json" && c.LogFormat != "text" {
		p.add("LOG_FORMAT", "%q is not a format; use json or text (e.g. LOG_FORMAT=json)", c.LogFormat)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			p.add("METRICS_ADDR", "%q is not host:port; use e.g. METRICS_ADDR=127.0.0.1:9090", c.MetricsAddr)
		} else if !validPort(c.MetricsAddr) {
			p.add("METRICS_ADDR", "%q has no usable port (a number from 0 to 65535); use e.g. METRICS_ADDR=127.0.0.1:9090", c.MetricsAddr)
		} else if sameListener(c.MetricsAddr, c.ListenAddr()) {
			// Else start-up failed with "another program listens on that port", which was
			// SMTP Desk's own main listener.
			p.add("METRICS_ADDR", "%q is the address SMTP Desk serves its pages on (%s); give /metrics a port of its own, e.g. METRICS_ADDR=127.0.0.1:9090", c.MetricsAddr, c.ListenAddr())
		} else if !isLoopbackHostPort(c.MetricsAddr) {
			// The listener has no token (issue 8: "on a separate loopback-only address"), and
			// with METRICS_PPROF it shows the process's stacks, command line and memory too.
			p.add("METRICS_ADDR", "%q is not a loopback address; it serves /metrics without a token (and Go's profiler, with METRICS_PPROF), so it must be, e.g. METRICS_ADDR=127.0.0.1:9090; for a scraper on another host, set METRICS_TOKEN and scrape /metrics on the main listener", c.MetricsAddr)
		}
	}
	if c.MetricsPprof && c.MetricsAddr == "" {
		p.add("METRICS_PPROF", "the profiler is served only on METRICS_ADDR; set METRICS_ADDR too (e.g. METRICS_ADDR=127.0.0.1:9090)")
	}
	return p.err()
}

// postgresURL reports whether dsn starts as the store takes a PostgreSQL URL: exactly
// postgres:// or postgresql://.
func postgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// pgPrefix matches the start of a PostgreSQL URL in any letter case and with any slashes.
var pgPrefix = regexp.MustCompile(`(?i)^postgres(ql)?:`)

// validPort says whether hp's port can be listened on: a number from 0 to 65535. Checked with
// the rest of the settings, so that a typo is named with them, before the database is opened,
// and not as net.Listen's "invalid port". A service name ("http") is refused although Go would
// listen on it: no URL can name it, so the container's health check (`web healthcheck`, which
// asks http://host:port/healthz) failed for good, and the names differ between systems.
func validPort(hp string) bool {
	_, port, err := net.SplitHostPort(hp)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && strings.Trim(port, "0123456789") == "" && n <= 65535
}

// sameListener says whether two host:port addresses would take the same port: the same port
// (not 0, which picks a free one) on the same host, or on every interface in either.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	// Go listens on "localhost" at its IPv4 address first, the one the server took.
	loopback := func(h string) string {
		if strings.EqualFold(h, "localhost") {
			return "127.0.0.1"
		}
		return h
	}
	return loopback(ha) == loopback(hb) || wildcard(ha) || wildcard(hb)
}

// pgKeywordDSN matches a libpq keyword/value connection string, which SMTP Desk does not take.
var pgKeywordDSN = regexp.MustCompile(`(^|\s)(host|hostaddr|port|dbname|user|password|sslmode)\s*=`)

// ListenAddr returns the address to listen on, with the demo or production default.
func (c Config) ListenAddr() string {
	switch {
	case c.Listen != "":
		return c.Listen
	case c.Demo:
		return DefaultDemoListen
	default:
		return DefaultListen
	}
}

// Format returns the log format: LOG_FORMAT, else text in demo mode and json otherwise.
func (c Config) Format() string {
	switch {
	case c.LogFormat != "":
		return c.LogFormat
	case c.Demo:
		return "text"
	default:
		return "json"
	}
}

// ParseSessionKeys parses a comma-separated list of base64 keys (standard or URL alphabet,
// padded or not), each at least 32 bytes decoded, and derives a signing and an encryption key
// from each with HKDF-SHA256.
func ParseSessionKeys(raw string) ([]SessionKey, error) {
	var keys []SessionKey
	for i, s := range splitList(raw) {
		b, err := decodeBase64(s)
		if err != nil {
			return nil, fmt.Errorf("key %d is not base64", i+1)
		}
		if len(b) < MinSessionKeyBytes {
			return nil, fmt.Errorf("key %d is %d bytes, want at least %d", i+1, len(b), MinSessionKeyBytes)
		}
		k, err := DeriveSessionKey(b)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return keys, nil
}

// DeriveSessionKey derives the signing (64 bytes) and encryption (32 bytes) keys from one secret.
func DeriveSessionKey(secret []byte) (SessionKey, error) {
	hash, err := hkdf.Key(sha256.New, secret, nil, "smtpdesk session hash", 64)
	if err != nil {
		return SessionKey{}, fmt.Errorf("derive hash key: %w", err)
	}
	block, err := hkdf.Key(sha256.New, secret, nil, "smtpdesk session block", 32)
	if err != nil {
		return SessionKey{}, fmt.Errorf("derive block key: %w", err)
	}
	return SessionKey{Hash: Secret(hash), Block: Secret(block)}, nil
}

// IsLoopbackHost reports whether host (a name or IP, without port) is loopback.
func IsLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func isLoopbackHostPort(hp string) bool {
	host, _, err := net.SplitHostPort(hp)
	return err == nil && IsLoopbackHost(host)
}

func checkURL(p *Problems, name, v string, required bool, hint string) (ok bool) {
	if v == "" {
		if required {
			p.add(name, "missing; %s", hint)
		}
		return false
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		p.add(name, "%q is not an absolute URL; %s", redactURL(v), hint)
		return false
	}
	if u.User != nil {
		// The Mailgun key goes in its own variable and the IdP needs none: a user name or
		// password here is a mistake, and would be printed with the URL.
		p.add(name, "%q holds a user name or password; leave them out (secrets have their own variables); %s", redactURL(v), hint)
		return false
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			p.add(name, "%q has no usable port (1 to 65535); %s", redactURL(v), hint)
			return false
		}
	}
	if u.Scheme != "https" && !IsLoopbackHost(u.Hostname()) {
		p.add(name, "%q must use https (http is allowed on loopback only); %s", v, hint)
		return false
	}
	return true
}

// noQuery adds a problem when the URL v (one checkURL took) has a query or a fragment, even an
// empty one (a bare "?" or "#" at the end).
func noQuery(p *Problems, name, v, hint string) {
	if i := strings.IndexAny(v, "?#"); i >= 0 {
		// Shown without the query itself, which might hold a token.
		p.add(name, "%q is followed by a query or fragment (%c…); leave it out; %s", redactURL(v[:i]), v[i], hint)
	}
}

// originLower returns the URL v with its scheme and host in lower case when v is an origin
// (scheme://host[:port], nothing else), and v as it is otherwise (Validate names what is wrong
// with it). Both are case-insensitive, but the sign-in's redirect_uri is made from the base URL,
// and identity providers compare it with the registered one as a string:
// "HTTPS://Smtp-Desk.corp.example" had every sign-in refused as an unknown redirect URI.
func originLower(v string) string {
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok || rest == "" || strings.ContainsAny(rest, "/?#@\\") {
		return v
	}
	return strings.ToLower(scheme) + "://" + strings.ToLower(rest)
}

// redactURL hides whatever a URL holds before its host's "@" (a user name and password), even
// in a value that does not parse: everything between "://" and the last "@" becomes "…".
func redactURL(v string) string {
	i := strings.Index(v, "://")
	if i < 0 {
		return v
	}
	at := strings.LastIndex(v[i+3:], "@")
	if at < 0 {
		return v
	}
	return v[:i+3] + "…" + v[i+3+at:]
}

// secret reads a value from the variable or the file the _FILE variable names; setting both is a
// problem. The value is never put into a message.
func secret(getenv func(string) string, p *Problems, name, fileName string) string {
	v := strings.TrimSpace(getenv(name))
	path := strings.TrimSpace(getenv(fileName))
	switch {
	case v != "" && path != "":
		p.add(name, "both %s and %s are set; set exactly one", name, fileName)
		return ""
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			p.add(fileName, "cannot read %q: %v; set it to a readable file (e.g. %s=/run/secrets/…)", path, errors.Unwrap(err), fileName)
			return ""
		}
		v = strings.TrimSpace(string(b))
		if v == "" {
			p.add(fileName, "%q is empty", path)
		}
	}
	return v
}

func duration(get func(string) string, p *Problems, name string, def time.Duration, example string) time.Duration {
	v := get(name)
	if v == "" {
		return def
	}
	d, err := parseDays(v)
	switch {
	case errors.Is(err, errTooManyDays) && !strings.HasPrefix(v, "-"):
		p.add(name, "%q is more days than SMTP Desk can count (at most %dd); use e.g. %s", v, maxDays, example)
		return def
	case err != nil || d <= 0:
		p.add(name, "%q is not a positive duration; use e.g. %s", v, example)
		return def
	}
	return d
}

// maxDays is the most days a time.Duration holds.
const maxDays = int(math.MaxInt64 / int64(24*time.Hour))

// errTooManyDays is parseDays' error for more days than a time.Duration holds.
var errTooManyDays = fmt.Errorf("more than %d days", maxDays)

// parseDays parses a Go duration, also accepting a whole number of days as "Nd".
func parseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("parse days %q: %w", v, err)
		}
		// A duration holds some 292 years: more days wrapped around, to a negative duration or
		// to any positive one (213505d was about a day, and AUDIT_RETENTION deleted the rest).
		if days > maxDays || days < -maxDays {
			return 0, fmt.Errorf("parse days %q: %w", v, errTooManyDays)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("parse duration: %w", err)
	}
	// The same bound in hours: up to the largest duration (2562047h47m16s), what SMTP Desk adds to
	// it wrapped around (a session's idle limit and its cookie's age, a minute more, went
	// negative, and every session ended at its next request).
	if d > time.Duration(maxDays)*24*time.Hour || d < -time.Duration(maxDays)*24*time.Hour {
		return 0, fmt.Errorf("parse duration %q: %w", v, errTooManyDays)
	}
	return d, nil
}

func integer(get func(string) string, p *Problems, name string, def, lowest int, example string) int {
	v := get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lowest {
		p.add(name, "%q is not a whole number of at least %d; use e.g. %s", v, lowest, example)
		return def
	}
	return n
}

// boolean reads a true/false setting (anything strconv.ParseBool takes), def when unset.
func boolean(get func(string) string, p *Problems, name string, def bool, example string) bool {
	v := get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.add(name, "%q is not true or false; use e.g. %s", v, example)
		return def
	}
	return b
}

// parsePrefix reads a CIDR or an address. An IPv4-mapped IPv6 one (::ffff:10.0.0.1) is taken as
// the IPv4 it maps: the peer address it is matched against is unmapped first, so kept as IPv6 it
// never matched, and the proxy was silently not believed.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("parse prefix: %w", err)
		}
		if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		return pfx.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("parse address: %w", err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// String describes the configuration with every secret redacted.
func (c Config) String() string {
	return fmt.Sprintf("listen=%s base_url=%s mailgun=%s oidc_issuer=%s client_id=%s session_keys=%d policy=%s database=%s trusted_proxies=%v",
		c.ListenAddr(), redactURL(c.BaseURL), redactURL(c.mailgunTarget()), redactURL(c.OIDC.Issuer), c.OIDC.ClientID, len(c.Session.Keys), c.PolicyFile, redactDSN(c.DatabaseURL.Reveal()), c.TrustedProxies)
}

// LogValue logs the configuration with every secret redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("listen", c.ListenAddr()),
		slog.String("base_url", redactURL(c.BaseURL)),
		slog.String("mailgun", redactURL(c.mailgunTarget())),
		slog.String("oidc_issuer", redactURL(c.OIDC.Issuer)),
		slog.String("oidc_client_id", c.OIDC.ClientID),
		slog.Int("session_keys", len(c.Session.Keys)),
		slog.String("policy_file", c.PolicyFile),
		slog.String("database", redactDSN(c.DatabaseURL.Reveal())),
		slog.Any("trusted_proxies", c.TrustedProxies),
		slog.Bool("demo", c.Demo),
	)
}

// DatabaseRedacted is DATABASE_URL as a message or log may show it: with its passwords hidden.
func (c Config) DatabaseRedacted() string { return redactDSN(c.DatabaseURL.Reveal()) }

// DatabaseSecrets are the passwords a PostgreSQL DATABASE_URL holds (its user's, and the value
// of each query parameter whose name holds "password" in any letter case, as redactDSN hides
// them), each as written in the URL and decoded: a driver's error may quote the URL, hiding
// only the parameters it knows by their exact names.
func (c Config) DatabaseSecrets() []string {
	u, err := url.Parse(c.DatabaseURL.Reveal())
	if err != nil || u.Scheme == "" {
		return nil
	}
	var out []string
	add := func(raw string) {
		out = append(out, raw)
		if dec, err := url.QueryUnescape(raw); err == nil && dec != raw {
			out = append(out, dec)
		}
	}
	if u.User != nil {
		if _, raw, ok := strings.Cut(u.User.String(), ":"); ok && raw != "" {
			add(raw)
		}
	}
	for kv := range strings.SplitSeq(u.RawQuery, "&") {
		if k, v, _ := strings.Cut(kv, "="); v != "" && strings.Contains(strings.ToLower(k), "password") {
			add(v)
		}
	}
	return out
}

func (c Config) mailgunTarget() string {
	if c.Mailgun.BaseURL != "" {
		return c.Mailgun.BaseURL
	}
	return c.Mailgun.Region
}

// redactDSN hides the passwords in a database URL: the user's, and those its query can carry,
// which pgx reads as settings (postgres://smtpdesk@db/smtpdesk?password=…, sslpassword for the
// client key). Any query parameter whose name holds "password", in any letter case or
// percent-encoding, is shown as "[redacted]".
func redactDSN(dsn string) string {
	if !strings.Contains(dsn, "://") && pgKeywordDSN.MatchString(dsn) {
		// A keyword/value string (host=db password=…), which Validate refuses: it parses as a
		// SQLite path, shown as written, password included.
		return redacted
	}
	u, err := url.Parse(dsn)
	if err != nil {
		if strings.Contains(dsn, "://") {
			return redacted
		}
		return dsn
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			// The query cannot be read, so what it hides cannot be told either.
			u.RawQuery = ""
			return strings.TrimSuffix(redactDSN(u.String()), "?") + "?" + redacted
		}
		secret := false
		for k, vs := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				for i := range vs {
					vs[i] = redacted
				}
				secret = true
			}
		}
		if secret {
			u.RawQuery = q.Encode()
			if u.User == nil {
				return u.String()
			}
		}
	}
	if u.User == nil {
		return dsn // a SQLite path stays as written
	}
	return u.Redacted()
}

// maxSupport bounds SMTPDESK_SUPPORT, a line on a page, in characters.
const maxSupport = 200

// supportProblem says what is wrong with a SMTPDESK_SUPPORT value, or "" when nothing is.
func supportProblem(v string) string {
	switch {
	case !utf8.ValidString(v):
		return "it is not valid UTF-8"
	case utf8.RuneCountInString(v) > maxSupport:
		return fmt.Sprintf("it is %d characters long, more than the %d a line on a page takes", utf8.RuneCountInString(v), maxSupport)
	case strings.ContainsFunc(v, unicode.IsControl):
		return "it holds a control character (a line break, a tab…)"
	}
	return ""
}

// Misspelt returns a warning for each of names (the process's environment variables) that is
// not a setting but is within two edits of one (a letter missing, added or changed, or two
// swapped), naming the setting it may have been meant for: a misspelt name is otherwise ignored
// without a word, and the default taken (AUDIT_RETENTON=400d kept the trail forever).
func Misspelt(names []string) []string {
	// Go's runtime settings SMTP Desk documents beside its own (the README's table, -help).
	known := append(Vars(), Var{Name: "GOMEMLIMIT"}, Var{Name: "GOGC"})
	isKnown := make(map[string]bool, len(known))
	for _, v := range known {
		isKnown[v.Name] = true
	}
	var out []string
	for _, n := range names {
		if isKnown[n] || len(n) < 6 {
			continue
		}
		best, bestD := "", 3
		for _, v := range known {
			if d := editDistance(n, v.Name, bestD); d < bestD {
				best, bestD = v.Name, d
			}
		}
		if best != "" {
			out = append(out, fmt.Sprintf("%s is not a setting of SMTP Desk and is ignored; did you mean %s?", n, best))
		}
	}
	return out
}

// editDistance is the optimal string alignment distance between a and b (insertions, deletions,
// substitutions and swaps of neighbours), or max when it is max or more.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d >= max || -d >= max {
		return max
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		low := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			low = min(low, cur[j])
		}
		if low >= max {
			return max
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], max)
}
