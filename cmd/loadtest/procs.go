package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a server process the load test started.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string // file holding its stdout and stderr
	done chan struct{}
	err  error // Wait's result, set before done closes
}

// children are every process started, stopped together by stopAll.
type children struct {
	mu   sync.Mutex
	list []*child
}

// start runs bin with args and env (added to a minimal environment), its output going to a
// file in dir. The child gets SIGKILL if the load test dies without cleaning up (Linux).
func (cs *children) start(dir, name, bin string, args, env []string) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + dir}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	cs.mu.Lock()
	cs.list = append(cs.list, c)
	cs.mu.Unlock()
	return c, nil
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs. Safe to call more than once.
func (c *child) stop(grace time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// exited reports whether the child has exited, with its log's tail.
func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited (%v); its log ends:\n%s", c.name, c.err, tail(c.log, 20))
	default:
		return nil
	}
}

// stopAll stops every child, newest first.
func (cs *children) stopAll() {
	cs.mu.Lock()
	list := cs.list
	cs.list = nil
	cs.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		list[i].stop(5 * time.Second)
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitReady polls url until it answers 200, the child exits, or timeout passes.
func waitReady(ctx context.Context, c *child, url string, header http.Header, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if err := c.exited(); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", c.name, err)
		}
		req.Header = header.Clone()
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s after %v; its log ends:\n%s", c.name, url, timeout, tail(c.log, 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// serverBinaries returns the sandbox's and the dashboard's binaries in binDir, built there first
// unless skipBuild says to reuse them. A relative binDir is taken from the module root, as a
// relative -out is: go build runs there, while a child started by a relative path would be
// looked up from the load test's own working directory (and a bare name in $PATH).
func serverBinaries(ctx context.Context, root, binDir string, skipBuild bool, logf func(string, ...any)) (sbBin, webBin string, err error) {
	if !filepath.IsAbs(binDir) {
		binDir = filepath.Join(root, binDir)
	}
	sbBin, webBin = filepath.Join(binDir, "mailgun-sandbox"), filepath.Join(binDir, "web")
	if skipBuild {
		for _, b := range []string{sbBin, webBin} {
			if _, err := os.Stat(b); err != nil {
				return "", "", fmt.Errorf("-skip-build: %w (run once without -skip-build)", err)
			}
		}
		return sbBin, webBin, nil
	}
	logf("building cmd/mailgun-sandbox and cmd/web into %s", binDir)
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", "", fmt.Errorf("bin dir: %w", err)
	}
	if sbBin, err = goBuild(ctx, root, binDir, "mailgun-sandbox", "./cmd/mailgun-sandbox"); err != nil {
		return "", "", err
	}
	if webBin, err = goBuild(ctx, root, binDir, "web", "./cmd/web"); err != nil {
		return "", "", err
	}
	return sbBin, webBin, nil
}

// goBuild builds the package into dir/name, from the module root.
func goBuild(ctx context.Context, root, dir, name, pkg string) (string, error) {
	out := filepath.Join(dir, name)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// moduleRoot returns the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the load test inside the SMTP Desk module (go run ./cmd/loadtest)")
	}
	return filepath.Dir(mod), nil
}

// procStatus reads a "Key:   123 kB" field of /proc/<pid>/status, in bytes.
func procStatus(pid int, key string) (int64, error) {
	return procStatusFile(fmt.Sprintf("/proc/%d/status", pid), key)
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// procCPU returns the user+system CPU time the process has used ("self" for this one).
func procCPU(pid string) (time.Duration, error) {
	return procCPUFile("/proc/" + pid + "/stat")
}

// procCPUFile returns the user+system CPU time in a /proc/<pid>/stat file.
func procCPUFile(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("proc stat: %w", err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("proc stat: malformed")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("proc stat: too few fields")
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("proc stat: %w", err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// rssPoller samples a process's VmRSS until stopped and keeps the largest.
type rssPoller struct {
	stopc chan struct{}
	done  chan struct{}
	peak  int64
}

func pollRSS(pid int, every time.Duration) *rssPoller {
	p := &rssPoller{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if n, err := procStatus(pid, "VmRSS"); err == nil && n > p.peak {
				p.peak = n
			}
			select {
			case <-p.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// stop ends the polling and returns the peak RSS seen, in bytes.
func (p *rssPoller) stop() int64 {
	close(p.stopc)
	<-p.done
	return p.peak
}
