# syntax=docker/dockerfile:1
# SMTP Desk: multi-stage build. Configuration is by environment only (see `web -help`).

# 1. CSS: Tailwind scans views/**/*.templ.
FROM node:22-bookworm-slim AS css
WORKDIR /src
COPY package.json package-lock.json tailwind.config.js ./
RUN npm ci --no-audit --no-fund
COPY views ./views
COPY static ./static
RUN npm run css

# 2. Go: generate templ code and build a static binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=css /src/static/dist/app.css ./static/dist/app.css
RUN go tool templ generate -path views \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/web ./cmd/web \
 && mkdir -p /out/data

# 3. Runtime: distroless, non-root, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/web /web
# The SQLite file's home (mount a volume here); unused with a postgres:// DATABASE_URL.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
# No DATABASE_URL here: the default, smtpdesk.db in the working directory, is /data/smtpdesk.db,
# and an image value would make DATABASE_URL_FILE (a postgres:// URL with its password) a
# "both are set" error.
ENV SMTPDESK_LISTEN=:8080
WORKDIR /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/web", "healthcheck"]
ENTRYPOINT ["/web"]
