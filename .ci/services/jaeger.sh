#!/usr/bin/env bash
# Start a real Jaeger (v2: an OpenTelemetry Collector distribution) on 127.0.0.1 for the
# tracing tests: it receives OTLP over HTTP and answers trace queries on its HTTP API.
#
# The binary is built once from the Go module proxy's source (`go get -tool` + `go build`)
# and kept under $CI_SERVICES_DIR/jaeger/bin; later runs reuse it. Storage is in memory.
#
# Env:
#   CI_SERVICES_DIR      base dir for the binary, config, pid and log (default /tmp/mcp-ci-services)
#   JAEGER_VERSION       module version (default v1.76.0; the v1.x tags build the v2 binary)
#   JAEGER_OTLP_PORT     OTLP/HTTP receiver port (default 18618)
#   JAEGER_QUERY_PORT    query HTTP API and UI port (default 18686)
#
# Progress goes to stderr; the last two stdout lines are
#   OTEL_TEST_ENDPOINT=http://127.0.0.1:<otlp port>     (the OTLP/HTTP base URL)
#   JAEGER_QUERY_URL=http://127.0.0.1:<query port>
set -euo pipefail

log() { echo "[jaeger.sh] $*" >&2; }
die() { echo "[jaeger.sh] ERROR: $*" >&2; exit 1; }

BASE="${CI_SERVICES_DIR:-/tmp/mcp-ci-services}"
VERSION="${JAEGER_VERSION:-v1.76.0}"
OTLP_PORT="${JAEGER_OTLP_PORT:-18618}"
QUERY_PORT="${JAEGER_QUERY_PORT:-18686}"
# Ports the config must name although nothing here uses them (gRPC receivers, health).
OTLP_GRPC_PORT=$((OTLP_PORT - 1))
QUERY_GRPC_PORT=$((QUERY_PORT - 1))
HEALTH_PORT=$((QUERY_PORT + 1))
TIMEOUT=60

JROOT="$BASE/jaeger"
BIN="$JROOT/bin/jaeger"
CONFIG="$JROOT/config.yaml"
LOGFILE="$JROOT/jaeger.log"
PIDFILE="$JROOT/jaeger.pid"
mkdir -p "$JROOT/bin"

# ---------------------------------------------------------------- binary
# jaeger's go.mod has replace directives, so `go install module@version` refuses it; a
# throw-away module that requires it as a tool builds it instead.
if [ ! -x "$BIN" ] || [ "$(cat "$JROOT/version" 2>/dev/null)" != "$VERSION" ]; then
  command -v go >/dev/null 2>&1 || die "go not found (needed to build jaeger)"
  log "building github.com/jaegertracing/jaeger/cmd/jaeger@$VERSION (once; several minutes on 2 cores)"
  build_started=$(date +%s)
  mkdir -p "$JROOT/src"
  (
    cd "$JROOT/src"
    [ -f go.mod ] || go mod init mcp-ci-jaeger >&2
    go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$VERSION" >&2
    # nice: the build shares the machine with whatever else runs.
    GOFLAGS="-buildvcs=false -trimpath" nice -n 10 go build -o "$BIN" github.com/jaegertracing/jaeger/cmd/jaeger >&2
  ) || die "building jaeger@$VERSION failed"
  echo "$VERSION" >"$JROOT/version"
  log "built in $(( $(date +%s) - build_started ))s"
fi

# ---------------------------------------------------------------- config
# All-in-one on loopback with in-memory storage; the collector's own telemetry is off so
# it opens no port of its own.
cat >"$CONFIG" <<EOF
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:$HEALTH_PORT
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:$QUERY_PORT
    grpc:
      endpoint: 127.0.0.1:$QUERY_GRPC_PORT
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$OTLP_GRPC_PORT
      http:
        endpoint: 127.0.0.1:$OTLP_PORT
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
EOF

# ---------------------------------------------------------------- run
answers() { curl -fsS "http://127.0.0.1:$QUERY_PORT/api/services" >/dev/null 2>&1; }

if answers; then
  log "jaeger already answering on 127.0.0.1:$QUERY_PORT"
else
  if (exec 3<>"/dev/tcp/127.0.0.1/$OTLP_PORT") 2>/dev/null; then
    die "port $OTLP_PORT is in use by something that is not this jaeger"
  fi
  log "starting jaeger $VERSION (OTLP/HTTP 127.0.0.1:$OTLP_PORT, query 127.0.0.1:$QUERY_PORT; log: $LOGFILE)"
  nohup "$BIN" --config "$CONFIG" </dev/null >"$LOGFILE" 2>&1 &
  echo $! >"$PIDFILE"
  for ((i = 0; i < TIMEOUT * 4; i++)); do
    answers && break
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    sleep 0.25
  done
  if ! answers; then
    tail -n 30 "$LOGFILE" >&2 || true
    die "jaeger did not answer on 127.0.0.1:$QUERY_PORT within ${TIMEOUT}s"
  fi
fi
log "ready"
echo "OTEL_TEST_ENDPOINT=http://127.0.0.1:$OTLP_PORT"
echo "JAEGER_QUERY_URL=http://127.0.0.1:$QUERY_PORT"
