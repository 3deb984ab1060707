/*
 * Policy targets
 * ==============
 * A policy applies to an operation by name, or to `promotion` (the promotion engine's gate).
 * A misspelled target would be stored and never fire, so it is refused with the closest name.
 */
import { invalidInput } from '../src/errors.js';
import { closestName } from '../src/surface/unknown-arguments.js';

/** Every name a policy may target (all operations, enabled or not, and `promotion`). */
export async function policyTargets(): Promise<string[]> {
  // Imported at call time: index.ts imports the operation files that import this one.
  const { ALL_OPERATIONS } = await import('./index.js');
  return [...ALL_OPERATIONS.map((op) => op.name), 'promotion'];
}

export async function assertPolicyTarget(target: string, field = 'target'): Promise<void> {
  const targets = await policyTargets();
  if (targets.includes(target)) return;
  const suggestion = closestName(target, targets);
  throw invalidInput(
    `${field}: "${target}" is not an operation name or "promotion"${suggestion ? `; did you mean "${suggestion}"?` : `; targets are operation names such as "registry_publish", or "promotion"`}`,
  );
}
