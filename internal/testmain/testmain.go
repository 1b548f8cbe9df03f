// Package testmain runs a command's main function in a child process of its test binary, so that
// a test can check main's exit status and what it printed (cmd/web, cmd/mailgun-sandbox).
//
// The test function calls Child first, and when it reports true calls main and returns; then it
// calls Run for each set of arguments:
//
//	func TestMainExitStatus(t *testing.T) {
//		if testmain.Child("web") {
//			main()
//			return
//		}
//		testmain.Check(t, testmain.Want{Args: "-help", Code: 0, StdoutHas: "Usage:"})
//	}
package testmain

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// envArgs carries main's arguments to the child; its presence makes a process the child.
const envArgs = "SMTPDESK_TESTMAIN_ARGS"

// Child reports whether this process is a child started by Run. If it is, Child sets os.Args to
// prog followed by the arguments given to Run, for the test to call main.
func Child(prog string) bool {
	args, ok := os.LookupEnv(envArgs)
	if !ok {
		return false
	}
	os.Args = append([]string{prog}, strings.Fields(args)...)
	return true
}

// Result is how a main run by Run ended.
type Result struct {
	Code           int // exit status
	Stdout, Stderr string
}

// Run runs t's test function again in a child process of the test binary, where Child reports
// true, with args (split at spaces) as main's arguments, and returns how it ended. A child that
// could not be started fails the test.
func Run(t testing.TB, args string) Result {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$")
	cmd.Env = append(os.Environ(), envArgs+"="+args)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s %s: %v", os.Args[0], args, err)
	}
	return r
}

// Want is what a test expects of main run with Args (split at spaces): its exit status, text its
// standard output contains ("": not checked) and its whole standard error ("": not checked).
type Want struct {
	Args      string
	Code      int
	StdoutHas string
	Stderr    string
}

// Check runs main with each Want's arguments, as Run does, and reports every difference.
func Check(t testing.TB, wants ...Want) {
	t.Helper()
	for _, w := range wants {
		got := Run(t, w.Args)
		if got.Code != w.Code {
			t.Errorf("main %s exited %d, want %d\nstdout %.300q\nstderr %q", w.Args, got.Code, w.Code, got.Stdout, got.Stderr)
		}
		if w.StdoutHas != "" && !strings.Contains(got.Stdout, w.StdoutHas) {
			t.Errorf("main %s: stdout %.300q lacks %q", w.Args, got.Stdout, w.StdoutHas)
		}
		if w.Stderr != "" && got.Stderr != w.Stderr {
			t.Errorf("main %s: stderr %q, want %q", w.Args, got.Stderr, w.Stderr)
		}
	}
}
