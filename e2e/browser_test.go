package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// defaultChromium is Debian's Chromium; CHROMIUM_PATH overrides it.
const defaultChromium = "/usr/bin/chromium"

// missingChromium is the message of every test when the browser is not installed. The tests fail
// rather than skip: a green run must mean the journeys ran.
const missingChromium = "Chromium not found: install it with `apt-get install -y chromium` or run ./scripts/test.sh, which installs it"

// suite is what TestMain sets up once for the whole package: one Chromium process shared by every
// test (each test gets its own browser context, so cookies never leak between journeys), the axe
// script and the screenshot directory. It is written once, before any test runs, and only read
// after that. A Go test binary has no other way to hand TestMain's resources to the tests.
var suite *suiteState

// suiteState holds the shared browser and settings. err is set when the setup failed; every test
// then fails with it.
type suiteState struct {
	err        error
	browserCtx context.Context // the first tab's context; children are new tabs of the same browser
	axeJS      string
	shotDir    string // screenshots (when photograph is set) and failure artifacts
	photograph bool   // look photographs the pages (see runMain)
	shotAll    bool

	mu    sync.Mutex
	shots map[string]bool // screenshot keys already taken (see tab.look)
}

// TestMain starts Chromium once for the package and stops it after the last test.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	s := &suiteState{shots: map[string]bool{}}
	suite = s

	// Pages are photographed only when asked (SMTPDESK_SCREENSHOTS or SMTPDESK_SCREENSHOTS_ALL
	// set): the pictures cost about a sixth of the package's time, which a plain test run does
	// not need. Failure artifacts are always kept.
	s.shotDir = os.Getenv("SMTPDESK_SCREENSHOTS")
	s.shotAll = os.Getenv("SMTPDESK_SCREENSHOTS_ALL") == "1"
	s.photograph = s.shotDir != "" || s.shotAll
	if s.shotDir == "" {
		s.shotDir = filepath.Join(os.TempDir(), "smtpdesk-screenshots")
	}
	if err := os.MkdirAll(s.shotDir, 0o755); err != nil {
		s.err = fmt.Errorf("screenshot directory: %w", err)
	}
	// Failure artifacts of an earlier run would be mistaken for this run's.
	stale, _ := filepath.Glob(filepath.Join(s.shotDir, "*-FAILED*"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
	if s.photograph {
		fmt.Fprintf(os.Stderr, "e2e: screenshots and failure artifacts go to %s\n", s.shotDir)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: failure artifacts go to %s (SMTPDESK_SCREENSHOTS=DIR photographs every page)\n", s.shotDir)
	}

	if s.err == nil {
		js, err := loadAxe()
		if err != nil {
			s.err = err
		}
		s.axeJS = js
	}

	var stop func()
	if s.err == nil {
		ctx, cancel, err := startBrowser()
		if err != nil {
			s.err = err
		} else {
			s.browserCtx, stop = ctx, cancel
		}
	}
	if s.err != nil {
		// Every test reports it too, so it shows in the failure summary.
		fmt.Fprintf(os.Stderr, "e2e: %v\n", s.err)
	}
	code := m.Run()
	if stop != nil {
		stop()
	}
	return code
}

// chromiumPath is $CHROMIUM_PATH or Debian's Chromium.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	return defaultChromium
}

// startBrowser launches headless Chromium with a fresh profile and returns the context of its
// first tab (never used for pages: each test opens its own) and a func that stops the browser and
// removes the profile.
func startBrowser() (context.Context, func(), error) {
	path := chromiumPath()
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return nil, nil, errors.New(missingChromium)
	}
	profile, err := os.MkdirTemp("", "smtpdesk-e2e-chromium-*")
	if err != nil {
		return nil, nil, fmt.Errorf("chromium profile: %w", err)
	}
	var output bytes.Buffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,OptimizationHints,MediaRouter"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(&output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	stop := func() {
		cancelBrowser()
		cancelAlloc()
		_ = os.RemoveAll(profile)
	}
	// Start the browser with a context that has no deadline (its life is bound to this context);
	// a watchdog gives up if it never answers.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(browserCtx) }()
	select {
	case err = <-started:
	case <-time.After(60 * time.Second):
		err = errors.New("no answer after 60s")
	}
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("start %s: %w\n%s", path, err, output.String())
	}
	return browserCtx, stop, nil
}

// requireSuite fails the test when TestMain could not set up the browser.
func requireSuite(t *testing.T) *suiteState {
	t.Helper()
	if suite == nil {
		t.Fatal("e2e: TestMain did not run")
	}
	if suite.err != nil {
		t.Fatal(suite.err)
	}
	return suite
}

// firstShot reports whether key has no screenshot yet, and marks it taken.
func (s *suiteState) firstShot(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shots[key] {
		return false
	}
	s.shots[key] = true
	return true
}
