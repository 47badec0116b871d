/**
 * Small CPI executables for tests: a node script that records each request (one JSON line in
 * `requests.jsonl`) and answers per method from a table. An answer is a full response object, or
 * a special: `{raw: TEXT, exit?: N}` (prints TEXT as is), `{sleep: MS}` (hangs, with a child
 * process in its group), `{env: true}` (answers its own environment), `{stderr: TEXT}` (prints it
 * to stderr before the answer given in `then`).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type FakeCpiAnswer =
  | { result: unknown; error: unknown; log?: string }
  | { raw: string; exit?: number }
  | { sleep: number; pidFile: string }
  | { env: true }
  | { stderr: string; then: FakeCpiAnswer };

export interface FakeCpi {
  /** Run as `process.execPath <script>`: the CPI command of an ExternalCloud. */
  path: string;
  args: string[];
  requests(): Array<{ method: string; arguments: unknown[]; context: Record<string, unknown>; api_version?: number }>;
  setAnswers(answers: Record<string, FakeCpiAnswer>): void;
  cleanup(): void;
}

const SCRIPT = String.raw`
const fs = require('fs');
const [dir] = process.argv.slice(2);
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => {
  const req = JSON.parse(input);
  fs.appendFileSync(dir + '/requests.jsonl', JSON.stringify(req) + '\n');
  const answers = JSON.parse(fs.readFileSync(dir + '/answers.json', 'utf8'));
  let a = answers[req.method] ?? answers['*'] ?? { result: null, error: { type: 'InvalidCall', message: 'Method is not known, got ' + req.method, ok_to_retry: false }, log: '' };
  while (a.stderr !== undefined) { process.stderr.write(a.stderr); a = a.then; }
  if (a.raw !== undefined) { process.stdout.write(a.raw); process.exit(a.exit ?? 0); }
  if (a.sleep !== undefined) {
    const child = require('child_process').spawn('sleep', [String(a.sleep / 1000)], { stdio: 'ignore' });
    fs.writeFileSync(a.pidFile, String(child.pid));
    setTimeout(() => process.stdout.write(JSON.stringify({ result: 'late', error: null, log: '' })), a.sleep);
    return;
  }
  if (a.env) { process.stdout.write(JSON.stringify({ result: process.env, error: null, log: '' })); return; }
  process.stdout.write(JSON.stringify(a));
});
`;

export function createFakeCpi(answers: Record<string, FakeCpiAnswer>): FakeCpi {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-fake-cpi-'));
  const script = join(dir, 'cpi.cjs');
  writeFileSync(script, SCRIPT);
  chmodSync(script, 0o755);
  const setAnswers = (a: Record<string, FakeCpiAnswer>): void => writeFileSync(join(dir, 'answers.json'), JSON.stringify(a));
  setAnswers(answers);
  return {
    path: process.execPath,
    args: [script, dir],
    requests: () =>
      readFileSync(join(dir, 'requests.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ReturnType<FakeCpi['requests']>[number]),
    setAnswers,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const ok = (result: unknown, log = ''): FakeCpiAnswer => ({ result, error: null, log });
export const cpiError = (type: string, message: string, okToRetry = false): FakeCpiAnswer => ({
  result: null,
  error: { type, message, ok_to_retry: okToRetry },
  log: '',
});
