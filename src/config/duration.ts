/*
 * Durations in configuration ("30s", "15m", "24h", "7d") as seconds.
 */
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

export function durationSeconds(value: string): number {
  const match = /^(\d+)([smhd])$/.exec(value);
  if (!match) throw new Error(`expected a duration like "24h", "30m" or "7d", got ${JSON.stringify(value)}`);
  return Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
}
