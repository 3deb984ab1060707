#!/usr/bin/env bash
# Tool-schema portability as the MCP Inspector CLI judges it: `--strict` over tools/list of the
# built server (stdio, memory:// data dir) prints every problem with its path and a fix on
# stderr and exits 6 when one is error-severity (OpenAPI-subset clients would refuse the tool).
# The Inspector is installed once under $CI_SERVICES_DIR/inspector.
set -u
version=2.12.0
dir="${CI_SERVICES_DIR:-${TMPDIR:-/tmp}/mcp-level3-ci}/inspector"
launcher="$dir/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
if [ ! -f "$launcher" ]; then
  mkdir -p "$dir" && npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "@modelcontextprotocol/inspector@$version" >&2 \
    || { echo "inspector-strict: cannot install @modelcontextprotocol/inspector@$version" >&2; exit 1; }
fi
node "$launcher" --cli --strict node dist/bundle/cli.js --data-dir memory:// --method tools/list >/dev/null
status=$?
[ $status -eq 0 ] || echo "inspector-strict: the Inspector found error-severity schema problems (exit $status); see above" >&2
exit $status
