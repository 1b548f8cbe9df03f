#!/bin/sh
# Load-test SMTP Desk against its performance budget and write docs/PERFORMANCE.md (see cmd/loadtest).
cd "$(dirname "$0")/.." && exec go run ./cmd/loadtest "$@"
