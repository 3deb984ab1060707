/*
 * The audit log keeps arguments without the fields the one redaction list names
 * (logging.redact), the same list the logger masks headers with.
 */
import { describe, expect, it } from 'vitest';
import { recordedArguments } from '../../src/engines/governance/audit-log.js';
import { fieldMatcher } from '../../src/platform/redact.js';

describe('arguments in audit records', () => {
  it('masks the default list at any depth: upstream keys, tokens, passwords, credentials', () => {
    const recorded = JSON.parse(recordedArguments({ name: 'release', headers: { 'X-Upstream-Key': 'k', authorization: 'Bearer t' }, db: { password: 'p', credentials: 'c' } }, 'full')!);
    expect(recorded).toEqual({ name: 'release', headers: { 'X-Upstream-Key': '[redacted]', authorization: '[redacted]' }, db: { password: '[redacted]', credentials: '[redacted]' } });
  });

  it('follows a configured list instead of the default', () => {
    const recorded = JSON.parse(recordedArguments({ tenant: 'acme', token: 't' }, 'full', fieldMatcher(['tenant']))!);
    expect(recorded).toEqual({ tenant: '[redacted]', token: 't' });
  });

  it('stores strings over 1 KiB as their length and SHA-256', () => {
    const recorded = JSON.parse(recordedArguments({ content: 'x'.repeat(2000) }, 'full')!);
    expect(recorded.content).toMatch(/^\[2000 chars, sha256:[0-9a-f]{64}\]$/);
  });
});
