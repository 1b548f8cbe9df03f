package mailgun

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// slowCredentialPage decodes a list answer the general way (encoding/json and parseCreatedAt),
// as ListCredentials does when the fast path gives up.
func slowCredentialPage(b []byte) (*CredentialList, error) {
	var w credentialPage
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	return w.list()
}

var fastListSeeds = []string{
	`{"items":[{"login":"alice@example.com","mailbox":"alice@example.com","created_at":"Wed, 04 Mar 2026 10:20:30 +0000","size_bytes":null}],"total_count":2}`,
	` { "total_count" : 3 , "items" : [ {"size_bytes":"1024","login":"a@x.io","mailbox":"b@x.io","created_at":"Sun, 01 Jan 2023 00:00:00 GMT"},
	  {"login":"Üñï@x.io","mailbox":"Üñï@x.io","created_at":"Tue, 28 Feb 2023 23:59:59 -0930","size_bytes":12.5e3} ] }` + "\n",
	`{"items":[],"total_count":0}`,
	`{"total_count":0}`,
	`{"items":[{"login":"a@x.io"}],"total_count":1}`,
	`{"items":[{"login":"a\u0040x.io"}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","extra":1}],"total_count":1}`,
	`{"Items":[{"LOGIN":"a@x.io"}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","login":"b@x.io"}],"total_count":1}`,
	`{"items":[{"login":null}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","created_at":"Wed, 30 Feb 2023 10:00:00 +0000"}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","created_at":"wed, 08 mar 2023 10:00:00 +0000"}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","created_at":"Wed, 08 Mar 2023 24:00:00 +0000"}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","created_at":"Wed, 08 Mar 2023 10:00:00 EST"}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","size_bytes":[1]}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","size_bytes":01}],"total_count":1}`,
	`{"items":[],"total_count":1.0}`,
	`{"items":[],"total_count":99999999999999999999}`,
	`{"items":[],"total_count":-1}`,
	`{"items":[{"login":"a@x.io",}],"total_count":1}`,
	`{"items":[],"total_count":1}x`,
	"{\"items\":[{\"login\":\"a\xffb\"}],\"total_count\":1}",
	"{\"items\":[{\"login\":\"a\tb\"}],\"total_count\":1}",
	`{"items":[{"login":"a@x.io"}`,
	``,
	`{"items":[]}`,
	`null`,
	`{"message":"Domain not found"}`,
	// Commas left out, between members, items and the top level's members.
	`{"items":[{"login":"a@x.io" "mailbox":"a@x.io"}],"total_count":1}`,
	`{"items":[{"login":"a@x.io"} {"login":"b@x.io"}],"total_count":2}`,
	`{"items":[] "total_count":0}`,
	// White space JSON does not have, a control byte, a lone byte 0x80, numbers JSON refuses.
	"{\"items\":[],\v\"total_count\":0}",
	"{\"items\":[{\"login\":\"a\x1fb@x.io\"}],\"total_count\":1}",
	"{\"items\":[{\"login\":\"a\x80b@x.io\"}],\"total_count\":1}",
	`{"items":[{"login":"a@x.io","size_bytes":1.}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","size_bytes":1e}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","size_bytes":+1}],"total_count":1}`,
	// Repeated top-level members: encoding/json keeps the last.
	`{"total_count":1,"items":[],"total_count":2}`,
	`{"items":[{"login":"a@x.io"}],"total_count":1,"items":[{"login":"b@x.io","mailbox":"bb@x.io"}]}`,
	// Timestamps the fast path must leave to parseCreatedAt.
	`{"items":[{"login":"a@x.io","created_at":"x"}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","created_at":"unM, 08 Mar 2023 10:00:00 +0000"}],"total_count":1}`,
	`{"items":[{"login":"a@x.io","created_at":"Wed, 08 Mar 2023 10:00:00 +2500"}],"total_count":1}`,
}

// TestFastListMatchesEncodingJSON holds the fast path to encoding/json: where it takes a body,
// the list is the same; bodies with escapes, unknown or repeated fields, odd timestamps and
// invalid JSON are left to encoding/json.
func TestFastListMatchesEncodingJSON(t *testing.T) {
	wantFast := map[int]bool{0: true, 1: true, 2: true, 4: true, 18: true}
	for i, body := range fastListSeeds {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, ok := parseCredentialPage([]byte(body))
			if ok != wantFast[i] {
				t.Errorf("fast path took it: %v, want %v", ok, wantFast[i])
			}
			checkFastList(t, body)
			if ok && len(got.Items) > 0 && strings.Contains(body, `"alice@example.com","created_at"`) {
				if want := time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC); !got.Items[0].CreatedAt.Equal(want) {
					t.Errorf("created_at = %v, want %v", got.Items[0].CreatedAt, want)
				}
			}
		})
	}
}

func checkFastList(t *testing.T, body string) {
	t.Helper()
	got, ok := parseCredentialPage([]byte(body))
	if !ok {
		return
	}
	want, err := slowCredentialPage([]byte(body))
	if err != nil {
		t.Fatalf("fast path took %q, which encoding/json refuses: %v", body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fast path of %q:\n got %+v\nwant %+v", body, got, want)
	}
}

// FuzzFastList checks the fast list path against encoding/json on any body.
func FuzzFastList(f *testing.F) {
	for _, s := range fastListSeeds {
		f.Add(s)
	}
	f.Fuzz(checkFastList)
}

// FuzzRFC2822 checks that parseRFC2822 agrees with parseCreatedAt wherever it answers.
func FuzzRFC2822(f *testing.F) {
	for _, s := range []string{
		"Wed, 08 Mar 2023 23:34:57 +0000", "Wed, 08 Mar 2023 23:34:57 GMT", "Thu, 09 Mar 2023 01:34:57 +0200",
		"Sat, 29 Feb 2020 12:00:00 -1130", "Mon, 29 Feb 2021 12:00:00 +0000", "Wed, 08 Mar 2023 23:34:57 UTC",
		"Xyz, 08 Mar 2023 23:34:57 +0000", "Wed, 08 Mar 2023 23:34:60 +0000", "Wed, 08 Mar 2023 23:34:57 +2400",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseRFC2822([]byte(s))
		if !ok {
			return
		}
		want, err := parseCreatedAt(s)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("parseRFC2822(%q) = %v; parseCreatedAt = %v, %v", s, got, want, err)
		}
	})
}
