package testmain

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// fakeMain prints its arguments, one to stdout and the count to stderr, and exits with the count.
func fakeMain() {
	fmt.Println(strings.Join(os.Args, "|"))
	fmt.Fprintln(os.Stderr, len(os.Args)-1)
	os.Exit(len(os.Args) - 1)
}

// TestRun checks that the child gets the program name and the arguments split at spaces, and
// that Run returns the child's exit status and both outputs.
func TestRun(t *testing.T) {
	if Child("prog") {
		fakeMain()
		return
	}
	tests := []struct {
		args       string
		wantCode   int
		wantStdout string
	}{
		{"", 0, "prog\n"},
		{"-x 3", 2, "prog|-x|3\n"},
		{"  a  b c ", 3, "prog|a|b|c\n"},
	}
	for _, tt := range tests {
		got := Run(t, tt.args)
		if got.Code != tt.wantCode {
			t.Errorf("Run(%q).Code = %d, want %d", tt.args, got.Code, tt.wantCode)
		}
		// The child is a test binary, which adds its own lines only when main returns.
		if got.Stdout != tt.wantStdout {
			t.Errorf("Run(%q).Stdout = %q, want %q", tt.args, got.Stdout, tt.wantStdout)
		}
		if want := fmt.Sprintln(tt.wantCode); got.Stderr != want {
			t.Errorf("Run(%q).Stderr = %q, want %q", tt.args, got.Stderr, want)
		}
	}
}

// errorRecorder is the test it embeds, with the errors reported to it kept instead.
type errorRecorder struct {
	*testing.T
	errs []string
}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestCheck checks that Check reports nothing for a main that does what is wanted, and one
// error for each of a wrong exit status, standard output and standard error.
func TestCheck(t *testing.T) {
	if Child("prog") {
		fakeMain()
		return
	}
	tests := []struct {
		name     string
		want     Want
		wantErrs []string
	}{
		{"as wanted", Want{Args: "-x 3", Code: 2, StdoutHas: "-x|3", Stderr: "2\n"}, nil},
		{"not checked", Want{Args: "a", Code: 1}, nil},
		{"exit status", Want{Args: "a", Code: 0}, []string{"main a exited 1, want 0"}},
		{"stdout", Want{Args: "a", Code: 1, StdoutHas: "b"}, []string{"stdout \"prog|a\\n\" lacks \"b\""}},
		{"stderr", Want{Args: "a", Code: 1, Stderr: "2\n"}, []string{"stderr \"1\\n\", want \"2\\n\""}},
	}
	for _, tt := range tests {
		r := &errorRecorder{T: t}
		Check(r, tt.want)
		if len(r.errs) != len(tt.wantErrs) {
			t.Errorf("%s: Check reported %q, want %d errors", tt.name, r.errs, len(tt.wantErrs))
			continue
		}
		for i, want := range tt.wantErrs {
			if !strings.Contains(r.errs[i], want) {
				t.Errorf("%s: error %q, want it to contain %q", tt.name, r.errs[i], want)
			}
		}
	}
}

// TestChildOutsideRun checks that a process not started by Run (no SMTPDESK_TESTMAIN_ARGS) is
// not taken for a child and keeps its arguments.
func TestChildOutsideRun(t *testing.T) {
	t.Setenv(envArgs, "") // restored when the test ends
	os.Unsetenv(envArgs)
	before := os.Args
	if Child("prog") {
		t.Fatal("Child = true in a test not started by Run")
	}
	if len(os.Args) != len(before) || os.Args[0] != before[0] {
		t.Errorf("os.Args = %q, changed from %q", os.Args, before)
	}
}
