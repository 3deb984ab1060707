import { describe, expect, it } from 'vitest';
import { EngineError, invalidInput, mcpProtocolErrorCode, notFound } from '../../src/errors.js';

describe('MCP protocol error codes', () => {
  it('answers a missing resource with -32002 and a bad prompt argument with -32602', () => {
    expect(mcpProtocolErrorCode('resources/read', notFound('no run "x"'))).toBe(-32002);
    expect(mcpProtocolErrorCode('prompts/get', notFound('no collection "x"'))).toBe(-32602);
    expect(mcpProtocolErrorCode('prompts/get', invalidInput('collection: expected ...'))).toBe(-32602);
    expect(mcpProtocolErrorCode('resources/read', invalidInput('bad uri'))).toBe(-32602);
    expect(mcpProtocolErrorCode('resources/read', new EngineError('FORBIDDEN', 'needs rag:read'))).toBe(-32003);
    expect(mcpProtocolErrorCode('resources/read', new EngineError('INTERNAL', 'x'))).toBe(-32603);
  });
});
