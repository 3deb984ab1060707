/*
 * JSONata under budgets (dag/expressions.ts): an evaluation is charged the time of its own
 * steps, stopped over expressionTimeoutMs or expressionMaxDepth, and gives the event loop
 * its turns while it runs.
 */
import { describe, expect, it } from 'vitest';
import { evaluate, ExpressionBudgetError, type ExpressionLimits } from '../../src/engines/dag/expressions.js';

const scope = { params: { x: 1 }, nodes: {} };
const limits: ExpressionLimits = { timeoutMs: 300, maxDepth: 200 };
const FOREVER = '($f := function($n){ $f($n + 1) }; $f(0))';

describe('expression budgets', () => {
  it('stops a tail-recursive loop by its time budget, naming the setting, while timers keep firing', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const error = await evaluate(FOREVER, scope, limits).catch((e: unknown) => e);
    clearInterval(timer);
    expect(error).toBeInstanceOf(ExpressionBudgetError);
    expect((error as Error).message).toMatch(/ran longer than expressionTimeoutMs \(300 ms, DAG_engine\.settings\.expressionTimeoutMs\)/);
    expect(ticks).toBeGreaterThan(0);
  });

  it('stops deep recursion by its depth budget, naming the setting; shallow recursion is fine', async () => {
    await expect(evaluate('($f := function($n){ 1 + $f($n + 1) }; $f(0))', scope, limits)).rejects.toThrow(/nested deeper than expressionMaxDepth \(200, DAG_engine\.settings\.expressionMaxDepth\)/);
    await expect(evaluate('($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(20))', scope, limits)).resolves.toBe(20);
  });

  it('charges each of several concurrent runaways its own steps, and cheap expressions nothing for time others took', async () => {
    const runaways = await Promise.allSettled([1, 2, 3].map(() => evaluate(FOREVER, scope, limits)));
    expect(runaways.every((r) => r.status === 'rejected' && r.reason instanceof ExpressionBudgetError)).toBe(true);

    // Other work holds the event loop longer than the budget between the cheap evaluations' turns.
    const busy = setInterval(() => {
      const until = performance.now() + 2 * limits.timeoutMs;
      while (performance.now() < until);
    }, 1);
    const cheap = await Promise.all(Array.from({ length: 10 }, (_, i) => evaluate(`$string(params.x) & "-${i}"`, scope, limits)));
    clearInterval(busy);
    expect(cheap).toEqual(Array.from({ length: 10 }, (_, i) => `1-${i}`));
  }, 30_000);
});

describe('regex literals', () => {
  it('are refused when read from a definition if RE2 cannot compile them', async () => {
    const { references, ExpressionError } = await import('../../src/engines/dag/expressions.js');
    expect(() => references('$match(nodes.a.text, /(x)\\1/)')).toThrow(ExpressionError);
    expect(() => references('$match(nodes.a.text, /(x)\\1/)')).toThrow(/cannot be used: .*backreferences/);
    expect([...references('$match(nodes.a.text, /^(a+)+$/)').nodes]).toEqual(['a']);
  });

  it('notices $secret, called or passed around', async () => {
    const { references } = await import('../../src/engines/dag/expressions.js');
    expect(references('"Bearer " & $secret("X")').secret).toBe(true);
    expect(references('($f := $secret; $f("X"))').secret).toBe(true);
    expect(references('nodes.a.secret & $string(params.secret)').secret).toBeUndefined();
  });
});
