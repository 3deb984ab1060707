/*
 * Field schemas shared by several operations, each described for an LLM.
 */
// Only the validator: all of semver costs a stdio server tens of ms before it can answer
// `initialize` (these schemas are built at load); the registry engine loads the rest later.
import valid from 'semver/functions/valid.js';
import { z } from 'zod';

export const artifactName = () =>
  z
    .string()
    .min(3)
    .max(128)
    .regex(/^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*$/, { error: 'expected "namespace/name" in lower case letters, digits, ".", "_" or "-", e.g. "acme/churn-model"' })
    .describe('Artifact name as "namespace/name", lower case, e.g. "acme/churn-model".');

export const artifactVersion = () =>
  z
    .string()
    .max(128)
    .refine((v) => valid(v) === v, { error: 'expected a semantic version like "1.2.0" or "2.0.0-rc.1"' })
    .describe('Semantic version, e.g. "1.2.0" or "2.0.0-rc.1".');

export const mediaType = () =>
  z
    .string()
    .max(255)
    .regex(/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*(\s*;.*)?$/i, { error: 'expected a media type like "application/json"' });

export const isoTime = () => z.string().describe('ISO 8601 timestamp (UTC).');

export const labels = () =>
  z
    .record(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/, { error: 'label keys are letters, digits, ".", "_", "/" or "-" (at most 63)' }),
      z.string().max(256),
    )
    .refine((v) => Object.keys(v).length <= 64, { error: 'at most 64 labels' });

/**
 * An output list whose items are plain objects, named in the description instead of spelled
 * out as a schema: every agent pays for tools/list in tokens.
 */
export const leanList = (description: string) => z.array(z.unknown().meta({ type: 'object' })).describe(description);

/** A string of at most max characters (and not empty unless optional), checked by refinement so the tool schema stays short. */
export const boundedText = (max: number, optional = false) =>
  z.string().refine((v) => (optional || v.length > 0) && v.length <= max, { error: `expected ${optional ? 'at most' : '1 to'} ${max} characters` });
