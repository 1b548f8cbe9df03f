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

// TestChildOutsideRun checks that a test not started by Run is not taken for a child.
func TestChildOutsideRun(t *testing.T) {
	if _, ok := os.LookupEnv(envArgs); ok {
		t.Skip("running as a child")
	}
	before := os.Args
	if Child("prog") {
		t.Fatal("Child = true in a test not started by Run")
	}
	if len(os.Args) != len(before) || os.Args[0] != before[0] {
		t.Errorf("os.Args = %q, changed from %q", os.Args, before)
	}
}
