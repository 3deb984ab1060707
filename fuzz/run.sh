#!/usr/bin/env bash
# Fuzz the HTTP surface of the built server: schemathesis against /api/docs/openapi.json,
# then fuzz/malformed.mjs against /mcp, /api/v1/rpc and the REST routes. A pass means no
# 5xx, no hang (every request answered within its deadline) and no crash (the server still
# answers /health and has not exited).
#
# Usage: fuzz/run.sh [--quick]            (npm run fuzz; CI runs --quick)
#
# Env:
#   CI_SERVICES_DIR   where schemathesis is installed (default /tmp/mcp-ci-services)
#   FUZZ_SUMMARY      summary JSON path {passed, failed, ...} (default $CI_SERVICES_DIR/fuzz-summary.json)
#   FUZZ_OUT          reports and the server log (default $CI_SERVICES_DIR/fuzz)
#   FUZZ_EXAMPLES     schemathesis examples per operation (default 50; 10 with --quick)
#   FUZZ_CASES        generated messages per malformed-message target (default 500; 100 with --quick)
#   FUZZ_SEED         seed for both (default: random; 1 with --quick, so CI is reproducible)
#
# Progress goes to stderr; the last stdout line is "N passed, M failed" (one unit per
# schemathesis-tested operation and per malformed-message target). Exits 1 on any failure.
set -uo pipefail

log() { echo "[fuzz] $*" >&2; }
die() { echo "[fuzz] ERROR: $*" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${CI_SERVICES_DIR:-/tmp/mcp-ci-services}"
OUT="${FUZZ_OUT:-$BASE/fuzz}"
SUMMARY="${FUZZ_SUMMARY:-$BASE/fuzz-summary.json}"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
EXAMPLES="${FUZZ_EXAMPLES:-$([ $QUICK = 1 ] && echo 10 || echo 50)}"
CASES="${FUZZ_CASES:-$([ $QUICK = 1 ] && echo 100 || echo 500)}"
SEED="${FUZZ_SEED:-$([ $QUICK = 1 ] && echo 1 || echo $((RANDOM * 32768 + RANDOM)))}"
NODE="$(command -v node)" || die "node not found on PATH"

ST="$(bash "$ROOT/.ci/services/schemathesis.sh" | tail -n 1 | sed 's/^SCHEMATHESIS=//')" || die "schemathesis could not be installed"
[ -f "$ROOT/dist/bundle/cli.js" ] || (cd "$ROOT" && npm run build >&2) || die "npm run build failed"

rm -rf "$OUT" && mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"  # the steps below run from other directories
SERVER_LOG="$OUT/server.log"
(cd "$ROOT" && exec env -u DATABASE_URL -u REDIS_URL -u NEO4J_URI "$NODE" dist/bundle/cli.js http --port 0 --data-dir memory://) </dev/null >/dev/null 2>"$SERVER_LOG" &
SERVER_PID=$!
cleanup() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for ((i = 0; i < 40; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

URL=""
for ((i = 0; i < 240; i++)); do
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$SERVER_LOG" >&2; die "the server exited during start-up"; }
  URL="$("$NODE" -e 'for (const l of require("node:fs").readFileSync(process.argv[1], "utf8").split("\n")) { try { const e = JSON.parse(l); if (e.msg === "mcp-level3 listening") { console.log(e.url); break; } } catch {} }' "$SERVER_LOG")"
  [ -n "$URL" ] && break
  sleep 0.25
done
[ -n "$URL" ] || die "the server did not start within 60 s (log: $SERVER_LOG)"
ORIGIN="${URL%/mcp}"
# The first request waits for the embedded database; fuzz a ready server.
for ((i = 0; i < 240; i++)); do
  "$NODE" -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$ORIGIN/ready" && break
  sleep 0.25
done
log "server at $ORIGIN (pid $SERVER_PID); schemathesis: $EXAMPLES examples per operation; malformed: $CASES cases per target; seed $SEED"

# ------------------------------------------------------------------ schemathesis
# Checks: no 5xx, documented statuses, content types, headers and response schemas, 405 with
# Allow for undocumented methods. Not negative_data_rejection/positive_data_acceptance: zod
# refinements (semver, "exactly one of") are stricter than any JSON Schema can say.
(cd "$OUT" && timeout --kill-after=10 "$([ $QUICK = 1 ] && echo 150 || echo 900)" "$ST" run "$ORIGIN/api/docs/openapi.json" \
  --url "$ORIGIN" --wait-for-schema 30 --request-timeout 30 --workers 1 --seed "$SEED" --max-examples "$EXAMPLES" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method,allow_header_conformance \
  --report junit --report-junit-path "$OUT/schemathesis.xml" >"$OUT/schemathesis.log" 2>&1)
st_code=$?
tail -n 25 "$OUT/schemathesis.log" >&2
log "schemathesis exited $st_code (full output: $OUT/schemathesis.log)"

# ------------------------------------------------------------------ malformed messages
"$NODE" "$ROOT/fuzz/malformed.mjs" "$ORIGIN" --cases "$CASES" --seed "$SEED" >"$OUT/malformed.json"
mal_code=$?
kill -0 "$SERVER_PID" 2>/dev/null
alive=$?
[ $alive -eq 0 ] || log "the server is no longer running (log: $SERVER_LOG)"

"$NODE" -e '
const fs = require("node:fs");
const [xmlPath, malformedPath, summaryPath, stCode, alive] = process.argv.slice(1);
let passed = 0, failed = 0;
const units = [];
// One unit per operation schemathesis tested (JUnit testcase); a run that wrote no report failed.
let xml = "";
try { xml = fs.readFileSync(xmlPath, "utf8"); } catch {}
const cases = [...xml.matchAll(/<testcase\b[^>]*name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)];
for (const c of cases) {
  const bad = /<(failure|error)\b/.test(c[3] ?? "");
  units.push({ name: `schemathesis ${c[1]}`, ok: !bad });
}
if (cases.length === 0) units.push({ name: "schemathesis", ok: false, why: `no report (exit ${stCode})` });
else if (Number(stCode) !== 0 && units.every((u) => u.ok)) units.push({ name: "schemathesis run", ok: false, why: `exit ${stCode}` });
let malformed;
try { malformed = JSON.parse(fs.readFileSync(malformedPath, "utf8").trim().split("\n").pop()); } catch {}
if (malformed) for (const t of malformed.targets) units.push({ name: `malformed ${t.name}`, ok: t.failures.length === 0, why: t.failures.slice(0, 3).join(" | ") });
else units.push({ name: "malformed messages", ok: false, why: "no result" });
units.push({ name: "server still running", ok: alive === "0" });
for (const u of units) (u.ok ? passed++ : failed++);
fs.writeFileSync(summaryPath, JSON.stringify({ passed, failed, units }, null, 2) + "\n");
for (const u of units) if (!u.ok) console.error(`[fuzz] FAIL ${u.name}${u.why ? `: ${u.why}` : ""}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
' "$OUT/schemathesis.xml" "$OUT/malformed.json" "$SUMMARY" "$st_code" "$alive"
