import { formatBytes } from './limits.js';

/** The header the director puts before each container's log when it returns several. */
const SECTION_HEADER = /^==> .* <==$/m;

/**
 * Bounds what `GET …/logs` sends back: when the logs are larger than `maxBytes`, each container's
 * section keeps its last lines (an equal share of the limit each, cut at a line start) and says
 * what was cut, so that a huge log never becomes a huge response.
 */
export function capLogs(logs: string, maxBytes: number): string {
  if (Buffer.byteLength(logs) <= maxBytes) return logs;
  const sections = splitSections(logs);
  const share = Math.max(1, Math.floor(maxBytes / sections.length));
  return sections.map((s) => capSection(s.header, s.body, share)).join('\n');
}

function splitSections(logs: string): Array<{ header: string | null; body: string }> {
  if (!SECTION_HEADER.test(logs)) return [{ header: null, body: logs }];
  const parts = logs.split(/^(==> .* <==)\n?/m);
  const sections: Array<{ header: string | null; body: string }> = [];
  if (parts[0]) sections.push({ header: null, body: parts[0] });
  for (let i = 1; i < parts.length; i += 2) sections.push({ header: parts[i] ?? '', body: parts[i + 1] ?? '' });
  return sections;
}

function capSection(header: string | null, body: string, maxBytes: number): string {
  const head = header === null ? '' : `${header}\n`;
  const total = Buffer.byteLength(body);
  if (total <= maxBytes) return `${head}${body}`;
  const bytes = Buffer.from(body);
  let tail = bytes.subarray(bytes.length - maxBytes).toString('utf8');
  const firstNewline = tail.indexOf('\n');
  if (firstNewline !== -1 && firstNewline < tail.length - 1) tail = tail.slice(firstNewline + 1);
  const kept = Buffer.byteLength(tail);
  const note = `[bosun: log cut: showing the last ${formatBytes(kept)} of ${formatBytes(total)}; ask for fewer lines (--lines N) or look on the VM with \`bosun ssh GROUP/INDEX -c "docker logs --since 10m CONTAINER"\`]\n`;
  return `${head}${note}${tail}`;
}
