import type { TaskEvent, TaskInfo } from '../common/contracts/api.js';
import type { DirectorClient } from './client.js';
import type { CliContext } from './context.js';
import { ExitError, EXIT_USER_ERROR } from './output.js';

const TERMINAL: ReadonlySet<TaskInfo['state']> = new Set(['done', 'error', 'cancelled']);

export interface FollowOptions {
  /** Print nothing while following (--json prints the outcome once at the end). */
  quiet?: boolean;
  /**
   * Show transient progress events (`data.transient`, e.g. an upload's percentages) as one line
   * that updates in place; without it they are left out and only lasting events are printed.
   * Default: when stdout is a terminal.
   */
  liveProgress?: boolean;
}

export interface FollowedTask {
  task: TaskInfo;
  events: TaskEvent[];
}

/**
 * Streams a task's events (polling GET /tasks/:id/events?after=SEQ) until the task ends, printing
 * one line per event with its stage, step, index/total, state and elapsed time, and a progress line
 * whenever a step ends.
 */
export async function followTask(
  client: DirectorClient,
  context: CliContext,
  task: TaskInfo,
  options: FollowOptions = {},
): Promise<FollowedTask> {
  const live = options.liveProgress ?? Boolean(process.stdout.isTTY);
  let liveLineShown = false;
  const clearLive = () => {
    if (liveLineShown) process.stdout.write('\r\x1b[K');
    liveLineShown = false;
  };
  const out = (line: string) => {
    if (options.quiet) return;
    clearLive();
    process.stdout.write(`${line}\n`);
  };
  /** Replaces the live line; cut to the terminal's width, since a wrapped line cannot be redrawn. */
  const outLive = (line: string) => {
    if (options.quiet || !live) return;
    const columns = process.stdout.columns > 0 ? process.stdout.columns : 80;
    process.stdout.write(`\r\x1b[K${[...line].slice(0, columns - 1).join('')}`);
    liveLineShown = true;
  };
  const started = Date.now();
  const events: TaskEvent[] = [];
  // Steps ended per stage: distinct indexes, so that re-sent or per-step totals never pass 100 %.
  const doneByStage = new Map<string, Set<number>>();
  let after = 0;
  let current = task;
  out(`Task ${task.id}: ${task.description}`);
  for (;;) {
    const ended = TERMINAL.has(current.state);
    const fresh = await client.get<TaskEvent[]>(`/api/v1/tasks/${task.id}/events`, { after });
    for (const event of fresh) {
      after = Math.max(after, event.seq);
      events.push(event);
      if (event.data?.['transient'] === true) {
        outLive(formatEvent(event));
        continue;
      }
      out(formatEvent(event));
      if (event.state === 'finished' || event.state === 'failed') {
        const key = `${event.stage}\u0000${event.total}`;
        const endedSteps = doneByStage.get(key) ?? new Set<number>();
        endedSteps.add(event.index);
        doneByStage.set(key, endedSteps);
        const n = Math.min(endedSteps.size, event.total);
        if (event.total > 0) {
          out(
            `           ${progressBar(n, event.total)} ${event.stage}: ${n}/${event.total} done, ${formatDuration(Date.now() - started)} elapsed`,
          );
        }
      }
    }
    if (ended) break;
    await context.sleep(context.pollIntervalMs);
    current = await client.get<TaskInfo>(`/api/v1/tasks/${task.id}`);
  }
  out(
    `Task ${current.id} ${current.state} (${formatDuration(Date.now() - started)})${current.error ? `: ${current.error}` : ''}`,
  );
  return { task: current, events };
}

/** Follows a task and fails the command (exit 1, with the task's error) unless it ends `done`. */
export async function followTaskOrFail(
  client: DirectorClient,
  context: CliContext,
  task: TaskInfo,
  options: FollowOptions = {},
): Promise<FollowedTask> {
  const followed = await followTask(client, context, task, options);
  if (followed.task.state !== 'done') {
    if (options.quiet) process.stdout.write(`${JSON.stringify(followed, null, 2)}\n`);
    throw new ExitError(
      EXIT_USER_ERROR,
      `Task ${followed.task.id} ${followed.task.state}${followed.task.error ? `: ${followed.task.error.replace(/\.\s*$/, '')}` : ''}. See \`bosun task ${followed.task.id} --events\` for details.`,
    );
  }
  return followed;
}

export function formatEvent(event: TaskEvent): string {
  const time = event.time.length >= 19 ? event.time.slice(11, 19) : event.time;
  const count = event.total > 0 ? ` (${event.index}/${event.total})` : '';
  const progress =
    event.state === 'in_progress' && event.progress !== undefined ? ` ${Math.round(event.progress)}%` : '';
  const copied = event.state === 'in_progress' ? formatCopyProgress(event.data) : '';
  const elapsed = event.elapsedMs !== undefined ? ` (${formatDuration(event.elapsedMs)})` : '';
  const error = event.error ? `: ${event.error}` : '';
  return `  ${time} | ${event.stage}: ${event.step}${count} ${event.state}${progress}${copied}${elapsed}${error}`;
}

/** Bytes and files of a long copy (disk migration), when the event carries them. */
function formatCopyProgress(data: Record<string, unknown> | undefined): string {
  const bytes = data?.['bytesCopied'];
  const files = data?.['filesCopied'];
  if (typeof bytes !== 'number' || typeof files !== 'number') return '';
  const phase = typeof data?.['phase'] === 'string' ? `${data['phase']} ` : '';
  return ` (${phase}${formatMiB(bytes)} MiB, ${files} files)`;
}

function formatMiB(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

function progressBar(done: number, total: number): string {
  const width = 20;
  const filled = Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round((done / total) * 100)}%`;
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}
