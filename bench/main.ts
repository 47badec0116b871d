/**
 * `npm run bench -- NAME`: runs one benchmark and prints its figures as JSON on stdout.
 * Each benchmark is a file bench/NAME.ts exporting `run(args: string[]): Promise<unknown>`.
 */
import { BenchmarkNotReadyError, prepareBenchmark } from './prepare.js';

const BENCHMARKS = ['vm', 'deploy', 'recovery', 'resurrect', 'resize', 'dns'] as const;

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  if (!name || !(BENCHMARKS as readonly string[]).includes(name)) {
    process.stderr.write(`usage: npm run bench -- <${BENCHMARKS.join('|')}>\n`);
    process.exitCode = 1;
    return;
  }
  try {
    await prepareBenchmark(name);
  } catch (err) {
    if (!(err instanceof BenchmarkNotReadyError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  const mod = (await import(`./${name}.js`)) as { run: (args: string[]) => Promise<unknown> };
  const figures = await mod.run(args);
  process.stdout.write(`${JSON.stringify({ benchmark: name, at: new Date().toISOString(), figures }, null, 2)}\n`);
}

await main();
