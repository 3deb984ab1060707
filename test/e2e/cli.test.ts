/*
 * The `mcp-level3` command line: flags, refusals and messages.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectOperations } from '../../tools/index.js';
import { connectStdio } from '../helpers/clients.js';
import { cleanEnv, runCli } from '../helpers/cli.js';

describe('mcp-level3 command', () => {
  it('prints its version and usage', async () => {
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stderr).toContain('mcp-level3 http [options]');
    expect(help.stdout).toBe('');
  });

  it('rejects unknown flags and commands with the usage', async () => {
    const flag = await runCli(['http', '--prot', '9000']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/Unknown option '--prot'/);
    const command = await runCli(['serve']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('unknown command "serve"; use "stdio", "http", "apikey", "ingest" or "rag"');
  });

  it('stops on an invalid configuration, naming file, key and expectation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-cfg-'));
    writeFileSync(join(dir, 'api-routes.yaml'), 'api_version: v1\nbase_path: /api/v1\nprotocol: [REST]\nextra: 1\n');
    const result = await runCli(['http', '--config', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/configuration is invalid:\n\s+.*api-routes\.yaml: unknown key "extra"/);
    const env = await runCli(['http'], cleanEnv({ DAG_MAX_NODES: 'ten' }));
    expect(env.stderr).toContain('engine_map.DAG_engine.settings.maxNodes: expected a positive integer, got "ten"');
  });

  it('reads .env from the working directory, letting variables already set win', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-env-'));
    writeFileSync(join(dir, '.env'), 'DAG_MAX_NODES=ten\n');
    const fromFile = await runCli(['http', '--port', '0'], cleanEnv(), { cwd: dir });
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toContain('maxNodes: expected a positive integer, got "ten"');
    const overridden = await runCli(['http', '--port', '0'], cleanEnv({ DAG_MAX_NODES: 'eleven' }), { cwd: dir });
    expect(overridden.stderr).toContain('got "eleven"');
  });

  it('refuses to bind a non-loopback address without authentication, saying how to proceed', async () => {
    // No key in this (empty) database, so api_key.enabled auto does not count as configured.
    const result = await runCli(['http', '--host', '0.0.0.0', '--port', '0', '--data-dir', 'memory://'], cleanEnv(), { timeoutMs: 60_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('refusing to bind 0.0.0.0 without authentication');
    expect(result.stderr).toContain('--insecure-no-auth');
  });

  it('rejects an unknown toolset', async () => {
    const result = await runCli(['--toolsets', 'registry,regsitry']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown toolset "regsitry"');
  });

  it('exposes only the chosen toolsets, and only read-only tools with --read-only', async () => {
    const validationOnly = await connectStdio('v2', ['--data-dir', 'memory://', '--toolsets', 'validation']);
    expect((await validationOnly.listTools()).tools.map((t) => t.name).sort()).toEqual(['validation_list_schemas', 'validation_register_schema', 'validation_validate']);
    await validationOnly.close();
    const readOnly = await connectStdio('v2', ['--data-dir', 'memory://', '--read-only']);
    const tools = (await readOnly.listTools()).tools;
    expect(tools.map((t) => t.name).sort()).toEqual(selectOperations({ readOnly: true }).map((op) => op.name).sort());
    expect(tools.map((t) => t.name)).not.toContain('registry_publish');
    await expect(readOnly.callTool({ name: 'registry_publish', arguments: {} })).rejects.toThrow(/registry_publish/);
    await readOnly.close();
  });
  // A second process on one data directory: test/e2e/data-dir-lock.test.ts.
});
