#!/usr/bin/env python3
"""End-to-end check of mcp-level3 with the official Python MCP SDK (PyPI `mcp`).

A client written by others, in another language: if the server's wire format drifts
from the spec, this is where it shows.

Usage:
  client_e2e.py stdio <node> <dist/bundle/cli.js> [--era legacy|modern]
  client_e2e.py http <http://127.0.0.1:PORT/mcp> [--era legacy|modern]

--era legacy (default) connects with the initialize handshake (2025-era protocol);
--era modern connects with server/discover (2026-07-28), where the SDK has it.

Runs, for real: connect, list_tools, registry_publish, registry_get (alias "latest"),
a bad registry_get that must come back as an isError result, resources/read of the
artifact, list_prompts and get_prompt registry_review. Progress goes to stderr.
Exit 0 with one JSON line {"ok": true, "checks": N, ...} on stdout, or exit 1 with
{"ok": false, "checks": <passed so far>, "failed": "<check>: <what>"}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import sys
import traceback
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import quote

import anyio
import mcp

if sys.version_info < (3, 11):  # pragma: no cover - anyio brings the backport on 3.10
    from exceptiongroup import BaseExceptionGroup
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

try:  # mcp >= 1.24 and 2.x
    from mcp.client.streamable_http import streamable_http_client as _http_client
except ImportError:  # older 1.x spelling
    from mcp.client.streamable_http import streamablehttp_client as _http_client  # type: ignore[no-redef]

EXPECTED_TOOLS = (
    "registry_publish",
    "registry_get",
    "registry_list",
    "registry_yank",
    "validation_register_schema",
    "validation_validate",
    "validation_list_schemas",
)
OVERALL_TIMEOUT_S = 45.0


class CheckFailed(Exception):
    pass


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.current = "connect"

    def start(self, name: str) -> None:
        self.current = name
        log(f"check: {name}")

    def ok(self, condition: Any, what: str) -> None:
        if not condition:
            raise CheckFailed(what)
        self.passed += 1


def log(message: str) -> None:
    print(f"[client_e2e] {message}", file=sys.stderr, flush=True)


def dump(value: Any) -> Any:
    """A pydantic model as JSON-able data (by alias, the wire shape)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, mode="json", exclude_none=True)
    return value


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in (result.content or []) if getattr(block, "type", None) == "text")


async def connect(stack: AsyncExitStack, args: argparse.Namespace) -> ClientSession:
    if args.transport == "stdio":
        params = StdioServerParameters(command=args.target[0], args=[args.target[1], "--data-dir", "memory://"])
        streams = await stack.enter_async_context(stdio_client(params, errlog=sys.stderr))
    else:
        streams = await stack.enter_async_context(_http_client(args.target[0]))
    # 2.x yields (read, write); 1.x streamable HTTP yields (read, write, get_session_id).
    read_stream, write_stream = streams[0], streams[1]
    return await stack.enter_async_context(ClientSession(read_stream, write_stream))


async def run(args: argparse.Namespace, checks: Checks) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        session = await connect(stack, args)

        # ---------------------------------------------------------------- connect
        if args.era == "modern":
            checks.start("discover")
            if not hasattr(session, "discover"):
                raise CheckFailed(f"mcp {version_of_mcp()} has no server/discover support; use --era legacy")
            result = await session.discover()
            checks.ok("2026-07-28" in (result.supported_versions or []), f"discover: supported_versions {result.supported_versions} lacks 2026-07-28")
            capabilities = result.capabilities
            server_name = session.server_info.name if session.server_info else None
            checks.ok(server_name in (None, "mcp-level3"), f"discover: server name {server_name!r}")
        else:
            checks.start("initialize")
            result = await session.initialize()
            checks.ok(result.server_info.name == "mcp-level3", f"initialize: serverInfo.name is {result.server_info.name!r}, expected 'mcp-level3'")
            capabilities = result.capabilities
        protocol_version = session.protocol_version if hasattr(session, "protocol_version") else getattr(result, "protocol_version", None)
        checks.ok(
            capabilities.tools is not None and capabilities.resources is not None and capabilities.prompts is not None,
            f"capabilities lack tools/resources/prompts: {dump(capabilities)}",
        )
        log(f"connected: protocol {protocol_version}")

        if args.era != "modern":
            checks.start("ping")
            await session.send_ping()
            checks.ok(True, "ping")

        # ---------------------------------------------------------------- tools/list
        checks.start("list_tools")
        tools: dict[str, Any] = {}
        cursor = None
        for _ in range(20):
            page = await session.list_tools(params=mcp.types.PaginatedRequestParams(cursor=cursor) if cursor else None)
            tools.update({tool.name: tool for tool in page.tools})
            cursor = page.next_cursor
            if not cursor:
                break
        missing = [name for name in EXPECTED_TOOLS if name not in tools]
        checks.ok(not missing, f"list_tools: missing {missing}; got {sorted(tools)}")
        for name in EXPECTED_TOOLS:
            schema = tools[name].output_schema
            checks.ok(isinstance(schema, dict) and schema.get("type") == "object", f"list_tools: {name} has no object outputSchema: {schema!r}")
            checks.ok(tools[name].input_schema.get("type") == "object", f"list_tools: {name} inputSchema is not an object schema")

        # ---------------------------------------------------------------- publish
        name = f"py/e2e-{secrets.token_hex(6)}"
        version = "1.0.0"
        text = f"hello from the Python MCP SDK {version_of_mcp()}\nnon-ASCII: h\u00e9llo \u2713 \u65e5\u672c\n"
        data = text.encode("utf-8")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        uri = f"registry://artifacts/{quote(name, safe='')}/{version}"

        checks.start("registry_publish")
        published = await session.call_tool("registry_publish", {"name": name, "version": version, "content": text, "labels": {"suite": "python-e2e"}})
        checks.ok(not published.is_error, f"registry_publish: isError: {text_of(published)}")
        sc = published.structured_content or {}
        checks.ok(sc.get("name") == name and sc.get("version") == version, f"registry_publish: structuredContent {sc}")
        checks.ok(sc.get("digest") == digest, f"registry_publish: digest {sc.get('digest')!r}, expected {digest!r}")
        checks.ok(sc.get("size") == len(data), f"registry_publish: size {sc.get('size')!r}, expected {len(data)}")
        checks.ok(sc.get("created") is True, f"registry_publish: created {sc.get('created')!r}, expected true")
        checks.ok(digest in text_of(published) and name in text_of(published), "registry_publish: the text block does not name the artifact and its digest")

        # ---------------------------------------------------------------- get latest
        checks.start("registry_get latest")
        got = await session.call_tool("registry_get", {"name": name, "alias": "latest"})
        checks.ok(not got.is_error, f"registry_get: isError: {text_of(got)}")
        gc = got.structured_content or {}
        checks.ok(gc.get("digest") == digest, f"registry_get: digest {gc.get('digest')!r}, expected {digest!r}")
        checks.ok(gc.get("version") == version and gc.get("name") == name, f"registry_get: {gc.get('name')}@{gc.get('version')}")
        checks.ok(gc.get("content") == text and gc.get("encoding") == "utf8", f"registry_get: content {gc.get('content')!r} ({gc.get('encoding')})")
        checks.ok(gc.get("mediaType") == "text/plain" and gc.get("size") == len(data), f"registry_get: mediaType/size {gc.get('mediaType')} {gc.get('size')}")
        checks.ok(gc.get("labels") == {"suite": "python-e2e"} and gc.get("yanked") is False, f"registry_get: labels/yanked {gc.get('labels')} {gc.get('yanked')}")
        checks.ok(gc.get("contentUri") == uri, f"registry_get: contentUri {gc.get('contentUri')!r}, expected {uri!r}")
        checks.ok(gc.get("createdAt") == sc.get("createdAt"), "registry_get: createdAt differs from the publish result")
        checks.ok(text_of(got).endswith(text) and digest in text_of(got), "registry_get: the text block does not hold the digest and the content as it is")

        # ---------------------------------------------------------------- bad call
        checks.start("registry_get bad version")
        bad = await session.call_tool("registry_get", {"name": name, "version": "not-semver"})
        message = text_of(bad)
        checks.ok(bad.is_error is True, f"registry_get with version 'not-semver': expected isError true, got {dump(bad)}")
        checks.ok("version" in message.lower(), f"registry_get with version 'not-semver': message does not mention version: {message!r}")

        # ---------------------------------------------------------------- resource
        checks.start("resources/read")
        read = await session.read_resource(uri)
        checks.ok(len(read.contents) == 1, f"read_resource {uri}: {len(read.contents)} contents")
        content = read.contents[0]
        checks.ok(str(content.uri) == uri, f"read_resource: uri {content.uri!r}, expected {uri!r}")
        checks.ok(getattr(content, "text", None) == text, f"read_resource: text {getattr(content, 'text', None)!r}")
        checks.ok(content.mime_type == "text/plain", f"read_resource: mimeType {content.mime_type!r}")

        checks.start("resources/templates/list")
        templates = await session.list_resource_templates()
        checks.ok(
            any(t.uri_template == "registry://artifacts/{name}/{version}" for t in templates.resource_templates),
            f"list_resource_templates: {[t.uri_template for t in templates.resource_templates]}",
        )

        # ---------------------------------------------------------------- prompts
        checks.start("prompts/list")
        prompts = {p.name: p for p in (await session.list_prompts()).prompts}
        checks.ok("registry_review" in prompts, f"list_prompts: no registry_review in {sorted(prompts)}")
        arg_names = {a.name for a in (prompts["registry_review"].arguments or [])}
        checks.ok({"name", "version"} <= arg_names, f"list_prompts: registry_review arguments {sorted(arg_names)}")

        checks.start("prompts/get registry_review")
        prompt = await session.get_prompt("registry_review", {"name": name, "version": version})
        checks.ok(len(prompt.messages) >= 1, "get_prompt: no messages")
        body = getattr(prompt.messages[0].content, "text", "")
        checks.ok(prompt.messages[0].role == "user", f"get_prompt: role {prompt.messages[0].role!r}")
        checks.ok(f"{name}@{version}" in body and text in body and digest in body, f"get_prompt: message lacks the name, digest or content: {body[:300]!r}")

        return {"protocolVersion": protocol_version}


def leaf_exceptions(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups: anyio task groups wrap what the checks raise."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaf_exceptions(inner)]
    return [error]


def describe(error: BaseException) -> str:
    if isinstance(error, CheckFailed):
        return str(error)
    if isinstance(error, TimeoutError):
        return f"timed out (whole run limited to {OVERALL_TIMEOUT_S:.0f}s)"
    return f"{type(error).__name__}: {error}"


def version_of_mcp() -> str:
    try:
        from importlib.metadata import version

        return version("mcp")
    except Exception:  # pragma: no cover
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("target", nargs="+", help="stdio: <node> <cli.js>; http: <url>")
    parser.add_argument("--era", choices=["legacy", "modern"], default="legacy")
    args = parser.parse_args()
    if args.transport == "stdio" and len(args.target) != 2:
        parser.error("stdio needs <node> <cli.js>")
    if args.transport == "http" and len(args.target) != 1:
        parser.error("http needs <url>")

    checks = Checks()
    summary: dict[str, Any] = {"transport": args.transport, "era": args.era, "mcp": version_of_mcp()}

    async def guarded() -> dict[str, Any]:
        with anyio.fail_after(OVERALL_TIMEOUT_S):
            return await run(args, checks)

    try:
        extra = anyio.run(guarded)
    except BaseException as error:  # noqa: BLE001 - report anything, including exception groups
        if isinstance(error, KeyboardInterrupt):
            raise
        leaves = leaf_exceptions(error)
        if not all(isinstance(leaf, CheckFailed) for leaf in leaves):
            traceback.print_exc(file=sys.stderr)
        failure = "; ".join(describe(leaf) for leaf in leaves)
        if not failure.startswith(f"{checks.current}:"):
            failure = f"{checks.current}: {failure}"
    else:
        print(json.dumps({"ok": True, "checks": checks.passed, **summary, **extra}), flush=True)
        return 0
    log(f"FAILED {failure}")
    print(json.dumps({"ok": False, "checks": checks.passed, "failed": failure, **summary}), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
