package main

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plant writes a scan directory: a secrets file and the given other files.
func plant(t *testing.T, secrets string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secrets-1.txt"), []byte(secrets), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRun(t *testing.T) {
	const (
		pw  = "Gen3ratedPassw0rd"
		key = "key-0123456789abcdef"
		sid = "session/id+with=odd?chars"
	)
	secrets := "generated password\t" + pw + "\nMailgun API key\t" + key + "\nsession id\t" + sid + "\nshort\tabc\ngiven password\t<pass>word1\n"
	cleanLog := `{"level":"INFO","msg":"credential created","login":"a@example.com"}` + "\n"
	tests := []struct {
		name      string
		files     map[string]string
		wantCode  int
		wantOut   []string
		wantNotIn string
	}{
		{"clean", map[string]string{"logs-1-TestA.log": cleanLog, "db-1-TestA-1-smtpdesk.db": "SQLite format 3\x00 abc"}, 0,
			[]string{"4 secrets checked against 2 files: clean", "1 secrets shorter than 8 bytes not scanned"}, ""},
		{"password in a log", map[string]string{"logs-1-TestA.log": cleanLog + `{"msg":"oops","pw":"` + pw + `"}`}, 1,
			[]string{"LEAK: a generated password (raw) in logs-1-TestA.log at offset", "4 secrets checked against 1 files: 1 leaks"}, pw},
		{"API key in a database", map[string]string{"db-1-TestB-1-smtpdesk.db-wal": "\x00\x01" + key + "\x00"}, 1,
			[]string{"LEAK: a Mailgun API key (raw) in db-1-TestB-1-smtpdesk.db-wal at offset 2 (1 times)"}, key},
		{"URL-escaped session id", map[string]string{"logs-1-TestC.log": "GET /x?s=" + url.QueryEscape(sid)}, 1,
			[]string{"LEAK: a session id (URL-escaped) in logs-1-TestC.log at offset 9"}, sid},
		{"base64 session id", map[string]string{"logs-1-TestD.log": "cookie=" + base64.RawURLEncoding.EncodeToString([]byte(sid))}, 1,
			[]string{"LEAK: a session id (base64", "in logs-1-TestD.log"}, sid},
		{"JSON-escaped password", map[string]string{"logs-1-TestE.log": `{"x":"a<b>c&d\u003cpass\u003eword1"}`}, 1,
			[]string{"LEAK: a given password (JSON-escaped) in logs-1-TestE.log at offset 13"}, ""},
		{"a password with a different case is no leak", map[string]string{"logs-1-TestF.log": strings.ToLower(pw)}, 0,
			[]string{"clean"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := plant(t, secrets, tc.files)
			var out, errOut bytes.Buffer
			if got := run([]string{dir}, &out, &errOut); got != tc.wantCode {
				t.Fatalf("exit code %d, want %d; stdout:\n%s\nstderr:\n%s", got, tc.wantCode, out.String(), errOut.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if tc.wantNotIn != "" && strings.Contains(out.String()+errOut.String(), tc.wantNotIn) {
				t.Errorf("the report prints the secret itself:\n%s", out.String())
			}
		})
	}
}

func TestRunMinSecrets(t *testing.T) {
	dir := plant(t, "api key\tkey-0123456789abcdef\n", nil)
	var out, errOut bytes.Buffer
	if got := run([]string{"-min", "2", dir}, &out, &errOut); got != 2 {
		t.Errorf("-min 2 with one secret: exit %d, want 2", got)
	}
	if got := run([]string{"-min", "1", dir}, &out, &errOut); got != 0 {
		t.Errorf("-min 1 with one secret: exit %d, want 0 (%s)", got, errOut.String())
	}
}

// TestRunMinFiles checks that -min-files fails a scan that kept fewer log or database files, so
// that a suite whose copies stopped being kept is not reported clean, and counts those files only.
func TestRunMinFiles(t *testing.T) {
	dir := plant(t, "api key\tkey-0123456789abcdef\n", map[string]string{"logs-1-T.log": "nothing secret"})
	var out, errOut bytes.Buffer
	if got := run([]string{"-min-files", "2", dir}, &out, &errOut); got != 2 || !strings.Contains(errOut.String(), "only 1 log or database files kept") {
		t.Errorf("-min-files 2 with one file: exit %d, want 2 naming the count (%s)", got, errOut.String())
	}
	errOut.Reset()
	if got := run([]string{"-min-files", "1", dir}, &out, &errOut); got != 0 {
		t.Errorf("-min-files 1 with one file: exit %d, want 0 (%s)", got, errOut.String())
	}
}

func TestRunBadSecretsFile(t *testing.T) {
	dir := plant(t, "no tab here\n", nil)
	var out, errOut bytes.Buffer
	if got := run([]string{dir}, &out, &errOut); got != 2 {
		t.Errorf("malformed secrets file: exit %d, want 2", got)
	}
}

// TestRunFindsEmbeddedBase64AndSlogEscapes checks that a secret inside a longer base64 text (the
// Mailgun key in "Authorization: Basic base64(api:key)", or followed by more bytes) and a secret
// as log/slog writes it (its JSON and text handlers leave <, > and & as they are) are leaks.
func TestRunFindsEmbeddedBase64AndSlogEscapes(t *testing.T) {
	const key = "key-0123456789abcdef"
	const given = `pa"ss<word>1`
	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("request", "password", given)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("request", "password", given)
	tests := []struct{ name, body, want string }{
		{"Basic auth header", "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("api:"+key)),
			"LEAK: a Mailgun API key (base64, 1 byte into a 3-byte group) in logs-1-T.log at offset 27"},
		{"base64 of the key and more", base64.StdEncoding.EncodeToString([]byte(key + "~")),
			"LEAK: a Mailgun API key (base64) in logs-1-T.log at offset 0"},
		{"base64url of more and the key", base64.URLEncoding.EncodeToString([]byte("ab" + key)),
			"LEAK: a Mailgun API key (base64, 2 bytes into a 3-byte group) in logs-1-T.log at offset 3"}, // the same characters in both alphabets
		{"slog JSON handler", jsonLog.String(), "LEAK: a given password (JSON-escaped as slog writes it) in logs-1-T.log"},
		{"slog text handler", textLog.String(), "LEAK: a given password (JSON-escaped as slog writes it) in logs-1-T.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := plant(t, "Mailgun API key\t"+key+"\ngiven password\t"+given+"\n", map[string]string{"logs-1-T.log": tt.body})
			var out, errOut bytes.Buffer
			if got := run([]string{dir}, &out, &errOut); got != 1 || !strings.Contains(out.String(), tt.want) {
				t.Errorf("exit %d, want 1 with %q:\n%s%s", got, tt.want, out.String(), errOut.String())
			}
		})
	}
}
