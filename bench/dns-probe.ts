/**
 * Run by bench/dns.ts inside a container's network namespace (nsenter --net): asks `count`
 * questions one after another, as a container's resolver does, and prints each one's latency.
 * `node dist/bench/dns-probe.js HOST PORT NAME COUNT` → JSON `{ samplesMs: number[], failures }`.
 */
import { performance } from 'node:perf_hooks';
import { askDns } from '../test/helpers/dns-client.js';

const [host = '127.0.0.11', port = '53', name = 'bosun', count = '200'] = process.argv.slice(2);
const samplesMs: number[] = [];
let failures = 0;
for (let i = 0; i < Number(count); i++) {
  const t0 = performance.now();
  try {
    const a = await askDns(host, Number(port), name, 'A', { timeoutMs: 2000 });
    if (a.answers.length === 0) failures++;
    samplesMs.push(performance.now() - t0);
  } catch {
    failures++;
  }
}
process.stdout.write(`${JSON.stringify({ samplesMs, failures })}\n`);
