/*
 * What a surface call needs besides its own handler
 * =================================================
 * Resources and prompts run inside the one invoke path (scope, policy, audit), and often
 * read through an operation of their own engine. The path hands them this context.
 */
import type { z } from 'zod';
import type { Engines } from '../engines/engines.js';
import type { AnyOperation, Principal } from './operation.js';

/** Runs another operation through the invoke path, as the same caller. */
export type InvokeAs = <O extends AnyOperation>(operation: O, args: unknown) => Promise<z.output<O['output']>>;

export interface SurfaceContext {
  engines: Engines;
  principal: Principal;
  /** Another operation, through the whole path: its own scope, policies and audit record. */
  invoke: InvokeAs;
  /**
   * The handler of the operation this surface call is governed as, with the caller's
   * context, its input validated and its output checked, but without a second scope,
   * policy and audit pass: the surface call has had them, as that operation.
   */
  handle: InvokeAs;
}

/**
 * The operation whose policies govern a resource or prompt, and the input those policies
 * see: a read of `registry://artifacts/{name}/{version}` is checked as `registry_get` on
 * `{ name, version }`, so a deny policy on the tool holds on every surface.
 */
export interface GovernedAs<V> {
  operation: string;
  input(values: V): Record<string, unknown>;
}

/** Offers values for one argument; the path drops those the caller could not read. */
export type Completer<V> = (value: string, values: Partial<V>, ctx: SurfaceContext) => Promise<string[]>;
