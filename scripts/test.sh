#!/usr/bin/env bash
# SMTP Desk's test command (the README's, and CI's through .ci/run). Run it from anywhere, as
# root on a fresh Debian machine or as a developer: it installs what is missing (a C compiler for
# -race, Chromium for the browser tests, the npm packages for the CSS check, a local PostgreSQL
# for the store tests), then runs go vet, staticcheck, the gofmt check, the generated-files check
# and the whole test suite with -race.
# It ends with a summary line "N passed, N failed" counting packages. The tests leave their log
# output, database files and secrets in a scan directory (internal/secretscan); after the tests,
# the secret scan checks that no secret reached a log or a database, and a leak fails the run
# (counted as one more failure).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
export SMTPDESK_TEST_POSTGRES="${SMTPDESK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"

# Each step says how long the run has taken so far, so a slow step shows in CI's log.
step() { printf '\n==> %s (at %ds)\n' "$*" "$SECONDS"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else "$@"; fi; }
apt_updated=""
apt_install() {
	if [ -z "$apt_updated" ]; then as_root apt-get update -qq </dev/null || true; apt_updated=1; fi
	if ! as_root apt-get install -y -qq "$@" </dev/null; then
		echo "ERROR: could not install $* (installing needs root, or sudo without a password)." >&2
		echo "       Run \"apt-get install -y $*\" as root, then run this script again." >&2
		return 1
	fi
}

# --- A C compiler, for go test -race: the race detector needs cgo, which Go turns off on a
# machine without one (a fresh Debian with Go from go.dev). ---
if command -v go >/dev/null && [ "$(go env CGO_ENABLED)" != 1 ]; then
	if [ "${CGO_ENABLED:-}" = 0 ]; then
		echo "ERROR: CGO_ENABLED=0 is set, and go test -race needs cgo: unset it and run this script again." >&2
		exit 1
	fi
	step "installing gcc (go test -race needs cgo, and cgo a C compiler)"
	apt_install gcc libc6-dev
fi

# --- Chromium, for the e2e tests (CHROMIUM_PATH names another one, as the tests honour) ---
if [ -n "${CHROMIUM_PATH:-}" ]; then
	[ -x "$CHROMIUM_PATH" ] || echo "WARNING: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable; the browser tests will fail"
elif [ ! -x /usr/bin/chromium ]; then
	step "installing chromium"
	apt_install chromium || echo "WARNING: could not install chromium; the browser tests will fail (apt-get install -y chromium)"
fi

# --- npm packages, for the CSS build ---
if [ ! -d node_modules ]; then
	step "npm ci"
	if ! command -v npm >/dev/null; then apt_install nodejs npm; fi
	npm ci --no-audit --no-fund </dev/null
fi

# --- PostgreSQL for the store tests: SMTPDESK_TEST_POSTGRES, by default a local server on
# 127.0.0.1:5432 with a database "test", which this script installs and starts when it is missing.
# Another SMTPDESK_TEST_POSTGRES is used as it is; SMTPDESK_SKIP_POSTGRES=1 skips those tests. ---
default_pg="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
pg_up() { command -v pg_isready >/dev/null && pg_isready -q -d "$SMTPDESK_TEST_POSTGRES"; }
start_cluster() {
	local v started=""
	for v in $(ls /etc/postgresql 2>/dev/null); do
		# Exit status 2 is pg_ctlcluster's "already running" (apt's install may have started it).
		if as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start </dev/null; then started=1
		elif [ $? = 2 ]; then started=1; fi
	done
	# Nothing started (no cluster yet, or no right to start one): no server to wait 30 s for.
	[ -n "$started" ] || return 1
	for _ in $(seq 1 30); do pg_up && return 0; sleep 1; done
	return 1
}
if [ "${SMTPDESK_SKIP_POSTGRES:-}" = 1 ]; then
	step "PostgreSQL tests skipped (SMTPDESK_SKIP_POSTGRES=1)"
elif [ "$SMTPDESK_TEST_POSTGRES" != "$default_pg" ]; then
	if ! pg_up && ! psql "$SMTPDESK_TEST_POSTGRES" -c 'select 1' >/dev/null 2>&1; then
		echo "ERROR: the PostgreSQL server SMTPDESK_TEST_POSTGRES names does not answer." >&2
		echo "       Start it, unset SMTPDESK_TEST_POSTGRES to use a local one on 127.0.0.1:5432 (installed if missing)," >&2
		echo "       or set SMTPDESK_SKIP_POSTGRES=1 to skip the PostgreSQL tests." >&2
		exit 1
	fi
else
	if ! pg_up; then
		step "starting PostgreSQL"
		if ! start_cluster; then
			if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
				apt_install postgresql postgresql-client || true
			fi
			start_cluster || true
		fi
	fi
	if ! pg_up; then
		echo "ERROR: no PostgreSQL answers on 127.0.0.1:5432 and none could be installed or started." >&2
		echo "       Install it (apt-get install -y postgresql) and start it (as root: pg_ctlcluster VERSION main start," >&2
		echo "       or systemctl start postgresql), set SMTPDESK_TEST_POSTGRES to another" >&2
		echo "       server, or set SMTPDESK_SKIP_POSTGRES=1 to skip the PostgreSQL tests." >&2
		exit 1
	fi
	# Trust local TCP connections for the test user and create the database (idempotent).
	if command -v psql >/dev/null; then
		if ! psql "$SMTPDESK_TEST_POSTGRES" -c 'select 1' >/dev/null 2>&1; then
			for hba in /etc/postgresql/*/main/pg_hba.conf; do
				[ -f "$hba" ] || continue
				if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
					as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
					as_root su postgres -c "psql -qc 'select pg_reload_conf()'" </dev/null >/dev/null || true
				fi
			done
			sleep 1
			as_root su postgres -c "createdb test" </dev/null 2>/dev/null || psql "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable" -qc 'create database test' 2>/dev/null || true
		fi
		if ! psql "$SMTPDESK_TEST_POSTGRES" -c 'select 1' >/dev/null 2>&1; then
			echo "ERROR: PostgreSQL runs but $SMTPDESK_TEST_POSTGRES does not answer; create the database or set SMTPDESK_TEST_POSTGRES." >&2
			exit 1
		fi
	fi
fi

step "go vet"
go vet ./...

step "staticcheck"
go tool staticcheck ./...

step "gofmt"
unformatted="$(find . -name '*.go' -not -path './node_modules/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l)"
if [ -n "$unformatted" ]; then
	echo "these files need gofmt:"; echo "$unformatted"; exit 1
fi

step "generated files (templ, CSS)"
# The generated files must be what their sources generate. They are compared with the working
# tree, not with the last commit, so that a developer's edited and regenerated files pass before
# they are committed; on CI's clean checkout the two are the same.
generated() { find views -name '*_templ.go' -print0 | sort -z | xargs -0 sha256sum; sha256sum static/dist/app.css; }
before="$(generated)"
go tool templ generate -path views >/dev/null
npm run --silent css >/dev/null 2>&1 || npm run css
after="$(generated)"
if [ "$before" != "$after" ]; then
	diff <(echo "$before") <(echo "$after") || true
	echo "generated files were stale (they are regenerated now): review and commit them, or run make generate css before the tests" >&2
	exit 1
fi

step "go test -race"
log="$(mktemp)"
SMTPDESK_SECRET_SCAN_DIR="$(mktemp -d)"
export SMTPDESK_SECRET_SCAN_DIR
keep_scan=""
trap 'rm -f "$log"; if [ -z "$keep_scan" ]; then rm -rf "$SMTPDESK_SECRET_SCAN_DIR"; fi' EXIT
set +e
go test -race -count=1 -p 2 -timeout 15m ./... 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -cE '^ok[[:space:]]' "$log" || true)
failed=$( (grep -E '^FAIL[[:space:]]+[^[:space:]]+' "$log" || true) | awk '{print $2}' | sort -u | wc -l)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

step "secret scan of the tests' logs and databases"
set +e
go run ./internal/secretscan/cmd/secretscan -min 1 -min-files 1 "$SMTPDESK_SECRET_SCAN_DIR"
scan_status=$?
set -e
if [ "$scan_status" -ne 0 ]; then
	keep_scan=1
	echo "SECRET SCAN FAILED: a secret appears in the test suite's log output or database files (see above), or the scan could not run; the files are kept in $SMTPDESK_SECRET_SCAN_DIR" >&2
	failed=$((failed + 1))
	status=1
fi
echo
echo "the run took ${SECONDS}s"
echo "${passed} passed, ${failed} failed"
exit "$status"
