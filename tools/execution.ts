/*
 * Execution operations: what the executor under DAG nodes is doing in this process.
 */
import { z } from 'zod';
import { defineOperation } from '../src/surface/operation.js';

export const executionStatus = defineOperation({
  name: 'execution_status',
  engine: 'execution',
  title: 'Executor status',
  description: "This process's executor: queue depth, in flight, per-action counts and latencies.",
  input: z.object({}),
  output: z.object({
    queued: z.number().describe('Waiting.'),
    inFlight: z.number().describe('Running.'),
    actions: z
      .array(
        z.object({
          action: z.string().describe('Action.'),
          succeeded: z.number().describe('OK.'),
          failed: z.number().describe('Failed.'),
          meanMs: z.number().describe('Mean ms.'),
          p95Ms: z.number().describe('p95 ms.'),
        }),
      )
      .describe('Per action.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'execution:read',
  async handler(_input, { engines }) {
    const { queued, inFlight } = engines.execution.status();
    return { queued, inFlight, actions: engines.execution.stats.figures() };
  },
});

export const EXECUTION_OPERATIONS = [executionStatus];
