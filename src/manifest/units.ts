/**
 * Parsers for the manifest's value syntaxes (sizes, durations, ports, ulimits, …). Each returns
 * `{ value }` or `{ error }` with a sentence for the user, so that the schema and the plan share
 * one definition of every syntax.
 */
export type Parsed<T> = { value: T; error?: undefined } | { value?: undefined; error: string };

const ok = <T>(value: T): Parsed<T> => ({ value });
const fail = <T>(error: string): Parsed<T> => ({ error });

const BYTE_UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Docker's size syntax: a number of bytes, or "256m", "1g", "512k", "2GiB", "100mb" (binary units). */
export function parseBytes(v: unknown, { allowMinusOne = false } = {}): Parsed<number> {
  if (typeof v === 'number') {
    if (allowMinusOne && v === -1) return ok(-1);
    return Number.isInteger(v) && v >= 0
      ? ok(v)
      : fail(`expected a size like "256m" or a number of bytes, got ${v}`);
  }
  if (typeof v !== 'string')
    return fail(`expected a size like "256m" or a number of bytes, got ${describe(v)}`);
  if (allowMinusOne && v.trim() === '-1') return ok(-1);
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt])?(?:i?b)?$/i.exec(v.trim());
  if (!m) return fail(`"${v}" is not a size; use a number with a unit b, k, m or g, e.g. "256m"`);
  const unit = BYTE_UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1;
  return ok(Math.round(Number(m[1]) * unit));
}

/** Durations ("10s", "1m30s"; a bare number is refused): the one parser, src/common/duration.ts. */
export { parseDurationMs } from '../common/duration.js';

/** BOSH's watch time: "1000-30000" (min-max ms) or a single number of ms. */
export function parseWatchTime(v: unknown): Parsed<{ minMs: number; maxMs: number }> {
  const bad = `expected milliseconds like 30000 or a range "1000-30000", got ${describe(v)}`;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? ok({ minMs: v, maxMs: v }) : fail(bad);
  if (typeof v !== 'string') return fail(bad);
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(v);
  if (!m) return fail(bad);
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (max < min) return fail(`the watch time range "${v}" ends before it starts; write "min-max"`);
  return ok({ minMs: min, maxMs: max });
}

export type MaxInFlight = { kind: 'count'; count: number } | { kind: 'percent'; percent: number };

/** An integer ≥ 1 or "N%" (1–100). */
export function parseMaxInFlight(v: unknown): Parsed<MaxInFlight> {
  if (typeof v === 'number') {
    return Number.isInteger(v) && v >= 1
      ? ok({ kind: 'count', count: v })
      : fail(`max_in_flight must be an integer of at least 1 or a percentage like "25%", got ${v}`);
  }
  if (typeof v === 'string') {
    const m = /^\s*(\d+)\s*%\s*$/.exec(v);
    if (m && Number(m[1]) >= 1 && Number(m[1]) <= 100) return ok({ kind: 'percent', percent: Number(m[1]) });
    if (/^\s*\d+\s*$/.test(v) && Number(v) >= 1) return ok({ kind: 'count', count: Number(v) });
  }
  return fail(
    `max_in_flight must be an integer of at least 1 or a percentage like "25%", got ${describe(v)}`,
  );
}

/** BOSH's rule: a percentage of the group size, rounded down, but at least 1. */
export function resolveMaxInFlight(m: MaxInFlight, groupSize: number): number {
  if (m.kind === 'count') return m.count;
  return Math.max(1, Math.floor((m.percent * groupSize) / 100));
}

export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface PortBinding {
  /** Undefined: all interfaces. */
  hostIp?: string;
  /** Undefined: Docker picks a free host port. */
  hostPort?: number;
  containerPort: number;
  protocol: Protocol;
}

const PORT_HELP =
  'use "HOST:CONTAINER", "IP:HOST:CONTAINER" or "CONTAINER", optionally followed by "/tcp" or "/udp", e.g. "127.0.0.1:6379:6379/udp"';

/** Port ranges expand to one binding per port; more than this in one entry is refused. */
export const MAX_PORTS_PER_ENTRY = 1024;

type PortPart = { from: number; to: number } | undefined;

function portPart(p: string): PortPart | null {
  if (p === '') return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(p);
  if (!m) return null;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || to > 65535 || to < from) return null;
  return { from, to };
}

/**
 * Docker's -p syntax: "6379", "6379:6379", "127.0.0.1:6379:6379/udp", "[::1]:53:53/udp", and
 * ranges "8000-8010:8000-8010" or "8000-8010" (one binding per port, as Docker makes them).
 */
export function parsePortBindings(v: unknown): Parsed<PortBinding[]> {
  if (typeof v === 'number')
    return v >= 1 && v <= 65535 && Number.isInteger(v)
      ? ok([{ containerPort: v, protocol: 'tcp' }])
      : fail(`port ${v} is out of range 1-65535`);
  if (typeof v !== 'string') return fail(`expected a port mapping string, got ${describe(v)}; ${PORT_HELP}`);
  let rest = v.trim();
  let protocol: Protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp' && p !== 'sctp')
      return fail(`"${v}" has an unknown protocol "${p}"; ${PORT_HELP}`);
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIp: string | undefined;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(rest);
  if (v6) {
    hostIp = v6[1];
    rest = v6[2] ?? '';
  }
  const parts = rest.split(':');
  if (!v6 && parts.length === 3) hostIp = parts.shift();
  if (parts.length > 2 || (v6 && parts.length !== 2))
    return fail(`"${v}" is not a port mapping; ${PORT_HELP}`);
  if (hostIp !== undefined && hostIp !== '' && !/^[0-9.]+$|:/.test(hostIp))
    return fail(`"${hostIp}" in "${v}" is not an IP address; ${PORT_HELP}`);
  const ranges = parts.map(portPart);
  if (ranges.some((r) => r === null))
    return fail(`"${v}" contains a port that is not a number (or a range like 8000-8010) in 1-65535; ${PORT_HELP}`);
  const container = ranges[ranges.length - 1];
  if (!container) return fail(`"${v}" has no container port; ${PORT_HELP}`);
  const host = ranges.length === 2 ? ranges[0] : undefined;
  const count = container.to - container.from + 1;
  if (host && host.to - host.from + 1 !== count && count !== 1)
    return fail(`"${v}": the host range and the container range must have the same number of ports`);
  if (host && count === 1 && host.to !== host.from)
    return fail(`"${v}": a host port range needs a container range of the same length`);
  if (count > MAX_PORTS_PER_ENTRY)
    return fail(`"${v}" spans ${count} ports; one entry may span at most ${MAX_PORTS_PER_ENTRY}`);
  const out: PortBinding[] = [];
  for (let i = 0; i < count; i++) {
    const b: PortBinding = { containerPort: container.from + i, protocol };
    if (host) b.hostPort = host.from + i;
    if (hostIp) b.hostIp = hostIp;
    out.push(b);
  }
  return ok(out);
}

/** One port binding (no range); see parsePortBindings. */
export function parsePortBinding(v: unknown): Parsed<PortBinding> {
  const r = parsePortBindings(v);
  if (r.error !== undefined) return fail(r.error);
  if (r.value.length !== 1) return fail(`"${String(v)}" is a port range; one port is expected here`);
  return ok(r.value[0] as PortBinding);
}

/** Exposed ports: 8080, "8080/udp" or a range "8000-8010". */
export function parseExposedPorts(v: unknown): Parsed<Array<{ port: number; protocol: Protocol }>> {
  const p = parsePortBindings(v);
  if (p.error !== undefined) return fail(p.error.replace(PORT_HELP, 'use "PORT", "PORT/udp" or "FROM-TO"'));
  if (p.value.some((b) => b.hostPort !== undefined || b.hostIp !== undefined))
    return fail(
      `"${String(v)}" maps a host port; expose_ports takes only a container port like "8080" or "8080/udp" (use bind_ports to publish it)`,
    );
  return ok(p.value.map((b) => ({ port: b.containerPort, protocol: b.protocol })));
}

/** One exposed port; see parseExposedPorts. */
export function parseExposedPort(v: unknown): Parsed<{ port: number; protocol: Protocol }> {
  const r = parseExposedPorts(v);
  if (r.error !== undefined) return fail(r.error);
  if (r.value.length !== 1) return fail(`"${String(v)}" is a port range; one port is expected here`);
  return ok(r.value[0] as { port: number; protocol: Protocol });
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/** "nofile=1024:2048", "nproc=512" or {name, soft, hard}. */
export function parseUlimit(v: unknown): Parsed<Ulimit> {
  const help = 'use "NAME=SOFT:HARD" or "NAME=LIMIT", e.g. "nofile=1024:2048"';
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const soft = o['soft'];
    const hard = o['hard'] ?? soft;
    if (typeof o['name'] === 'string' && Number.isInteger(soft) && Number.isInteger(hard))
      return ok({ Name: o['name'], Soft: soft as number, Hard: hard as number });
    return fail(`expected {name, soft, hard} with integer limits; or ${help}`);
  }
  if (typeof v !== 'string') return fail(`expected a ulimit string, got ${describe(v)}; ${help}`);
  const m = /^([a-z_]+)=(-?\d+)(?::(-?\d+))?$/.exec(v.trim());
  if (!m) return fail(`"${v}" is not a ulimit; ${help}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (hard !== -1 && soft > hard)
    return fail(`"${v}": the soft limit ${soft} is above the hard limit ${hard}`);
  return ok({ Name: m[1] ?? '', Soft: soft, Hard: hard });
}

export interface Device {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

/** "/dev/fuse", "/dev/sda:/dev/xvda" or "/dev/sda:/dev/xvda:rwm". */
export function parseDevice(v: unknown): Parsed<Device> {
  const help = 'use "/dev/HOST[:/dev/CONTAINER[:rwm]]"';
  if (typeof v !== 'string') return fail(`expected a device string, got ${describe(v)}; ${help}`);
  const parts = v.split(':');
  const [host, inContainer = host, perms = 'rwm'] = parts;
  if (parts.length > 3 || !host?.startsWith('/') || !inContainer?.startsWith('/') || !/^[rwm]+$/.test(perms))
    return fail(`"${v}" is not a device; ${help}`);
  return ok({ PathOnHost: host, PathInContainer: inContainer, CgroupPermissions: perms });
}

/**
 * Splits a command string the way a POSIX shell splits words (quotes and backslashes), without
 * any expansion: `$HOME` stays literally `$HOME`.
 */
export function splitWords(s: string): Parsed<string[]> {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1] ?? '')) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) return fail(`unterminated ${quote} quote in "${s}"`);
  if (inWord) words.push(cur);
  return ok(words);
}

/** "K=V" (V may contain "=", "," and newlines). */
export function parseKeyValue(v: unknown, what: string): Parsed<[string, string]> {
  if (typeof v !== 'string') return fail(`expected a "KEY=VALUE" string, got ${describe(v)}`);
  const eq = v.indexOf('=');
  if (eq <= 0) return fail(`"${truncate(v)}" is not a valid ${what}; write it as "KEY=VALUE"`);
  return ok([v.slice(0, eq), v.slice(eq + 1)]);
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `"${truncate(v)}"`;
  return `${typeof v} ${String(v)}`;
}

export function truncate(s: string, max = 60): string {
  const one = s.replace(/\n/g, '\\n');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
