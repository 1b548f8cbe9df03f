// Package static holds SMTP Desk's built CSS, JavaScript and icons, embedded in the binary, and
// maps them to content-hashed URLs so the server can cache them for a year.
//
// The files live in dist/: app.css is built by Tailwind (`npm run css`), app.js and favicon.svg are
// written by hand. A page links to URL("app.css"), which gives "/static/app.3f2a9c1b.css"; the
// server maps the hashed name back with Lookup and serves the bytes from FS.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// FS holds the built assets under "dist/". Serve a file by its real name: FS.Open("dist/" + name).
//
//go:embed dist
var FS embed.FS

// Prefix is the URL path the server mounts the assets under.
const Prefix = "/static/"

// manifest is built once at start-up and never changed afterwards.
var manifest = buildManifest(FS)

// assetManifest maps real names to hashed names and back.
type assetManifest struct {
	hashed map[string]string // "app.css" → "app.3f2a9c1b.css"
	real   map[string]string // "app.3f2a9c1b.css" → "app.css"
}

// buildManifest hashes every file under dist/ (the first 8 hex digits of its SHA-256).
func buildManifest(fsys fs.FS) assetManifest {
	m := assetManifest{hashed: map[string]string{}, real: map[string]string{}}
	// The embedded tree cannot fail to walk; a walk error would leave the file unhashed, which
	// URL handles by returning the plain name.
	_ = fs.WalkDir(fsys, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		name := strings.TrimPrefix(p, "dist/")
		sum := sha256.Sum256(b)
		h := hashedName(name, hex.EncodeToString(sum[:])[:8])
		m.hashed[name] = h
		m.real[h] = name
		return nil
	})
	return m
}

// hashedName puts the hash before the extension: "js/app.js" → "js/app.<hash>.js".
func hashedName(name, hash string) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hash + ext
}

// URL returns the content-hashed URL of the asset name (e.g. "app.css" → "/static/app.3f2a9c1b.css").
// An unknown name gives its plain URL, "/static/" + name.
func URL(name string) string {
	if h, ok := manifest.hashed[name]; ok {
		return Prefix + h
	}
	return Prefix + name
}

// Lookup maps a hashed name (the part of the URL after "/static/") back to the real file name
// under dist/. ok is false for names that are not a current hashed name; the server may then
// serve a real name with a short cache lifetime, or answer 404.
func Lookup(hashedName string) (realName string, ok bool) {
	realName, ok = manifest.real[hashedName]
	return realName, ok
}

// Names lists the real names of all assets, sorted, for tests and preloading.
func Names() []string {
	names := make([]string, 0, len(manifest.hashed))
	for n := range manifest.hashed {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
