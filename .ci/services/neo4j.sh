#!/usr/bin/env bash
# Start a real Neo4j Community server (Bolt, authentication on) on 127.0.0.1 for tests.
#
# Neo4j comes from Maven Central: neo4j/pom.xml resolves the embedded Community database
# (org.neo4j:neo4j, which includes the Bolt server) and its dependencies with
# `mvn dependency:copy-dependencies`, and neo4j/Neo4jTestServer.java, compiled here with
# javac, starts it with the Bolt connector on $NEO4J_HOST:$NEO4J_PORT, auth enabled, the
# password of user neo4j set, and a small heap and page cache; it runs until killed
# (stop.sh sends SIGTERM). Jars, classes and the store are cached under $CI_SERVICES_DIR/neo4j,
# so a second run only starts the JVM; a server that already answers is reused.
#
# Env:
#   CI_SERVICES_DIR   base dir for jars, classes, store and logs (default /tmp/mcp-ci-services)
#   NEO4J_PORT        Bolt port (default 57687)
#   NEO4J_VERSION     org.neo4j:neo4j version (default 5.26.30, the 5.x LTS line; Java 17 or 21)
#   NEO4J_HEAP        JVM max heap (default 512m)
#   NEO4J_PAGECACHE_MB  page cache in MiB (default 64)
#   NEO4J_JAVA_HOME   JDK to run with (default: $JAVA_HOME, else java/javac on PATH)
#   NEO4J_JAVA_OPTS   extra JVM options (word-split)
#
# Progress goes to stderr; the last three stdout lines are
#   NEO4J_URI=bolt://127.0.0.1:57687
#   NEO4J_USER=neo4j
#   NEO4J_PASSWORD=...
set -euo pipefail

log() { echo "[neo4j.sh] $*" >&2; }
die() { echo "[neo4j.sh] ERROR: $*" >&2; exit 1; }

BASE="${CI_SERVICES_DIR:-/tmp/mcp-ci-services}"
HOST=127.0.0.1
PORT="${NEO4J_PORT:-57687}"
VERSION="${NEO4J_VERSION:-5.26.30}"
HEAP="${NEO4J_HEAP:-512m}"
PAGECACHE_MB="${NEO4J_PAGECACHE_MB:-64}"
USER_NAME=neo4j
PASSWORD=mcp-test-password   # a fixed test password: loopback only, throwaway store
TIMEOUT=300                  # a cold JVM on a busy 2-core machine takes about a minute

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/neo4j" && pwd)"
ROOT="$BASE/neo4j"
LIB="$ROOT/lib-$VERSION"
CLASSES="$ROOT/classes"
HOME_DIR="$ROOT/home"          # Neo4j home: data/ (the store) and logs/debug.log
LOGFILE="$ROOT/neo4j.log"      # the launcher's stdout/stderr
PIDFILE="$ROOT/neo4j.pid"      # written by the launcher
READY="$ROOT/ready"            # "ready <version>", written by the launcher once Bolt takes the password
mkdir -p "$ROOT"

JDK="${NEO4J_JAVA_HOME:-${JAVA_HOME:-}}"
if [ -n "$JDK" ]; then JAVA="$JDK/bin/java"; JAVAC="$JDK/bin/javac"; else JAVA=java; JAVAC=javac; fi
command -v "$JAVA" >/dev/null 2>&1 || die "java not found (set NEO4J_JAVA_HOME or JAVA_HOME)"

pid_alive() {  # exists and is not a zombie
  local st
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  st="$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)"
  [ "$st" != "Z" ] && [ "$st" != "X" ]
}
server_pid() {  # the launcher's pid, when it is alive and really our launcher
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q Neo4jTestServer \
    && echo "$pid"
}
# A Bolt handshake: magic 0x6060B017 then four proposed versions (5.8..5.0, 4.4, 4.3, 4.2);
# a Bolt server answers with the 4-byte version it picked (non-zero).
bolt_ok() {
  local reply
  reply="$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x60\x60\xb0\x17\x00\x08\x08\x05\x00\x00\x04\x04\x00\x00\x03\x04\x00\x00\x02\x04" >&3
    head -c 4 <&3 | od -An -tx1 | tr -d " \n"' "$HOST" "$PORT" 2>/dev/null || true)"
  [ "${#reply}" = 8 ] && [ "$reply" != 00000000 ]
}
port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

print_env() {
  printf 'export NEO4J_URI=bolt://%s:%s NEO4J_USER=%s NEO4J_PASSWORD=%s\n' \
    "$HOST" "$PORT" "$USER_NAME" "$PASSWORD" >"$ROOT/env"
  echo "NEO4J_URI=bolt://$HOST:$PORT"
  echo "NEO4J_USER=$USER_NAME"
  echo "NEO4J_PASSWORD=$PASSWORD"
}

wait_ready() {  # wait_ready PID
  local i
  for ((i = 0; i < TIMEOUT * 2; i++)); do
    if [ -f "$READY" ] && bolt_ok; then return 0; fi
    if ! pid_alive "$1"; then
      log "last lines of $LOGFILE:"; tail -n 40 "$LOGFILE" >&2 || true
      die "neo4j exited before it was ready (see $LOGFILE and $HOME_DIR/logs/debug.log)"
    fi
    sleep 0.5
  done
  log "last lines of $LOGFILE:"; tail -n 40 "$LOGFILE" >&2 || true
  die "neo4j did not accept Bolt connections on $HOST:$PORT within ${TIMEOUT}s"
}

# ---------------------------------------------------------------- already running?
PID="$(server_pid || true)"
if [ -n "$PID" ]; then
  log "neo4j already running (pid $PID) on $HOST:$PORT"
  wait_ready "$PID"
  log "ready: Neo4j $(awk '{print $2}' "$READY")"
  print_env
  exit 0
fi
rm -f "$READY" "$PIDFILE"
port_in_use "$PORT" && die "port $PORT is in use by something else (not our neo4j; see NEO4J_PORT)"

# ---------------------------------------------------------------- jars (Maven Central)
if [ ! -f "$LIB/.complete" ]; then
  command -v mvn >/dev/null 2>&1 || die "mvn not found (needed to fetch org.neo4j:neo4j:$VERSION)"
  log "fetching org.neo4j:neo4j:$VERSION and its dependencies into $LIB (maven)"
  rm -rf "$LIB" "$LIB.tmp"
  mvn -q -B -Dstyle.color=never -f "$SRC/pom.xml" -Dneo4j.version="$VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" >&2 \
    || die "mvn could not resolve org.neo4j:neo4j:$VERSION"
  mv "$LIB.tmp" "$LIB"
  touch "$LIB/.complete"
fi

# ---------------------------------------------------------------- launcher class
STAMP="$VERSION $(sha1sum "$SRC/Neo4jTestServer.java" | cut -c1-40) $("$JAVA" -version 2>&1 | head -n1)"
if [ "$(cat "$CLASSES/.stamp" 2>/dev/null || true)" != "$STAMP" ]; then
  command -v "$JAVAC" >/dev/null 2>&1 || die "javac not found (a JDK is needed, not only a JRE)"
  log "compiling Neo4jTestServer.java"
  rm -rf "$CLASSES" && mkdir -p "$CLASSES"
  "$JAVAC" -proc:none -nowarn -d "$CLASSES" -cp "$LIB/*" "$SRC/Neo4jTestServer.java" >&2 \
    || die "javac failed"
  echo "$STAMP" >"$CLASSES/.stamp"
fi

# ---------------------------------------------------------------- start
log "starting Neo4j $VERSION on $HOST:$PORT with $("$JAVA" -version 2>&1 | head -n1) (log: $LOGFILE)"
mkdir -p "$HOME_DIR"
# The --add-opens and -D flags are the ones Neo4j's own launcher passes (page cache, native
# file access, Netty). setsid: the server outlives this script and its caller's process group.
setsid "$JAVA" -Xms64m -Xmx"$HEAP" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
  -XX:-OmitStackTraceInFastThrow -Dfile.encoding=UTF-8 \
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED \
  -Djdk.nio.maxCachedBufferSize=1024 -Dio.netty.tryReflectionSetAccessible=true \
  -Dneo4j.pagecache.mb="$PAGECACHE_MB" ${NEO4J_JAVA_OPTS:-} \
  -cp "$LIB/*:$CLASSES" Neo4jTestServer "$HOME_DIR" "$HOST" "$PORT" "$PASSWORD" "$ROOT" \
  </dev/null >"$LOGFILE" 2>&1 &
LAUNCHED=$!
for ((i = 0; i < 100; i++)); do
  PID="$(server_pid || true)"; [ -n "$PID" ] && break
  pid_alive "$LAUNCHED" || break
  sleep 0.1
done
[ -n "$PID" ] || PID="$LAUNCHED"
wait_ready "$PID"
log "ready: Neo4j $(awk '{print $2}' "$READY") (pid $PID)"
print_env
