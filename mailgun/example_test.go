package mailgun_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/smtpdesk/smtpdesk/mailgun"
)

// fakeMailgun stands in for Mailgun (or the sandbox) in the examples.
func fakeMailgun() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v3/domains/{domain}/credentials", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"items":[{"login":"alice@example.com","mailbox":"alice@example.com",
			"created_at":"Wed, 08 Mar 2023 23:34:57 +0000","size_bytes":null}],"total_count":1}`)
	})
	mux.HandleFunc("PUT /v3/domains/{domain}/credentials/{spec}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"Credentials not found"}`)
	})
	return httptest.NewServer(mux)
}

func Example() {
	srv := fakeMailgun()
	defer srv.Close()

	// In production: mailgun.NewClient(key, mailgun.WithRegion(mailgun.RegionEU)).
	client, err := mailgun.NewClient("key-example",
		mailgun.WithBaseURL(srv.URL),
		mailgun.WithTimeout(5*time.Second),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	list, err := client.ListCredentials(ctx, "example.com", &mailgun.ListOptions{Limit: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range list.Items {
		fmt.Println(c.Login, c.CreatedAt.Format(time.DateOnly))
	}
	fmt.Println("total:", list.TotalCount)

	// A password change for a login Mailgun doesn't know: a typed error.
	_, err = client.ChangePassword(ctx, "example.com", "nobody", "")
	var apiErr *mailgun.Error
	if errors.As(err, &apiErr) && errors.Is(err, mailgun.ErrNotFound) {
		fmt.Println(apiErr.StatusCode, apiErr.Message)
	}

	// Bad input is refused before anything is sent.
	_, err = client.DeleteCredential(ctx, "example.com", "")
	fmt.Println(errors.Is(err, mailgun.ErrInvalidInput), err)

	// Output:
	// alice@example.com 2023-03-08
	// total: 1
	// 404 Credentials not found
	// true mailgun: invalid input: spec is empty
}
