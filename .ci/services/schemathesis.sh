#!/usr/bin/env bash
# schemathesis (PyPI) in a venv, for the fuzz pass over the OpenAPI document (fuzz/run.sh).
#
# Creates $CI_SERVICES_DIR/schemathesis/venv (if missing) and pip-installs the pinned
# version; does nothing when it is already there.
#
# Env:
#   CI_SERVICES_DIR      base dir for the venv (default /tmp/mcp-ci-services)
#   SCHEMATHESIS_PKG     pip requirement (default schemathesis==4.32.5)
#   PYTHON               interpreter that creates the venv (default python3; needs >= 3.9)
#
# Progress goes to stderr; the last stdout line is SCHEMATHESIS=<venv>/bin/schemathesis
set -euo pipefail

log() { echo "[schemathesis.sh] $*" >&2; }
die() { echo "[schemathesis.sh] ERROR: $*" >&2; exit 1; }

BASE="${CI_SERVICES_DIR:-/tmp/mcp-ci-services}"
PKG="${SCHEMATHESIS_PKG:-schemathesis==4.32.5}"
VENV="$BASE/schemathesis/venv"
ST="$VENV/bin/schemathesis"

want="${PKG#*==}"
have="$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("schemathesis"))' 2>/dev/null || true)"
if [ -x "$ST" ] && [ "$have" = "$want" ]; then
  log "schemathesis $have already installed in $VENV"
else
  if [ ! -x "$VENV/bin/pip" ]; then
    HOST_PY="${PYTHON:-$(command -v python3 || true)}"
    [ -n "$HOST_PY" ] || die "python3 not found (needed to create $VENV)"
    mkdir -p "$(dirname "$VENV")"
    log "creating venv $VENV with $("$HOST_PY" -V 2>&1)"
    "$HOST_PY" -m venv "$VENV" >&2 || die "could not create venv at $VENV (is python3-venv installed?)"
  fi
  log "installing $PKG into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "$PKG" >&2 || die "pip install $PKG failed"
  [ -x "$ST" ] || die "$ST is missing after installing $PKG"
fi
echo "SCHEMATHESIS=$ST"
