# Each target is a one-liner you can also run without make.
.PHONY: generate css run demo test bench lint

# Regenerate the templ code (views/*_templ.go, committed).
generate:
	go tool templ generate -path views

# Rebuild static/dist/app.css with Tailwind (committed; needs `npm ci` once).
css:
	npm run css

# Serve with the configuration in the environment (see `go run ./cmd/web -help`).
run:
	go run ./cmd/web

# The whole product on one machine, simulated Mailgun and sign-in, on 127.0.0.1 only.
demo:
	go run ./cmd/web -demo

# What CI runs: installs what is missing, vet, staticcheck, gofmt, generated-files check, go test -race.
test:
	./scripts/test.sh

# Benchmarks with allocations.
bench:
	go test -run '^$$' -bench . -benchmem ./...

# Static checks.
lint:
	go vet ./... && go tool staticcheck ./... && unformatted="$$(gofmt -l $$(find . -name '*.go' -not -path './node_modules/*'))" && { [ -z "$$unformatted" ] || { echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; }; }
