package testflow

import (
	"net/http"
	"net/url"
	"testing"
)

func TestLoopbackJarKeepsSecureCookiesOnLoopback(t *testing.T) {
	tests := []struct {
		base string
		want bool
	}{
		{"http://127.0.0.1:8080/", true},
		{"http://localhost:8080/", true},
		{"http://[::1]:8080/", true},
		{"https://example.com/", true},
		{"http://example.com/", false}, // a Secure cookie never goes over plain HTTP elsewhere
		{"http://10.0.0.1:8080/", false},
		{"http://localhost.example.com/", false},
	}
	for _, tt := range tests {
		c, err := New(tt.base)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(tt.base)
		c.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-s", Value: "v", Path: "/", Secure: true}})
		if got := len(c.Cookies()) == 1; got != tt.want {
			t.Errorf("%s: cookie kept = %v, want %v", tt.base, got, tt.want)
		}
	}
}
