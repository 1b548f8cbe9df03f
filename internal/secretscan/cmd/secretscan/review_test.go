package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunScanEdges pins what the scan must find and must not report: the boundaries of the byte
// search (an 8-byte secret, offsets 0 and end of file, a prefix alone), every searched form, every
// secrets file, which files count as secrets files, the flags' limits and the exit status of usage
// and I/O errors.
func TestRunScanEdges(t *testing.T) {
	const key = "key-0123456789abcdef"
	const odd = "???>>>???" // its base64 has '/' and '+', its base64url '_' and '-'
	long := strings.Repeat("s", 70_000)
	tests := []struct {
		name       string
		secrets    string
		files      map[string]string
		args       []string // "DIR" stands for the scan directory
		wantCode   int
		wantOut    []string
		wantNotOut []string
		wantErr    string
	}{
		{name: "an 8-byte secret at the end of a file", secrets: "k\tABCDEFGH\n",
			files: map[string]string{"logs-1-T.log": "xx ABCDEFGH"}, wantCode: 1,
			wantOut: []string{"LEAK: a k (raw) in logs-1-T.log at offset 3 (1 times)", "1 secrets checked against 1 files: 1 leaks"}},
		{name: "a secret at offset 0", secrets: "k\tABCDEFGH\n",
			files: map[string]string{"logs-1-T.log": "ABCDEFGH tail"}, wantCode: 1,
			wantOut: []string{"LEAK: a k (raw) in logs-1-T.log at offset 0 (1 times)"}},
		{name: "a secret's first bytes alone are no leak", secrets: "k\t" + key + "\n",
			files: map[string]string{"logs-1-T.log": "key-0123456789abcdeX"}, wantCode: 0,
			wantOut: []string{"1 secrets checked against 1 files: clean"}},
		{name: "two occurrences: the first offset and the count", secrets: "k\t" + key + "\n",
			files: map[string]string{"logs-1-T.log": "a " + key + " b " + key}, wantCode: 1,
			wantOut: []string{"LEAK: a k (raw) in logs-1-T.log at offset 2 (2 times)"}},
		{name: "path-escaped", secrets: "k\tpass word 12345\n",
			files: map[string]string{"logs-1-T.log": "GET /u/pass%20word%2012345"}, wantCode: 1,
			wantOut: []string{"LEAK: a k (path-escaped) in logs-1-T.log at offset 7"}},
		{name: "standard base64", secrets: "k\t" + odd + "\n",
			files: map[string]string{"logs-1-T.log": "x=" + base64.StdEncoding.EncodeToString([]byte(odd+"a"))}, wantCode: 1,
			wantOut: []string{"LEAK: a k (base64) in logs-1-T.log at offset 2 (1 times)", "1 leaks"}},
		{name: "base64url", secrets: "k\t" + odd + "\n",
			files: map[string]string{"logs-1-T.log": "x=" + base64.URLEncoding.EncodeToString([]byte(odd))}, wantCode: 1,
			wantOut: []string{"LEAK: a k (base64url) in logs-1-T.log at offset 2 (1 times)", "1 leaks"}},
		{name: "a trailing = is part of the raw secret", secrets: "k\tabcdefgh12==\n",
			files: map[string]string{"logs-1-T.log": "abcdefgh12 and no more"}, wantCode: 0,
			wantOut: []string{"clean"}},
		{name: "-minlen below 8 still skips secrets shorter than 8 bytes", secrets: "short\tabcdef\nk\t" + key + "\n",
			files: map[string]string{"logs-1-T.log": base64.StdEncoding.EncodeToString([]byte("abcdef"))},
			args:  []string{"-minlen", "1", "DIR"}, wantCode: 0,
			wantOut: []string{"1 secrets shorter than 8 bytes not scanned", "1 secrets checked against 1 files: clean"}},
		{name: "-min counts only the secrets scanned", secrets: "short\tabc\n",
			args: []string{"-min", "1", "DIR"}, wantCode: 2, wantErr: "only 0 secrets recorded"},
		{name: "an empty value is no secret", secrets: "k\t\nk\t" + key + "\n",
			files: map[string]string{"logs-1-T.log": "clean"}, wantCode: 0,
			wantOut: []string{"1 secrets checked against 1 files: clean"}, wantNotOut: []string{"shorter than"}},
		{name: "every secrets file is read; a value in two is one secret", secrets: "k\t" + key + "\n",
			files: map[string]string{
				"secrets-2.txt": "k\t" + key + "\nother\tsecond-secret-value\n",
				"logs-2-T.log":  "second-secret-value",
			}, wantCode: 1,
			wantOut: []string{"LEAK: a other (raw) in logs-2-T.log at offset 0", "2 secrets checked against 1 files: 1 leaks"}},
		{name: "other .txt files and secrets-*.log files are scanned", secrets: "k\t" + key + "\n",
			files: map[string]string{"notes.txt": key, "secrets-old.log": key}, wantCode: 1,
			wantOut: []string{"in notes.txt at offset 0", "in secrets-old.log at offset 0", "1 secrets checked against 2 files: 2 leaks"}},
		{name: "no secrets and no files: clean by default", secrets: "", wantCode: 0,
			wantOut: []string{"0 secrets checked against 0 files: clean"}},
		{name: "a secret longer than 64 KiB", secrets: "k\t" + key + "\nlong\t" + long + "\n",
			files: map[string]string{"logs-1-T.log": "[" + long + "]"}, wantCode: 1,
			wantOut: []string{"LEAK: a long (raw) in logs-1-T.log at offset 1"}},
		{name: "a secrets line longer than 1 MiB is an error", secrets: "k\t" + key + "\nhuge\t" + strings.Repeat("h", 2<<20) + "\n",
			files: map[string]string{"logs-1-T.log": key}, wantCode: 2, wantErr: "secrets-1.txt"},
		{name: "a missing directory", args: []string{"DIR/missing"}, wantCode: 2, wantErr: "missing"},
		{name: "no directory", args: []string{}, wantCode: 2, wantErr: "usage: secretscan"},
		{name: "two directories", secrets: "k\t" + key + "\n", files: map[string]string{"logs-1-T.log": key},
			args: []string{"DIR", "DIR"}, wantCode: 2, wantErr: "usage: secretscan"},
		{name: "an unknown flag", args: []string{"-nosuch", "DIR"}, wantCode: 2, wantErr: "nosuch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := plant(t, tc.secrets, tc.files)
			args := []string{"DIR"}
			if tc.args != nil {
				args = tc.args
			}
			var expanded []string
			for _, a := range args {
				if a == "DIR" || strings.HasPrefix(a, "DIR/") {
					a = filepath.Join(dir, strings.TrimPrefix(a, "DIR"))
				}
				expanded = append(expanded, a)
			}
			var out, errOut bytes.Buffer
			if got := run(expanded, &out, &errOut); got != tc.wantCode {
				t.Fatalf("exit code %d, want %d; stdout:\n%s\nstderr:\n%s", got, tc.wantCode, out.String(), errOut.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.wantNotOut {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
			if !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, errOut.String())
			}
		})
	}
}

// TestRunLeakOrder pins the report: one line per pattern and file, sorted by file name (the base
// name, also for a file in a subdirectory, which is scanned too) and then offset, and the total
// count of leaks.
func TestRunLeakOrder(t *testing.T) {
	const (
		key = "key-0123456789abcdef"
		pw  = "Gen3ratedPassw0rd"
	)
	dir := plant(t, "key\t"+key+"\npw\t"+pw+"\n", map[string]string{
		"logs-1-B.log": "xx " + key + " yy " + pw,
		"logs-1-A.log": pw + " " + key,
	})
	if err := os.Mkdir(filepath.Join(dir, "a"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "z.log"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if got := run([]string{dir}, &out, &errOut); got != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", got, errOut.String())
	}
	got := out.String()
	want := "LEAK: a pw (raw) in logs-1-A.log at offset 0 (1 times)\n" +
		"LEAK: a key (raw) in logs-1-A.log at offset 18 (1 times)\n" +
		"LEAK: a key (raw) in logs-1-B.log at offset 3 (1 times)\n" +
		"LEAK: a pw (raw) in logs-1-B.log at offset 27 (1 times)\n" +
		"LEAK: a key (raw) in z.log at offset 0 (1 times)\n" +
		"2 secrets checked against 3 files: 5 leaks\n"
	if got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
}
