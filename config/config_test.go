package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func key(b byte) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune('a'+b)), 32)))
}

// valid returns a complete production environment; policyFile must exist.
func valid(t *testing.T) map[string]string {
	t.Helper()
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("admins: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"SMTPDESK_BASE_URL":  "https://smtp-desk.corp.example",
		"MAILGUN_API_KEY":    "key-supersecret",
		"OIDC_ISSUER":        "https://login.corp.example",
		"OIDC_CLIENT_ID":     "smtp-desk",
		"OIDC_CLIENT_SECRET": "oidc-supersecret",
		"SESSION_KEYS":       key(0),
		"POLICY_FILE":        policy,
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(env(valid(t)))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.ListenAddr(), ":8080"},
		{"region", cfg.Mailgun.Region, "us"},
		{"timeout", cfg.Mailgun.Timeout, 10 * time.Second},
		{"scopes", strings.Join(cfg.OIDC.Scopes, " "), "openid email profile"},
		{"groups claim", cfg.OIDC.GroupsClaim, "groups"},
		{"idle", cfg.Session.IdleTimeout, 30 * time.Minute},
		{"max age", cfg.Session.MaxAge, 12 * time.Hour},
		{"keys", len(cfg.Session.Keys), 1},
		{"database", cfg.DatabaseURL.Reveal(), "smtpdesk.db"},
		{"proxies", len(cfg.TrustedProxies), 0},
		{"log level", cfg.LogLevel, slog.LevelInfo},
		{"log format", cfg.Format(), "json"},
		{"age days", cfg.AgeWarningDays, 365},
		{"retention", cfg.AuditRetention, time.Duration(0)},
		{"rate actions", cfg.RateLimitActions, 30},
		{"rate exports", cfg.RateLimitExports, 10},
		{"rate signin", cfg.RateLimitSignIn, 20},
		{"no gzip", cfg.NoGzip, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	demo := Config{Demo: true}
	if got, want := demo.ListenAddr(), "127.0.0.1:8080"; got != want {
		t.Errorf("demo ListenAddr = %q, want %q", got, want)
	}
	if got, want := demo.Format(), "text"; got != want {
		t.Errorf("demo Format = %q, want %q", got, want)
	}
}

func TestLoadValues(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	m := valid(t)
	delete(m, "MAILGUN_API_KEY")
	delete(m, "OIDC_CLIENT_SECRET")
	delete(m, "SESSION_KEYS")
	m["MAILGUN_API_KEY_FILE"] = write("mg", "key-fromfile\n")
	m["OIDC_CLIENT_SECRET_FILE"] = write("oidc", "oidc-fromfile\n")
	m["SESSION_KEYS_FILE"] = write("keys", key(1)+","+strings.TrimRight(base64.URLEncoding.EncodeToString([]byte(strings.Repeat("z", 40))), "=")+"\n")
	m["MAILGUN_REGION"] = "EU"
	m["MAILGUN_TIMEOUT"] = "3s"
	m["OIDC_SCOPES"] = "openid email groups"
	m["OIDC_GROUPS_CLAIM"] = "roles"
	m["SESSION_IDLE_TIMEOUT"] = "15m"
	m["SESSION_MAX_AGE"] = "8h"
	m["DATABASE_URL"] = "postgres://u:pw@db:5432/x"
	m["TRUSTED_PROXIES"] = "10.0.0.0/8, 192.168.1.10"
	m["LOG_LEVEL"] = "debug"
	m["LOG_FORMAT"] = "text"
	m["AGE_WARNING_DAYS"] = "180"
	m["SMTPDESK_SUPPORT"] = "  the mail team, #mail-ops on Slack "
	m["AUDIT_RETENTION"] = "400d"
	m["RATE_LIMIT_ACTIONS"] = "5"
	m["RATE_LIMIT_EXPORTS"] = "3"
	m["RATE_LIMIT_SIGNIN"] = "7"
	m["SMTPDESK_LISTEN"] = "0.0.0.0:9000"
	m["HTTP_GZIP"] = "false"
	cfg, err := Load(env(m))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"key", cfg.Mailgun.APIKey.Reveal(), "key-fromfile"},
		{"secret", cfg.OIDC.ClientSecret.Reveal(), "oidc-fromfile"},
		{"keys", len(cfg.Session.Keys), 2},
		{"pairs", len(cfg.Session.KeyPairs()), 4},
		{"hash len", len(cfg.Session.Keys[0].Hash), 64},
		{"block len", len(cfg.Session.Keys[0].Block), 32},
		{"region", cfg.Mailgun.Region, "eu"},
		{"support", cfg.Support, "the mail team, #mail-ops on Slack"},
		{"timeout", cfg.Mailgun.Timeout, 3 * time.Second},
		{"scopes", len(cfg.OIDC.Scopes), 3},
		{"claim", cfg.OIDC.GroupsClaim, "roles"},
		{"idle", cfg.Session.IdleTimeout, 15 * time.Minute},
		{"max", cfg.Session.MaxAge, 8 * time.Hour},
		{"proxies", fmt.Sprint(cfg.TrustedProxies), "[10.0.0.0/8 192.168.1.10/32]"},
		{"level", cfg.LogLevel, slog.LevelDebug},
		{"format", cfg.Format(), "text"},
		{"age", cfg.AgeWarningDays, 180},
		{"retention", cfg.AuditRetention, 400 * 24 * time.Hour},
		{"actions", cfg.RateLimitActions, 5},
		{"exports", cfg.RateLimitExports, 3},
		{"signin", cfg.RateLimitSignIn, 7},
		{"listen", cfg.ListenAddr(), "0.0.0.0:9000"},
		{"no gzip", cfg.NoGzip, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if string(cfg.Session.Keys[0].Hash) == string(cfg.Session.Keys[1].Hash) || string(cfg.Session.Keys[0].Hash) == string(cfg.Session.Keys[0].Block) {
		t.Error("derived keys are not distinct")
	}
}

// TestValidateMissing: with nothing set, every required setting is named, one line each.
func TestValidateMissing(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	err = cfg.Validate()
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("Validate = %v, want Problems", err)
	}
	want := map[string]string{
		"SMTPDESK_BASE_URL":  "SMTPDESK_BASE_URL: missing; set it to SMTP Desk's public URL (e.g. SMTPDESK_BASE_URL=https://smtp-desk.corp.example)",
		"MAILGUN_API_KEY":    "MAILGUN_API_KEY: missing; set it to your Mailgun private API key (e.g. MAILGUN_API_KEY=key-0123…) or MAILGUN_API_KEY_FILE=/run/secrets/mailgun",
		"OIDC_ISSUER":        "OIDC_ISSUER: missing; set it to your identity provider's issuer URL (e.g. OIDC_ISSUER=https://login.corp.example)",
		"OIDC_CLIENT_ID":     "OIDC_CLIENT_ID: missing; set it to the client id registered with your identity provider (e.g. OIDC_CLIENT_ID=smtp-desk)",
		"OIDC_CLIENT_SECRET": "OIDC_CLIENT_SECRET: missing; set it to the client secret (e.g. OIDC_CLIENT_SECRET=…) or OIDC_CLIENT_SECRET_FILE=/run/secrets/oidc",
		"SESSION_KEYS":       "SESSION_KEYS: missing; set it to a random base64 key of at least 32 bytes (e.g. SESSION_KEYS=$(openssl rand -base64 32)) or SESSION_KEYS_FILE=/run/secrets/session-keys",
		"POLICY_FILE":        "POLICY_FILE: missing; set it to the access policy file (e.g. POLICY_FILE=/etc/smtp-desk/policy.yaml)",
	}
	lines := strings.Split(err.Error(), "\n")
	if got := len(lines); got != len(want) {
		t.Errorf("got %d lines, want %d:\n%s", got, len(want), err)
	}
	for _, line := range lines {
		name, _, _ := strings.Cut(line, ":")
		if w, ok := want[name]; !ok || line != w {
			t.Errorf("line %q, want %q", line, w)
		}
	}

	// Demo mode fills these itself.
	cfg.Demo = true
	if err := cfg.Validate(); err != nil {
		t.Errorf("demo Validate: %v", err)
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		drop []string
		want string // a substring of the single problem line
	}{
		{"listen", map[string]string{"SMTPDESK_LISTEN": "8080"}, nil, `SMTPDESK_LISTEN: "8080" is not host:port; use e.g. SMTPDESK_LISTEN=:8080`},
		{"base url http", map[string]string{"SMTPDESK_BASE_URL": "http://smtp-desk.corp.example"}, nil, `SMTPDESK_BASE_URL: "http://smtp-desk.corp.example" must use https (http is allowed on loopback only)`},
		{"base url relative", map[string]string{"SMTPDESK_BASE_URL": "smtp-desk"}, nil, `SMTPDESK_BASE_URL: "smtp-desk" is not an absolute URL`},
		{"issuer http", map[string]string{"OIDC_ISSUER": "http://login.corp.example"}, nil, `OIDC_ISSUER: "http://login.corp.example" must use https`},
		{"key twice", map[string]string{"MAILGUN_API_KEY_FILE": "/x"}, nil, "MAILGUN_API_KEY: both MAILGUN_API_KEY and MAILGUN_API_KEY_FILE are set; set exactly one"},
		{"key file missing", map[string]string{"MAILGUN_API_KEY_FILE": "/nonexistent/mg"}, []string{"MAILGUN_API_KEY"}, `MAILGUN_API_KEY_FILE: cannot read "/nonexistent/mg"`},
		{"secret twice", map[string]string{"OIDC_CLIENT_SECRET_FILE": "/x"}, nil, "OIDC_CLIENT_SECRET: both OIDC_CLIENT_SECRET and OIDC_CLIENT_SECRET_FILE are set"},
		{"region", map[string]string{"MAILGUN_REGION": "asia"}, nil, `MAILGUN_REGION: "asia" is not a region; use us or eu (e.g. MAILGUN_REGION=eu)`},
		{"region and base", map[string]string{"MAILGUN_REGION": "eu", "MAILGUN_BASE_URL": "http://127.0.0.1:8025"}, nil, "MAILGUN_REGION: set together with MAILGUN_BASE_URL; set only one of them"},
		{"base url bad", map[string]string{"MAILGUN_BASE_URL": "ftp://x"}, nil, `MAILGUN_BASE_URL: "ftp://x" is not an absolute URL`},
		{"base url with the API version", map[string]string{"MAILGUN_BASE_URL": "https://api.eu.mailgun.net/v3/"}, nil, `MAILGUN_BASE_URL: "https://api.eu.mailgun.net/v3" ends in /v3; give the API's base without a version`},
		{"mailgun over plain http", map[string]string{"MAILGUN_BASE_URL": "http://mailgun-proxy.corp.example"}, nil, `MAILGUN_BASE_URL: "http://mailgun-proxy.corp.example" must use https (http is allowed on loopback only)`},
		{"base url with a path", map[string]string{"SMTPDESK_BASE_URL": "https://corp.example/smtp-desk"}, nil, `SMTPDESK_BASE_URL: "https://corp.example/smtp-desk" has a path or query`},
		{"base url with a query", map[string]string{"SMTPDESK_BASE_URL": "https://corp.example/?x=1"}, nil, `SMTPDESK_BASE_URL: "https://corp.example/?x=1" has a path or query`},
		{"base url ending in ?", map[string]string{"SMTPDESK_BASE_URL": "https://corp.example?"}, nil, `SMTPDESK_BASE_URL: "https://corp.example?" has a path or query`},
		{"base url ending in #", map[string]string{"SMTPDESK_BASE_URL": "https://corp.example#"}, nil, `SMTPDESK_BASE_URL: "https://corp.example#" has a path or query`},
		{"mailgun base with a query", map[string]string{"MAILGUN_BASE_URL": "https://api.mailgun.net?token=x"}, nil, `MAILGUN_BASE_URL: "https://api.mailgun.net" is followed by a query or fragment (?…); leave it out`},
		{"mailgun base with a fragment", map[string]string{"MAILGUN_BASE_URL": "https://api.mailgun.net/#frag"}, nil, `MAILGUN_BASE_URL: "https://api.mailgun.net/" is followed by a query or fragment (#…)`},
		{"mailgun base ending in ?", map[string]string{"MAILGUN_BASE_URL": "http://127.0.0.1:8025?"}, nil, `MAILGUN_BASE_URL: "http://127.0.0.1:8025" is followed by a query or fragment (?…)`},
		{"issuer with a query", map[string]string{"OIDC_ISSUER": "https://login.corp.example?tenant=acme"}, nil, `OIDC_ISSUER: "https://login.corp.example" is followed by a query or fragment (?…); leave it out; set it to your identity provider's issuer URL`},
		{"issuer with a fragment", map[string]string{"OIDC_ISSUER": "https://login.corp.example/realms/corp#x"}, nil, `OIDC_ISSUER: "https://login.corp.example/realms/corp" is followed by a query or fragment (#…)`},
		{"base url with an impossible port", map[string]string{"SMTPDESK_BASE_URL": "https://corp.example:99999"}, nil, `SMTPDESK_BASE_URL: "https://corp.example:99999" has no usable port (1 to 65535)`},
		{"issuer with port 0", map[string]string{"OIDC_ISSUER": "https://login.corp.example:0"}, nil, `OIDC_ISSUER: "https://login.corp.example:0" has no usable port (1 to 65535)`},
		{"retention past a duration's range", map[string]string{"AUDIT_RETENTION": "213505d"}, nil, `AUDIT_RETENTION: "213505d" is more days than SMTP Desk can count (at most 106751d)`},
		{"retention far past a duration's range", map[string]string{"AUDIT_RETENTION": "1000000d"}, nil, `AUDIT_RETENTION: "1000000d" is more days than SMTP Desk can count`},
		{"retention past a duration's range in hours", map[string]string{"AUDIT_RETENTION": "2562047h47m16s"}, nil, `AUDIT_RETENTION: "2562047h47m16s" is more days than SMTP Desk can count (at most 106751d)`},
		// The largest duration: a session's idle limit and its cookie's age, a minute more,
		// wrapped negative, and every session ended at its next request.
		{"max age past what SMTP Desk adds to", map[string]string{"SESSION_MAX_AGE": "2562047h47m16s"}, nil, `SESSION_MAX_AGE: "2562047h47m16s" is more days than SMTP Desk can count (at most 106751d); use e.g. SESSION_MAX_AGE=12h`},
		{"idle past what SMTP Desk adds to", map[string]string{"SESSION_IDLE_TIMEOUT": "2562047h", "SESSION_MAX_AGE": "106751d"}, nil, `SESSION_IDLE_TIMEOUT: "2562047h" is more days than SMTP Desk can count (at most 106751d)`},
		{"mailgun timeout in too many days", map[string]string{"MAILGUN_TIMEOUT": "106752d"}, nil, `MAILGUN_TIMEOUT: "106752d" is more days than SMTP Desk can count (at most 106751d); use e.g. MAILGUN_TIMEOUT=15s`},
		{"retention in minutes", map[string]string{"AUDIT_RETENTION": "6m"}, nil, `AUDIT_RETENTION: "6m" is shorter than a day (m is minutes)`},
		// Issue 8: /metrics without a token only on a loopback-only address.
		{"metrics on every interface", map[string]string{"METRICS_ADDR": ":9090"}, nil, `METRICS_ADDR: ":9090" is not a loopback address; it serves /metrics without a token`},
		{"metrics on a routable address", map[string]string{"METRICS_ADDR": "10.1.2.3:9090"}, nil, `METRICS_ADDR: "10.1.2.3:9090" is not a loopback address`},
		{"metrics on a host name", map[string]string{"METRICS_ADDR": "metrics.corp.example:9090"}, nil, `METRICS_ADDR: "metrics.corp.example:9090" is not a loopback address`},
		{"pprof off loopback", map[string]string{"METRICS_ADDR": "0.0.0.0:9090", "METRICS_PPROF": "true"}, nil, `METRICS_ADDR: "0.0.0.0:9090" is not a loopback address; it serves /metrics without a token (and Go's profiler, with METRICS_PPROF)`},
		{"timeout", map[string]string{"MAILGUN_TIMEOUT": "soon"}, nil, `MAILGUN_TIMEOUT: "soon" is not a positive duration; use e.g. MAILGUN_TIMEOUT=15s`},
		{"scopes", map[string]string{"OIDC_SCOPES": "email"}, nil, "OIDC_SCOPES: must include openid"},
		{"scopes with commas", map[string]string{"OIDC_SCOPES": "openid,email,groups"}, nil, `OIDC_SCOPES: "openid,email,groups": scopes are separated by spaces, not commas`},
		{"short key", map[string]string{"SESSION_KEYS": base64.StdEncoding.EncodeToString([]byte("short"))}, nil, "SESSION_KEYS: key 1 is 5 bytes, want at least 32; generate one with: openssl rand -base64 32"},
		{"bad key", map[string]string{"SESSION_KEYS": key(0) + ",not*base64"}, nil, "SESSION_KEYS: key 2 is not base64"},
		// openssl rand -base64 64: one key, on two lines of 64 and 24 characters.
		{"long key broken over two lines", map[string]string{"SESSION_KEYS": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 48)) + "\n" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16))}, nil, "SESSION_KEYS: key 2 is 16 bytes, want at least 32; a line break separates keys, as a comma does, and openssl rand -base64 breaks lines after 64 characters"},
		{"idle", map[string]string{"SESSION_IDLE_TIMEOUT": "-1m"}, nil, `SESSION_IDLE_TIMEOUT: "-1m" is not a positive duration`},
		{"idle > max", map[string]string{"SESSION_IDLE_TIMEOUT": "13h"}, nil, "SESSION_IDLE_TIMEOUT: 13h0m0s is longer than SESSION_MAX_AGE 12h0m0s"},
		{"max", map[string]string{"SESSION_MAX_AGE": "x"}, nil, `SESSION_MAX_AGE: "x" is not a positive duration`},
		{"policy missing file", map[string]string{"POLICY_FILE": "/nonexistent/policy.yaml"}, nil, `POLICY_FILE: "/nonexistent/policy.yaml" is not a readable file`},
		{"database", map[string]string{"DATABASE_URL": "mysql://x"}, nil, "DATABASE_URL: unsupported URL"},
		{"database scheme in capitals", map[string]string{"DATABASE_URL": "Postgres://u:key-supersecret@db:5432/x"}, nil, "DATABASE_URL: starts like a PostgreSQL URL but not with postgres://"},
		{"database scheme with one slash", map[string]string{"DATABASE_URL": "postgresql:/u:key-supersecret@db:5432/x"}, nil, "DATABASE_URL: starts like a PostgreSQL URL but not with postgres://"},
		{"database password not encoded", map[string]string{"DATABASE_URL": "postgres://u:key-super#secret@db:5432/x"}, nil, "DATABASE_URL: is not a valid URL; percent-encode"},
		{"database password with a stray %", map[string]string{"DATABASE_URL": "postgres://u:key-super%zzsecret@db:5432/x"}, nil, "DATABASE_URL: is not a valid URL; percent-encode"},
		{"database keyword/value", map[string]string{"DATABASE_URL": "host=db user=smtpdesk password=key-supersecret dbname=smtpdesk"}, nil, "DATABASE_URL: looks like a PostgreSQL keyword/value string"},
		{"mailgun url with a key", map[string]string{"MAILGUN_BASE_URL": "https://api:key-supersecret@api.mailgun.net"}, nil, `MAILGUN_BASE_URL: "https://…@api.mailgun.net" holds a user name or password`},
		{"mailgun url with a key, unparsable", map[string]string{"MAILGUN_BASE_URL": "https://api:key-super%zzsecret@api.mailgun.net"}, nil, `MAILGUN_BASE_URL: "https://…@api.mailgun.net" is not an absolute URL`},
		{"mailgun url with a slash in the key", map[string]string{"MAILGUN_BASE_URL": "https://api:key-super/secret@api.mailgun.net"}, nil, `MAILGUN_BASE_URL: "https://…@api.mailgun.net" is not an absolute URL`},
		{"issuer with a password", map[string]string{"OIDC_ISSUER": "https://me:oidc-supersecret@login.corp.example"}, nil, `OIDC_ISSUER: "https://…@login.corp.example" holds a user name or password`},
		{"proxies", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,nope"}, nil, `TRUSTED_PROXIES: "nope" is not a CIDR or IP address`},
		{"level", map[string]string{"LOG_LEVEL": "loud"}, nil, `LOG_LEVEL: "loud" is not a level; use debug, info, warn or error`},
		{"format", map[string]string{"LOG_FORMAT": "xml"}, nil, `LOG_FORMAT: "xml" is not a format; use json or text`},
		{"age", map[string]string{"AGE_WARNING_DAYS": "0"}, nil, `AGE_WARNING_DAYS: "0" is not a whole number of at least 1`},
		// Fifteen nines, meant as "never": the cutoff, today less that many days, wrapped around
		// to a date in the future, and every login was flagged as due for rotation.
		{"age past what a date holds", map[string]string{"AGE_WARNING_DAYS": "999999999999999"}, nil, `AGE_WARNING_DAYS: "999999999999999" is more days than SMTP Desk can count (at most 106751)`},
		{"age one day too many", map[string]string{"AGE_WARNING_DAYS": "106752"}, nil, `AGE_WARNING_DAYS: "106752" is more days than SMTP Desk can count (at most 106751)`},
		{"retention", map[string]string{"AUDIT_RETENTION": "forever"}, nil, `AUDIT_RETENTION: "forever" is not a duration`},
		{"max age past what a duration holds", map[string]string{"SESSION_MAX_AGE": "99999999d"}, nil, `SESSION_MAX_AGE: "99999999d" is more days than SMTP Desk can count`},
		{"actions", map[string]string{"RATE_LIMIT_ACTIONS": "many"}, nil, `RATE_LIMIT_ACTIONS: "many" is not a whole number`},
		{"signin", map[string]string{"RATE_LIMIT_SIGNIN": "-3"}, nil, `RATE_LIMIT_SIGNIN: "-3" is not a whole number`},
		{"exports", map[string]string{"RATE_LIMIT_EXPORTS": "0"}, nil, `RATE_LIMIT_EXPORTS: "0" is not a whole number of at least 1; use e.g. RATE_LIMIT_EXPORTS=10`},
		{"metrics addr", map[string]string{"METRICS_ADDR": "9090"}, nil, `METRICS_ADDR: "9090" is not host:port`},
		{"pprof value", map[string]string{"METRICS_ADDR": "127.0.0.1:9090", "METRICS_PPROF": "yes please"}, nil, `METRICS_PPROF: "yes please" is not true or false`},
		{"pprof without addr", map[string]string{"METRICS_PPROF": "true"}, nil, `METRICS_PPROF: the profiler is served only on METRICS_ADDR`},
		{"gzip value", map[string]string{"HTTP_GZIP": "sometimes"}, nil, `HTTP_GZIP: "sometimes" is not true or false; use e.g. HTTP_GZIP=false`},
		// Named with the rest before the database is opened, not as net.Listen's "invalid port".
		{"listen port out of range", map[string]string{"SMTPDESK_LISTEN": "127.0.0.1:99999"}, nil, `SMTPDESK_LISTEN: "127.0.0.1:99999" has no usable port (a number from 0 to 65535); use e.g. SMTPDESK_LISTEN=:8080`},
		// Go listens on a service name, but no URL can name it: the container's health check
		// (web healthcheck) failed for good.
		{"listen port a service name", map[string]string{"SMTPDESK_LISTEN": "127.0.0.1:http"}, nil, `SMTPDESK_LISTEN: "127.0.0.1:http" has no usable port`},
		{"listen port signed", map[string]string{"SMTPDESK_LISTEN": "127.0.0.1:+80"}, nil, `SMTPDESK_LISTEN: "127.0.0.1:+80" has no usable port`},
		// A malformed duration is named once: its default in place is not compared with the other.
		{"idle malformed, max age short", map[string]string{"SESSION_MAX_AGE": "10m", "SESSION_IDLE_TIMEOUT": "15"}, nil, `SESSION_IDLE_TIMEOUT: "15" is not a positive duration`},
		{"metrics on the pages' port, as localhost", map[string]string{"SMTPDESK_LISTEN": "127.0.0.1:8090", "METRICS_ADDR": "localhost:8090"}, nil, `METRICS_ADDR: "localhost:8090" is the address SMTP Desk serves its pages on (127.0.0.1:8090)`},
		// Go's runtime reads GOGC untrimmed, in 32 bits, and took these as 100.
		{"gogc with a space", map[string]string{"GOGC": " 50"}, nil, `GOGC: " 50" is not a whole percentage`},
		{"gogc off with a space", map[string]string{"GOGC": "off "}, nil, `GOGC: "off " is not a whole percentage`},
		{"gogc past 32 bits", map[string]string{"GOGC": "3000000000"}, nil, `GOGC: "3000000000" is not a whole percentage`},
		{"listen port not a port", map[string]string{"SMTPDESK_LISTEN": ":eighty"}, nil, `SMTPDESK_LISTEN: ":eighty" has no usable port`},
		{"metrics port out of range", map[string]string{"METRICS_ADDR": "127.0.0.1:70000"}, nil, `METRICS_ADDR: "127.0.0.1:70000" has no usable port`},
		// Refused as the listen port's is (validPort): the message must not offer a service name.
		{"metrics port a service name", map[string]string{"METRICS_ADDR": "127.0.0.1:http"}, nil, `METRICS_ADDR: "127.0.0.1:http" has no usable port (a number from 0 to 65535); use e.g. METRICS_ADDR=127.0.0.1:9090`},
		// Start-up blamed "another program" for SMTP Desk's own main listener.
		{"metrics on the pages' address", map[string]string{"SMTPDESK_LISTEN": "127.0.0.1:8090", "METRICS_ADDR": "127.0.0.1:8090"}, nil, `METRICS_ADDR: "127.0.0.1:8090" is the address SMTP Desk serves its pages on (127.0.0.1:8090); give /metrics a port of its own`},
		{"metrics on the pages' port, every interface", map[string]string{"METRICS_ADDR": "127.0.0.1:8080"}, nil, `METRICS_ADDR: "127.0.0.1:8080" is the address SMTP Desk serves its pages on (:8080)`},
		// Go's runtime took these as 100 without a word.
		{"support with a line break", map[string]string{"SMTPDESK_SUPPORT": "the mail team\n#mail-ops"}, nil, `SMTPDESK_SUPPORT: it holds a control character`},
		{"support too long", map[string]string{"SMTPDESK_SUPPORT": strings.Repeat("é", 201)}, nil, `SMTPDESK_SUPPORT: it is 201 characters long, more than the 200`},
		{"support not UTF-8", map[string]string{"SMTPDESK_SUPPORT": "mail\xfeteam"}, nil, `SMTPDESK_SUPPORT: it is not valid UTF-8`},
		{"gogc not a number", map[string]string{"GOGC": "abc"}, nil, `GOGC: "abc" is not a whole percentage; use e.g. GOGC=200`},
		{"gogc a fraction", map[string]string{"GOGC": "150.5"}, nil, `GOGC: "150.5" is not a whole percentage`},
		// The driver refused it at start-up, followed by advice to check that the server runs.
		{"connect_timeout not a number", map[string]string{"DATABASE_URL": "postgres://u:secret-pw@db:5432/smtpdesk?connect_timeout=abc"}, nil, `DATABASE_URL: its connect_timeout "abc" is not a whole number of seconds; use e.g. ?connect_timeout=5`},
		{"connect_timeout negative", map[string]string{"DATABASE_URL": "postgres://u:secret-pw@db:5432/smtpdesk?connect_timeout=-1"}, nil, `DATABASE_URL: its connect_timeout "-1" is not a whole number of seconds`},
		// Below: values just past a limit, and checks no row above reaches.
		{"actions zero", map[string]string{"RATE_LIMIT_ACTIONS": "0"}, nil, `RATE_LIMIT_ACTIONS: "0" is not a whole number of at least 1`},
		{"timeout zero", map[string]string{"MAILGUN_TIMEOUT": "0s"}, nil, `MAILGUN_TIMEOUT: "0s" is not a positive duration`},
		{"retention negative", map[string]string{"AUDIT_RETENTION": "-5d"}, nil, `AUDIT_RETENTION: "-5d" is not a duration`},
		// Multiplied out, -1000000d wraps around to some 67 days: retention would delete the rest.
		{"retention far below a duration's range", map[string]string{"AUDIT_RETENTION": "-1000000d"}, nil, `AUDIT_RETENTION: "-1000000d" is more days than SMTP Desk can count`},
		{"max age far below a duration's range", map[string]string{"SESSION_MAX_AGE": "-1000000d"}, nil, `SESSION_MAX_AGE: "-1000000d" is not a positive duration`},
		{"base url with the API's v4", map[string]string{"MAILGUN_BASE_URL": "https://api.mailgun.net/v4"}, nil, `MAILGUN_BASE_URL: "https://api.mailgun.net/v4" ends in /v4`},
		{"policy file a directory", map[string]string{"POLICY_FILE": "/"}, nil, `POLICY_FILE: "/" is not a readable file`},
		{"metrics on the pages' port, metrics on every interface", map[string]string{"SMTPDESK_LISTEN": "127.0.0.1:8090", "METRICS_ADDR": "0.0.0.0:8090"}, nil, `METRICS_ADDR: "0.0.0.0:8090" is the address SMTP Desk serves its pages on`},
		{"key one byte short", map[string]string{"SESSION_KEYS": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 31))}, nil, "SESSION_KEYS: key 1 is 31 bytes, want at least 32"},
		{"keys only separators", map[string]string{"SESSION_KEYS": ", ,"}, nil, "SESSION_KEYS: no keys; generate one with: openssl rand -base64 32"},
		// The user part is cut at its last "@": a password holding one is hidden whole.
		{"mailgun url with an @ in the key", map[string]string{"MAILGUN_BASE_URL": "https://api:pw@key-supersecret@api.mailgun.net"}, nil, `MAILGUN_BASE_URL: "https://…@api.mailgun.net" `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid(t)
			for k, v := range tt.set {
				m[k] = v
			}
			for _, k := range tt.drop {
				delete(m, k)
			}
			cfg, err := Load(env(m))
			err = errors.Join(err, cfg.Validate())
			if err == nil {
				t.Fatalf("no problem reported, want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tt.want) {
				t.Errorf("problems:\n%s\nwant one line starting %q", err, tt.want)
			}
			for _, s := range []string{"key-supersecret", "oidc-supersecret", "super"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("problem message leaks a secret: %s", err)
				}
			}
		})
	}
}

// TestRetentionZeroKeepsForever: 0 keeps the audit trail forever, written as a duration too
// ("0s", "0d"), which was refused as "shorter than a day".
func TestRetentionZeroKeepsForever(t *testing.T) {
	for _, v := range []string{"0", "0s", "0d", "0h"} {
		m := valid(t)
		m["AUDIT_RETENTION"] = v
		cfg, err := Load(env(m))
		if err = errors.Join(err, cfg.Validate()); err != nil || cfg.AuditRetention != 0 {
			t.Errorf("AUDIT_RETENTION=%s: retention %v, err %v; want 0 (forever) and no problem", v, cfg.AuditRetention, err)
		}
	}
}

// TestMappedTrustedProxies: a proxy written as an IPv4-mapped IPv6 address or prefix is the
// IPv4 one, which the peer address (unmapped) is matched against: kept as IPv6 it never matched.
func TestMappedTrustedProxies(t *testing.T) {
	m := valid(t)
	m["TRUSTED_PROXIES"] = "::ffff:10.0.0.1,::ffff:192.168.0.0/112,2001:db8::/32"
	cfg, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(cfg.TrustedProxies), "[10.0.0.1/32 192.168.0.0/16 2001:db8::/32]"; got != want {
		t.Errorf("proxies = %s, want %s", got, want)
	}
}

// TestDemoListenHint: a malformed -addr in the demo is answered with an address the demo takes
// (loopback), not ":8080", which it then refuses.
func TestDemoListenHint(t *testing.T) {
	for _, addr := range []string{"8081", "127.0.0.1:99999"} {
		cfg := Config{Demo: true, Listen: addr, ListenFlag: true, DatabaseURL: "x.db", OIDC: OIDC{Scopes: []string{"openid"}}, Session: Session{IdleTimeout: time.Minute, MaxAge: time.Hour}}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "use e.g. -addr 127.0.0.1:8080") {
			t.Errorf("-addr %s in the demo: %v, want the hint -addr 127.0.0.1:8080", addr, err)
		}
	}
}

func TestDemoListenLoopbackOnly(t *testing.T) {
	cfg := Config{Demo: true, Listen: "0.0.0.0:8080", DatabaseURL: "x.db", OIDC: OIDC{Scopes: []string{"openid"}}, Session: Session{IdleTimeout: time.Minute, MaxAge: time.Hour}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "demo mode listens on loopback only") {
		t.Errorf("Validate = %v, want loopback-only problem", err)
	}
	cfg.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
}

func TestLoopbackHTTPAllowed(t *testing.T) {
	m := valid(t)
	m["SMTPDESK_BASE_URL"] = "http://127.0.0.1:8080"
	m["OIDC_ISSUER"] = "http://localhost:9999"
	cfg, err := Load(env(m))
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Errorf("loopback http: %v", err)
	}
}

// TestSecretsRedacted: neither String, %#v, LogValue nor JSON shows a secret.
func TestSecretsRedacted(t *testing.T) {
	m := valid(t)
	m["METRICS_TOKEN"] = "metrics-supersecret"
	m["DATABASE_URL"] = "postgres://u:dbpass-supersecret@db/x"
	cfg, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "key", cfg.Mailgun.APIKey)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String": cfg.String(),
		"%v":     fmt.Sprintf("%v", cfg),
		"%+v":    fmt.Sprintf("%+v", cfg),
		"%#v":    fmt.Sprintf("%#v", cfg),
		"slog":   logged.String(),
		"json":   string(js),
	}
	raw, _ := base64.StdEncoding.DecodeString(key(0))
	for name, out := range outputs {
		for _, s := range []string{"key-supersecret", "oidc-supersecret", "metrics-supersecret", "dbpass-supersecret", key(0), string(raw), cfg.Session.Keys[0].Hash.Reveal()} {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains a secret %q:\n%s", name, s, out)
			}
		}
	}
	if !strings.Contains(outputs["slog"], "https://smtp-desk.corp.example") {
		t.Errorf("slog output lacks the base URL: %s", outputs["slog"])
	}
}

// TestURLPasswordsNotLogged: Validate refuses a user name or password in a URL setting, but a
// configuration that has not passed it yet (its problems being reported, say) still must not
// print one in String or the log.
func TestURLPasswordsNotLogged(t *testing.T) {
	m := valid(t)
	m["MAILGUN_BASE_URL"] = "https://api:mgurl-supersecret@api.mailgun.net"
	m["OIDC_ISSUER"] = "https://me:issuer-supersecret@login.corp.example"
	m["SMTPDESK_BASE_URL"] = "https://me:base-supersecret@smtp-desk.corp.example"
	cfg, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg)
	for name, out := range map[string]string{"String": cfg.String(), "%v": fmt.Sprintf("%v", cfg), "slog": logged.String()} {
		if strings.Contains(out, "supersecret") || strings.Contains(out, "me:") {
			t.Errorf("%s output shows a URL's password:\n%s", name, out)
		}
		if !strings.Contains(out, "https://…@api.mailgun.net") {
			t.Errorf("%s output lacks the Mailgun host:\n%s", name, out)
		}
	}
}

func TestVarsDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Vars() {
		if v.Name == "" || v.Example == "" || v.Help == "" {
			t.Errorf("incomplete Var %+v", v)
		}
		if seen[v.Name] {
			t.Errorf("duplicate Var %s", v.Name)
		}
		seen[v.Name] = true
	}
	// Every variable Load reads must be documented.
	read := map[string]bool{}
	_, _ = Load(func(k string) string { read[k] = true; return "" })
	for k := range read {
		if !seen[k] {
			t.Errorf("Load reads %s but Vars does not document it", k)
		}
	}
	for k := range seen {
		if !read[k] {
			t.Errorf("Vars documents %s but Load does not read it", k)
		}
	}
}

// TestIssuerKeptExactly: the issuer is compared with the provider's discovery document as a
// string, so a trailing "/" is the provider's business and stays.
func TestIssuerKeptExactly(t *testing.T) {
	for _, iss := range []string{"https://tenant.auth0.com/", "https://login.corp.example"} {
		m := valid(t)
		m["OIDC_ISSUER"] = iss
		cfg, err := Load(env(m))
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil || cfg.OIDC.Issuer != iss {
			t.Errorf("OIDC_ISSUER=%s: issuer %q, %v; want it as given", iss, cfg.OIDC.Issuer, err)
		}
	}
}

// TestEverySecretFromAFile: the metrics token and the database URL (which may carry a password)
// can come from files too, as the README says of every secret; the files' trailing newline is
// not part of the value.
func TestEverySecretFromAFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	m := valid(t)
	delete(m, "DATABASE_URL")
	m["METRICS_TOKEN_FILE"] = write("token", "m3tr1cs")
	m["DATABASE_URL_FILE"] = write("dsn", "postgres://smtpdesk:pw@db:5432/smtpdesk")
	cfg, err := Load(env(m))
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.MetricsToken.Reveal(); got != "m3tr1cs" {
		t.Errorf("metrics token %q, want the file's", got)
	}
	if got := cfg.DatabaseURL.Reveal(); got != "postgres://smtpdesk:pw@db:5432/smtpdesk" {
		t.Errorf("database URL %q, want the file's", got)
	}
	m["METRICS_TOKEN"] = "also"
	if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "both METRICS_TOKEN and METRICS_TOKEN_FILE are set") {
		t.Errorf("token and token file both set: %v, want a problem", err)
	}
}

// databaseShown loads a valid configuration with DATABASE_URL=dsn and returns what String,
// DatabaseRedacted and the log show of it.
func databaseShown(t *testing.T, dsn string) map[string]string {
	t.Helper()
	m := valid(t)
	m["DATABASE_URL"] = dsn
	cfg, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg)
	return map[string]string{"String": cfg.String(), "DatabaseRedacted": cfg.DatabaseRedacted(), "slog": logged.String()}
}

// TestDatabaseQueryPasswordNotLogged: pgx takes a password (and sslpassword, the client key's)
// from the database URL's query as well as from its user part; String and the log show neither.
func TestDatabaseQueryPasswordNotLogged(t *testing.T) {
	for _, dsn := range []string{
		"postgres://smtpdesk@db:5432/smtpdesk?sslmode=verify-full&password=dbq-supersecret",
		"postgresql://smtpdesk@db/smtpdesk?sslpassword=dbq-supersecret&sslmode=require",
		"postgres://smtpdesk:dbu-supersecret@db/smtpdesk?PASSWORD=dbq-supersecret",
		"postgres://smtpdesk@db/smtpdesk?pass%77ord=dbq-supersecret",
		"postgres://smtpdesk@db/smtpdesk?password=dbq-supersecret%zz",
	} {
		for name, out := range databaseShown(t, dsn) {
			if strings.Contains(out, "supersecret") {
				t.Errorf("DATABASE_URL=%s: %s output shows the password:\n%s", dsn, name, out)
			}
			if !strings.Contains(out, "db") {
				t.Errorf("DATABASE_URL=%s: %s output lacks the database host:\n%s", dsn, name, out)
			}
		}
	}
	// What holds no password is shown as it is.
	m := valid(t)
	m["DATABASE_URL"] = "postgres://smtpdesk@db:5432/smtpdesk?sslmode=verify-full"
	cfg, _ := Load(env(m))
	if !strings.Contains(cfg.String(), "database=postgres://smtpdesk@db:5432/smtpdesk?sslmode=verify-full ") {
		t.Errorf("a DSN without a password is not shown as it is: %s", cfg.String())
	}
}

// TestSQLitePathShownAsWritten: a SQLite path is no URL, and the start-up log shows it as the
// operator wrote it (not percent-encoded).
func TestSQLitePathShownAsWritten(t *testing.T) {
	if got := redactDSN("/var/lib/smtp desk/smtpdesk.db"); got != "/var/lib/smtp desk/smtpdesk.db" {
		t.Errorf("redactDSN changed a SQLite path: %q", got)
	}
}

// TestAcceptedAtTheLimits: a value at a documented limit, or one spelt another way the
// settings allow, is taken without a problem and read as written.
func TestAcceptedAtTheLimits(t *testing.T) {
	urlKey := base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 11)) // "-_-_…"
	tests := []struct {
		name string
		set  map[string]string
		got  func(Config) any // nil: no problem is all there is to see
		want any
	}{
		{"log level warn", map[string]string{"LOG_LEVEL": "warn"}, func(c Config) any { return c.LogLevel }, slog.LevelWarn},
		{"log level warning", map[string]string{"LOG_LEVEL": "WARNING"}, func(c Config) any { return c.LogLevel }, slog.LevelWarn},
		{"log level error", map[string]string{"LOG_LEVEL": "error"}, func(c Config) any { return c.LogLevel }, slog.LevelError},
		{"age the most days", map[string]string{"AGE_WARNING_DAYS": "106751"}, func(c Config) any { return c.AgeWarningDays }, 106751},
		{"age one day", map[string]string{"AGE_WARNING_DAYS": "1"}, func(c Config) any { return c.AgeWarningDays }, 1},
		{"actions one", map[string]string{"RATE_LIMIT_ACTIONS": "1"}, func(c Config) any { return c.RateLimitActions }, 1},
		{"support of 200 characters", map[string]string{"SMTPDESK_SUPPORT": strings.Repeat("é", 200)}, func(c Config) any { return len([]rune(c.Support)) }, 200},
		{"retention one day", map[string]string{"AUDIT_RETENTION": "1d"}, func(c Config) any { return c.AuditRetention }, 24 * time.Hour},
		{"retention the most days", map[string]string{"AUDIT_RETENTION": "106751d"}, func(c Config) any { return c.AuditRetention }, 106751 * 24 * time.Hour},
		{"sessions the most days", map[string]string{"SESSION_IDLE_TIMEOUT": "106751d", "SESSION_MAX_AGE": "2562024h"}, func(c Config) any { return c.Session.IdleTimeout }, 106751 * 24 * time.Hour},
		{"idle as long as max age", map[string]string{"SESSION_IDLE_TIMEOUT": "12h"}, func(c Config) any { return c.Session.IdleTimeout }, 12 * time.Hour},
		{"gogc off", map[string]string{"GOGC": "off"}, nil, nil}, // the runtime's own, not kept in Config
		{"gogc negative", map[string]string{"GOGC": "-1"}, nil, nil},
		{"postgresql scheme", map[string]string{"DATABASE_URL": "postgresql://smtpdesk@db:5432/smtpdesk?connect_timeout=0"}, func(c Config) any { return c.DatabaseURL.Reveal() }, "postgresql://smtpdesk@db:5432/smtpdesk?connect_timeout=0"},
		{"listen on the highest port", map[string]string{"SMTPDESK_LISTEN": "127.0.0.1:65535"}, func(c Config) any { return c.ListenAddr() }, "127.0.0.1:65535"},
		// Port 0 picks a free port for each listener: they cannot clash.
		{"metrics and pages both on port 0", map[string]string{"SMTPDESK_LISTEN": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0"}, func(c Config) any { return c.MetricsAddr }, "127.0.0.1:0"},
		{"metrics on LOCALHOST", map[string]string{"METRICS_ADDR": "LOCALHOST:9090"}, func(c Config) any { return c.MetricsAddr }, "LOCALHOST:9090"},
		{"session key in the URL alphabet", map[string]string{"SESSION_KEYS": urlKey}, func(c Config) any { return len(c.Session.Keys) }, 1},
		{"proxy written unmasked", map[string]string{"TRUSTED_PROXIES": "10.1.2.3/8"}, func(c Config) any { return fmt.Sprint(c.TrustedProxies) }, "[10.0.0.0/8]"},
		// Every IPv4-mapped address is every IPv4 address.
		{"proxy every mapped address", map[string]string{"TRUSTED_PROXIES": "::ffff:0.0.0.0/96"}, func(c Config) any { return fmt.Sprint(c.TrustedProxies) }, "[0.0.0.0/0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid(t)
			for k, v := range tt.set {
				m[k] = v
			}
			cfg, err := Load(env(m))
			if err = errors.Join(err, cfg.Validate()); err != nil {
				t.Fatalf("problems: %v, want none", err)
			}
			if tt.got == nil {
				return
			}
			if got := tt.got(cfg); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSecureCookies: cookies get Secure and the __Host- prefix when the base URL is https, and
// only then.
func TestSecureCookies(t *testing.T) {
	for base, want := range map[string]bool{
		"https://smtp-desk.corp.example": true,
		"http://127.0.0.1:8080":          false,
		"":                               false,
	} {
		m := valid(t)
		m["SMTPDESK_BASE_URL"] = base
		cfg, err := Load(env(m))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Session.SecureCookies; got != want {
			t.Errorf("SMTPDESK_BASE_URL=%q: SecureCookies = %v, want %v", base, got, want)
		}
	}
}

// TestEmptySecretFile: a *_FILE naming an empty file is named itself, not reported as its
// variable missing.
func TestEmptySecretFile(t *testing.T) {
	for _, name := range []string{"MAILGUN_API_KEY", "OIDC_CLIENT_SECRET", "SESSION_KEYS"} {
		path := filepath.Join(t.TempDir(), "empty")
		if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		m := valid(t)
		delete(m, name)
		m[name+"_FILE"] = path
		cfg, err := Load(env(m))
		err = errors.Join(err, cfg.Validate())
		if want := fmt.Sprintf("%s_FILE: %q is empty", name, path); err == nil || err.Error() != want {
			t.Errorf("%s_FILE empty: problems %v, want exactly %q", name, err, want)
		}
	}
}

// TestValidateNonPositiveMaxAge: Validate checks a Config however it was built (Load never
// gives a zero max age); a zero one is named as such, not as an idle timeout longer than it.
func TestValidateNonPositiveMaxAge(t *testing.T) {
	cfg := Config{Demo: true, DatabaseURL: "x.db", OIDC: OIDC{Scopes: []string{"openid"}}, Session: Session{IdleTimeout: time.Minute}}
	err := cfg.Validate()
	if want := "SESSION_MAX_AGE: must be positive (e.g. SESSION_MAX_AGE=12h)"; err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want exactly %q", err, want)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost":              true,
		"LocalHost":              true,
		"127.0.0.1":              true,
		"127.9.9.9":              true,
		"::1":                    true,
		"[::1]":                  true,
		"localhost.corp.example": false,
		"10.0.0.1":               false,
		"0.0.0.0":                false,
		"":                       false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestDeriveSessionKeyKnownAnswer: the derivation is HKDF-SHA256 (RFC 5869, no salt) with one
// label per key, the values computed apart from Go. Any change to it signs every user out on
// upgrade, and a shared label would make the encryption key the signing key's first half.
func TestDeriveSessionKeyKnownAnswer(t *testing.T) {
	k, err := DeriveSessionKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ got, want string }{
		"hash":  {hex.EncodeToString([]byte(k.Hash.Reveal())), "32d4b2e9bbb0ed9fffed5092f90cff19ff4e482bfcd8592cdf93b5c4d8559aebf9404cffe1da2bbf9e8114dc218b872911876188ee9fd2aec204bc9c927ac834"},
		"block": {hex.EncodeToString([]byte(k.Block.Reveal())), "a7a1927a9f30ba4a3498788149ee4c6cb7abeedff3fd842ab698805ec3051195"},
	} {
		if c.got != c.want {
			t.Errorf("%s key = %s, want %s", name, c.got, c.want)
		}
	}
}

// TestUnreadableDatabaseURLNotLogged: a DATABASE_URL whose password cannot be told apart from
// the rest (a URL that does not parse; a keyword/value string, which Validate refuses and which
// parsed as a SQLite path, shown whole) is shown by String, LogValue and DatabaseRedacted with
// none of it: a configuration not yet validated shows no password, as TestURLPasswordsNotLogged
// holds for URLs.
func TestUnreadableDatabaseURLNotLogged(t *testing.T) {
	for dsn, secret := range map[string]string{
		"postgres://u:dbu-super%zzsecret@db:5432/x":                     "secret",
		"host=db user=smtpdesk password=kv-supersecret dbname=smtpdesk": "kv-supersecret",
	} {
		for name, out := range databaseShown(t, dsn) {
			if strings.Contains(out, secret) {
				t.Errorf("DATABASE_URL %q: %s output shows its password:\n%s", dsn, name, out)
			}
		}
	}
}

// TestBaseURLUserNamedHidden: SMTPDESK_BASE_URL with a user name and password is named once
// for it, redacted, and a path beside them is named too, the URL still redacted (the path
// check printed the value as given, password included, in the start-up error).
func TestBaseURLUserNamedHidden(t *testing.T) {
	for base, want := range map[string][]string{
		"https://me:base-supersecret@smtp-desk.corp.example": {
			`SMTPDESK_BASE_URL: "https://…@smtp-desk.corp.example" holds a user name or password`},
		"https://me:base-supersecret@smtp-desk.corp.example/desk": {
			`SMTPDESK_BASE_URL: "https://…@smtp-desk.corp.example/desk" holds a user name or password`,
			`SMTPDESK_BASE_URL: "https://…@smtp-desk.corp.example/desk" has a path or query`},
	} {
		m := valid(t)
		m["SMTPDESK_BASE_URL"] = base
		cfg, err := Load(env(m))
		err = errors.Join(err, cfg.Validate())
		if err == nil {
			t.Fatalf("%s: no problem reported", base)
		}
		if strings.Contains(err.Error(), "supersecret") {
			t.Errorf("%s: problems show the base URL's password:\n%s", base, err)
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != len(want) {
			t.Errorf("%s: got %d problem lines, want %d:\n%s", base, len(lines), len(want), err)
			continue
		}
		for i, w := range want {
			if !strings.HasPrefix(lines[i], w) {
				t.Errorf("%s: line %d = %q, want it to start %q", base, i+1, lines[i], w)
			}
		}
	}
}

// TestBaseURLOriginInLowerCase: the base URL's scheme and host are kept in lower case, as the
// sign-in's redirect_uri is made from them and providers compare it as a string with the one
// registered; a URL that is not an origin is left as given, for Validate to name.
func TestBaseURLOriginInLowerCase(t *testing.T) {
	for given, want := range map[string]string{
		"HTTPS://Smtp-Desk.Corp.Example/":     "https://smtp-desk.corp.example",
		"https://SMTP-DESK.corp.example:8443": "https://smtp-desk.corp.example:8443",
		"Http://127.0.0.1:8080":               "http://127.0.0.1:8080",
		"https://Corp.Example/Desk":           "https://Corp.Example/Desk",
		"https://Me:Pw@Corp.Example":          "https://Me:Pw@Corp.Example",
		"https://Corp.Example?X=1":            "https://Corp.Example?X=1",
	} {
		m := valid(t)
		m["SMTPDESK_BASE_URL"] = given
		cfg, _ := Load(env(m))
		if cfg.BaseURL != want {
			t.Errorf("SMTPDESK_BASE_URL=%s: BaseURL = %q, want %q", given, cfg.BaseURL, want)
		}
	}
}
