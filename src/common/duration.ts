/**
 * The one duration syntax of bosun, for the manifest (healthcheck, stop_timeout …) and the
 * director's config (agent_timeout, health:, resurrector: …) alike: a number with a unit, ms, s, m
 * or h, possibly several ("1m30s") and decimals ("1.5s"). A bare number is refused everywhere: its
 * unit would be a guess (milliseconds in one file, seconds in another).
 */
import { z } from 'zod';

export type ParsedDuration = { value: number; error?: undefined } | { value?: undefined; error: string };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export const DURATION_FORMS = '"500ms", "10s", "1m30s", "1.5s", "2h"';

export function parseDurationMs(v: unknown): ParsedDuration {
  if (typeof v === 'number') return { error: `${v} has no unit; write a duration like "${v}s" or "${v}ms"` };
  if (typeof v !== 'string') return { error: `expected a duration like "10s" or "500ms", got ${describe(v)}` };
  const s = v.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1);
    pos = re.lastIndex;
  }
  if (s === '' || pos !== s.length) return { error: `"${v}" is not a duration; use e.g. "10s", "500ms" or "1m30s"` };
  return { value: Math.round(total) };
}

/** A zod schema for a duration in a config file: the value becomes milliseconds. */
export const durationMsSchema = z.unknown().transform((v, ctx) => {
  const p = parseDurationMs(v);
  if (p.error !== undefined) {
    ctx.addIssue({ code: 'custom', message: p.error });
    return z.NEVER;
  }
  return p.value;
});

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `"${v.length > 60 ? `${v.slice(0, 59)}…` : v}"`;
  return `${typeof v} ${String(v)}`;
}
