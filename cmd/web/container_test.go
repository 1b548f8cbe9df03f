package main

import (
	"bytes"
	"debug/elf"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/config"
)

// nonroot is the user and group of the image's base, gcr.io/distroless/static-debian12:nonroot.
const nonroot = 65532

// TestContainerImage checks what the Dockerfile's image relies on without a Docker engine (none
// runs where the tests run; CI has only the client): the build stage's `go build` command, run
// as the Dockerfile writes it, makes a static binary (the distroless/static base has no C
// library), and that binary, started the way the image starts it (its ENV, its WORKDIR /data
// empty, as user nonroot when the test runs as root), creates its SQLite file there, answers
// its own health check (the image's HEALTHCHECK) and stops cleanly on SIGTERM (docker stop).
// What it cannot check is the image itself: the base images, the COPY lines and the layers.
func TestContainerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a binary")
	}
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	build, env, workdir := dockerfileBuildAndEnv(t, string(df))
	if workdir != "/data" {
		// The SQLite file is the default smtpdesk.db in the working directory.
		t.Errorf("the image's WORKDIR is %q; want /data, the SQLite file's home", workdir)
	}

	// A directory every user can enter, as / is in the image (t.TempDir is the test's own).
	root, err := os.MkdirTemp("", "smtpdesk-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "web")
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(build, "/out/web", bin))
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build command %q: %v\n%s", build, err, out)
	}
	assertStatic(t, bin)

	data := filepath.Join(root, "data")
	secrets := filepath.Join(root, "secrets")
	for _, d := range []string{data, secrets} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	files := map[string]string{"mailgun": "key-test", "oidc": "s3cr3t", "session-keys": key, "policy.yaml": "admins:\n  groups: [smtp-admins]\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(secrets, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	closed := "http://" + freeAddr(t) // nothing listens: the IdP and Mailgun are down, which must not stop a start
	// The image's ENV with its paths moved under root and its listen address on loopback, and
	// the README's `docker run` settings (secrets as files) with their hosts on loopback.
	vars := map[string]string{
		"SMTPDESK_BASE_URL":       "https://smtp-desk.corp.example",
		"MAILGUN_API_KEY_FILE":    filepath.Join(secrets, "mailgun"),
		"MAILGUN_BASE_URL":        closed,
		"OIDC_ISSUER":             closed,
		"OIDC_CLIENT_ID":          "smtp-desk",
		"OIDC_CLIENT_SECRET_FILE": filepath.Join(secrets, "oidc"),
		"SESSION_KEYS_FILE":       filepath.Join(secrets, "session-keys"),
		"POLICY_FILE":             filepath.Join(secrets, "policy.yaml"),
	}
	for k, v := range env {
		switch k {
		case "SMTPDESK_LISTEN":
			if v != ":8080" {
				t.Errorf("the image listens on %q; the README says :8080", v)
			}
			v = addr
		default:
			v = strings.ReplaceAll(v, "/data", data)
		}
		vars[k] = v
	}
	srv := exec.Command(bin)
	srv.Dir = data
	srv.Env = []string{"PATH=/nonexistent"} // distroless has no shell and no tools
	for k, v := range vars {
		srv.Env = append(srv.Env, k+"="+v)
	}
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	uid := os.Getuid()
	if os.Geteuid() == 0 {
		if err := os.Chown(data, nonroot, nonroot); err != nil {
			t.Fatal(err)
		}
		srv.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nonroot, Gid: nonroot}}
		uid = nonroot
	} else {
		t.Logf("not root: the binary runs as uid %d, not as nonroot (%d)", uid, nonroot)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		if srv.ProcessState == nil {
			_ = srv.Process.Kill()
			<-exited
		}
	})

	// The image's HEALTHCHECK: `/web healthcheck`, with the image's environment.
	healthy := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !healthy; {
		select {
		case err := <-exited:
			t.Fatalf("the binary exited before it was healthy: %v\n%s", err, logs.String())
		default:
		}
		hc := exec.Command(bin, "healthcheck")
		hc.Env = srv.Env
		if err := hc.Run(); err == nil {
			healthy = true
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !healthy {
		t.Fatalf("`web healthcheck` did not pass within 30 s\n%s", logs.String())
	}
	fi, err := os.Stat(filepath.Join(data, "smtpdesk.db"))
	if err != nil {
		t.Fatalf("no SQLite file in the data directory: %v", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid {
		t.Errorf("the SQLite file belongs to uid %d, want %d", st.Uid, uid)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after SIGTERM the binary exited with %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the binary still runs 30 s after SIGTERM\n%s", logs.String())
	}
	for _, secret := range []string{"key-test", "s3cr3t", key} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs show a secret read from a file")
		}
	}
}

// TestContainerImageEnvLeavesFileVariantsUsable: the image's ENV sets no variable that has a
// _FILE variant, since setting both is refused: an image DATABASE_URL made the README's
// DATABASE_URL_FILE (a postgres:// URL with its password, as a file) stop the start.
func TestContainerImageEnvLeavesFileVariantsUsable(t *testing.T) {
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	_, env, _ := dockerfileBuildAndEnv(t, string(df))
	for _, v := range config.Vars() {
		if name, ok := strings.CutSuffix(v.Name, "_FILE"); ok {
			if _, set := env[name]; set {
				t.Errorf("the image sets %s, so %s given to the container is refused (both set)", name, v.Name)
			}
		}
	}
}

// dockerfileBuildAndEnv returns the build stage's `go build` command, with the variables set
// before it on its line, and the runtime stage's ENV settings and WORKDIR.
func dockerfileBuildAndEnv(t *testing.T, df string) (build string, env map[string]string, workdir string) {
	t.Helper()
	// Join continuation lines, so that each instruction is one line.
	lines := strings.Split(strings.ReplaceAll(df, "\\\n", " "), "\n")
	env = map[string]string{}
	stages := 0
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			stages++
			clear(env) // only the last stage's ENV and WORKDIR reach the image
			workdir = ""
		case "RUN":
			for _, part := range strings.Split(strings.Join(f[1:], " "), "&&") {
				if strings.Contains(part, "go build") {
					build = strings.TrimSpace(part)
				}
			}
		case "WORKDIR":
			if len(f) > 1 {
				workdir = f[1]
			}
		case "ENV":
			for _, kv := range f[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("ENV %q: only the key=value form is read here", kv)
				}
				env[k] = v
			}
		}
	}
	if build == "" || stages < 2 || len(env) == 0 {
		t.Fatalf("the Dockerfile has no go build command, no runtime stage or no ENV (build %q, %d stages, env %v)", build, stages, env)
	}
	if !strings.Contains(build, "/out/web") {
		t.Fatalf("the build command %q does not write /out/web, which the runtime stage copies", build)
	}
	return build, env, workdir
}

// assertStatic fails unless bin is an ELF executable with no interpreter and no shared
// libraries: distroless/static has neither a dynamic loader nor a C library.
func assertStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s asks for a dynamic loader (PT_INTERP): the image's base has none", bin)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v: the image's base has none", bin, libs)
	}
}
