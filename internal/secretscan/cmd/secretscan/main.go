// Command secretscan checks a secret-scan directory left by the test suite (see package
// internal/secretscan): it reads every secret from the secrets-*.txt files and searches every
// other file in the directory (log copies, database copies) for each secret's bytes, and for its
// URL-escaped, JSON-escaped (as encoding/json and log/slog write it), Go-quoted, base64 and
// base64url forms (the base64 ones wherever the secret starts in the encoded bytes).
//
// Usage:
//
//	go run ./internal/secretscan/cmd/secretscan [-min N] [-min-files N] [-minlen N] DIR
//
// It prints "N secrets checked against M files: clean" and exits 0, or prints every hit (the
// secret's kind and form, the file and the byte offset, never the secret) and exits 1. It exits 2
// on a usage or I/O error, or when fewer than -min secrets were recorded or fewer than -min-files
// files kept: a scan of nothing must not pass as clean.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/smtpdesk/smtpdesk/internal/secretscan"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// secret is one recorded value.
type secret struct {
	kind  string
	value string
}

// pattern is one searchable form of a secret.
type pattern struct {
	secret int    // index into the secrets
	form   string // "raw", "URL-escaped", ...
	bytes  []byte
}

// hit is where a pattern was found first in a file.
type hit struct {
	kind, form, file string
	offset           int
	count            int
}

// prefixLen is how many leading bytes index a pattern; secrets shorter than it are not scanned.
const prefixLen = 8

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("secretscan", flag.ContinueOnError)
	fl.SetOutput(stderr)
	minSecrets := fl.Int("min", 0, "fail when fewer than this many secrets were recorded")
	minFiles := fl.Int("min-files", 0, "fail when fewer than this many log or database files were kept")
	minLen := fl.Int("minlen", prefixLen, "skip secrets shorter than this many bytes (at least 8)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: secretscan [-min N] [-min-files N] [-minlen N] DIR")
		return 2
	}
	if *minLen < prefixLen {
		*minLen = prefixLen
	}
	dir := fl.Arg(0)
	secrets, files, err := readDir(dir)
	if err != nil {
		fmt.Fprintf(stderr, "secretscan: %v\n", err)
		return 2
	}
	var scanned []secret
	skipped := 0
	for _, s := range secrets {
		if len(s.value) < *minLen {
			skipped++
			continue
		}
		scanned = append(scanned, s)
	}
	if skipped > 0 {
		fmt.Fprintf(stdout, "secretscan: %d secrets shorter than %d bytes not scanned\n", skipped, *minLen)
	}
	if len(scanned) < *minSecrets {
		fmt.Fprintf(stderr, "secretscan: only %d secrets recorded in %s, want at least %d: are the tests recording them?\n", len(scanned), dir, *minSecrets)
		return 2
	}
	if len(files) < *minFiles {
		fmt.Fprintf(stderr, "secretscan: only %d log or database files kept in %s, want at least %d: are the tests keeping them?\n", len(files), dir, *minFiles)
		return 2
	}

	idx := newIndex(scanned)
	var hits []hit
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "secretscan: %v\n", err)
			return 2
		}
		for _, h := range idx.scan(b) {
			h.file = filepath.Base(f)
			hits = append(hits, h)
		}
	}
	if len(hits) == 0 {
		fmt.Fprintf(stdout, "%d secrets checked against %d files: clean\n", len(scanned), len(files))
		return 0
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].file != hits[j].file {
			return hits[i].file < hits[j].file
		}
		return hits[i].offset < hits[j].offset
	})
	for _, h := range hits {
		fmt.Fprintf(stdout, "LEAK: a %s (%s) in %s at offset %d (%d times)\n", h.kind, h.form, h.file, h.offset, h.count)
	}
	fmt.Fprintf(stdout, "%d secrets checked against %d files: %d leaks\n", len(scanned), len(files), len(hits))
	return 1
}

// readDir returns the recorded secrets (deduplicated by value) and the files to scan.
func readDir(dir string) ([]secret, []string, error) {
	var secrets []secret
	seen := map[string]bool{}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		name := d.Name()
		if !strings.HasPrefix(name, secretscan.SecretsPrefix) || !strings.HasSuffix(name, secretscan.SecretsSuffix) {
			files = append(files, p)
			return nil
		}
		ss, err := readSecrets(p)
		if err != nil {
			return err
		}
		for _, s := range ss {
			if !seen[s.value] {
				seen[s.value] = true
				secrets = append(secrets, s)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", dir, err)
	}
	sort.Strings(files)
	return secrets, files, nil
}

// readSecrets parses one secrets file: "kind TAB value" a line.
func readSecrets(name string) ([]secret, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	var out []secret
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		kind, value, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not kind TAB value", filepath.Base(name), n)
		}
		if value != "" {
			out = append(out, secret{kind: kind, value: value})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	return out, nil
}

// forms returns the distinct ways a secret may be written down: as is, URL-escaped (query and
// path), JSON-escaped (by encoding/json, and as log/slog writes it, without HTML escapes),
// Go-quoted (slog's text handler), and in base64 and base64url wherever it starts in the encoded
// bytes (see base64Forms).
func forms(v string) [][2]string {
	js, _ := json.Marshal(v)
	var slogJSON strings.Builder
	enc := json.NewEncoder(&slogJSON)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a string always encodes
	sj := strings.TrimSuffix(slogJSON.String(), "\n")
	q := strconv.Quote(v)
	cands := [][2]string{
		{"raw", v},
		{"URL-escaped", url.QueryEscape(v)},
		{"path-escaped", url.PathEscape(v)},
		{"JSON-escaped", string(js[1 : len(js)-1])},
		{"JSON-escaped as slog writes it", sj[1 : len(sj)-1]},
		{"Go-quoted", q[1 : len(q)-1]},
	}
	cands = append(cands, base64Forms("base64", base64.RawStdEncoding, v)...)
	cands = append(cands, base64Forms("base64url", base64.RawURLEncoding, v)...)
	var out [][2]string
	seen := map[string]bool{}
	for _, c := range cands {
		if !seen[c[1]] {
			seen[c[1]] = true
			out = append(out, c)
		}
	}
	return out
}

// base64Forms returns the characters that encode v in enc whatever comes before and after it:
// one form for each of the three places v can start in the encoded bytes (after a multiple of
// three bytes, or one or two bytes more, as the Mailgun key does in the Basic auth header's
// base64 of "api:" + key). The characters that also hold bits of the bytes before or after v
// are left out: two after one byte, three after two, and the last one when v does not end on a
// three-byte boundary. A padded encoding's '=' comes after the last character, so the unpadded
// form is found in it too.
func base64Forms(name string, enc *base64.Encoding, v string) [][2]string {
	var out [][2]string
	for shift, drop := range []int{0, 2, 3} {
		e := enc.EncodeToString(append(make([]byte, shift), v...))[drop:]
		if (shift+len(v))%3 != 0 {
			e = e[:len(e)-1]
		}
		label := name
		if shift > 0 {
			label = fmt.Sprintf("%s, %d byte%s into a 3-byte group", name, shift, map[bool]string{true: "s"}[shift > 1])
		}
		out = append(out, [2]string{label, e})
	}
	return out
}

// index finds many patterns in one pass: each file position's next 8 bytes are looked up by
// value, behind a bitmap that rejects almost every position cheaply.
type index struct {
	secrets  []secret
	patterns []pattern
	byPrefix map[uint64][]int
	bloom    []uint64 // 1<<16 bits
}

func newIndex(secrets []secret) *index {
	ix := &index{secrets: secrets, byPrefix: map[uint64][]int{}, bloom: make([]uint64, 1<<16/64)}
	for i, s := range secrets {
		for _, f := range forms(s.value) {
			if len(f[1]) < prefixLen {
				continue
			}
			p := pattern{secret: i, form: f[0], bytes: []byte(f[1])}
			k := binary.LittleEndian.Uint64(p.bytes)
			ix.byPrefix[k] = append(ix.byPrefix[k], len(ix.patterns))
			ix.patterns = append(ix.patterns, p)
			h := bloomBit(k)
			ix.bloom[h/64] |= 1 << (h % 64)
		}
	}
	return ix
}

func bloomBit(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> 48 }

// scan returns one hit per pattern found in b, at its first offset.
func (ix *index) scan(b []byte) []hit {
	found := map[int]*hit{}
	var order []int
	for i := 0; i+prefixLen <= len(b); i++ {
		k := binary.LittleEndian.Uint64(b[i:])
		h := bloomBit(k)
		if ix.bloom[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		for _, pi := range ix.byPrefix[k] {
			p := ix.patterns[pi]
			if !bytes.HasPrefix(b[i:], p.bytes) {
				continue
			}
			if f, ok := found[pi]; ok {
				f.count++
				continue
			}
			found[pi] = &hit{kind: ix.secrets[p.secret].kind, form: p.form, offset: i, count: 1}
			order = append(order, pi)
		}
	}
	out := make([]hit, 0, len(order))
	for _, pi := range order {
		out = append(out, *found[pi])
	}
	return out
}
