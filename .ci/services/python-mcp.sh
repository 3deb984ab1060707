#!/usr/bin/env bash
# A Python with the official MCP SDK (PyPI `mcp`), for test/e2e/python-client.test.ts.
#
# Creates a venv at $CI_SERVICES_DIR/python-mcp/venv (if missing) and pip-installs the
# pinned SDK into it; when the right version is already there it does nothing (fast).
#
# Env:
#   CI_SERVICES_DIR   base dir for the venv (default /tmp/mcp-ci-services)
#   PYTHON_MCP_PKG    pip requirement (default mcp==2.3.0)
#   PYTHON            interpreter that creates the venv (default python3; needs >= 3.10)
#
# Progress goes to stderr; the last stdout line is MCP_PYTHON=<venv>/bin/python
set -euo pipefail

log() { echo "[python-mcp.sh] $*" >&2; }
die() { echo "[python-mcp.sh] ERROR: $*" >&2; exit 1; }

BASE="${CI_SERVICES_DIR:-/tmp/mcp-ci-services}"
PKG="${PYTHON_MCP_PKG:-mcp==2.3.0}"
ROOT="$BASE/python-mcp"
VENV="$ROOT/venv"
PY="$VENV/bin/python"

mkdir -p "$ROOT"

# The installed SDK version, or nothing when the venv or the package is missing/broken.
installed_version() {
  [ -x "$PY" ] || return 0
  "$PY" - <<'EOF' 2>/dev/null || true
from importlib.metadata import version
import mcp.client.stdio, mcp.client.streamable_http  # noqa: F401 - the modules the e2e script uses
print(version("mcp"))
EOF
}

want="${PKG#*==}"
[ "$want" != "$PKG" ] || want=""   # an unpinned requirement: any installed version will do
have="$(installed_version)"

if [ -n "$have" ] && { [ -z "$want" ] || [ "$have" = "$want" ]; }; then
  log "mcp $have already installed in $VENV"
else
  if [ ! -x "$VENV/bin/pip" ]; then
    HOST_PY="${PYTHON:-$(command -v python3 || command -v python || true)}"
    [ -n "$HOST_PY" ] || die "python3 not found (needed to create $VENV)"
    "$HOST_PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
      || die "$HOST_PY is $("$HOST_PY" -V 2>&1); the mcp SDK needs Python >= 3.10"
    log "creating venv $VENV with $("$HOST_PY" -V 2>&1)"
    rm -rf "$VENV"
    "$HOST_PY" -m venv "$VENV" >&2 || die "could not create venv at $VENV (is python3-venv installed?)"
  fi
  log "installing $PKG into $VENV${have:+ (found mcp $have)}"
  "$VENV/bin/pip" install -q --disable-pip-version-check "$PKG" >&2 \
    || die "pip install $PKG failed"
  have="$(installed_version)"
  [ -n "$have" ] || die "mcp does not import from $PY after installing $PKG"
  log "installed mcp $have"
fi

echo "MCP_PYTHON=$PY"
