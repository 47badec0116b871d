import type { Command } from 'commander';
import type { TaskEvent, TaskInfo } from '../../common/contracts/api.js';
import type { CliContext } from '../context.js';
import { parseId } from './args.js';
import { printJson, printRows } from '../output.js';
import { openSession } from '../session.js';
import { followTask, formatEvent } from '../task-stream.js';

export function registerTaskCommands(program: Command, context: CliContext): void {
  program
    .command('tasks')
    .description('list tasks, newest first (-d: of one deployment)')
    .option('--recent <n>', 'how many tasks', '30')
    .action(async (opts: { recent: string }, cmd: Command) => {
      const s = await openSession(cmd, context);
      const rows = await s.client.get<TaskInfo[]>('/api/v1/tasks', {
        recent: parseId(opts.recent, '--recent'),
        deployment: s.options.deployment,
      });
      printRows(
        rows,
        [
          { header: 'ID', value: (t) => t.id },
          { header: 'State', value: (t) => t.state },
          { header: 'Created', value: (t) => t.createdAt },
          { header: 'User', value: (t) => t.user },
          { header: 'Deployment', value: (t) => t.deployment },
          { header: 'Description', value: (t) => t.description },
          { header: 'Result', value: (t) => t.error ?? t.result },
        ],
        s.options,
      );
    });

  program
    .command('task <id>')
    .description('show a task; follows it while it runs (--events: print every event)')
    .option('--events', 'print the event log')
    .action(async (id: string, opts: { events?: boolean }, cmd: Command) => {
      const s = await openSession(cmd, context);
      const taskId = parseId(id, 'task id');
      const task = await s.client.get<TaskInfo>(`/api/v1/tasks/${taskId}`);
      if (opts.events && !['done', 'error', 'cancelled'].includes(task.state)) {
        const followed = await followTask(s.client, context, task, { quiet: Boolean(s.options.json) });
        if (s.options.json) printJson(followed);
        return;
      }
      const events = opts.events
        ? await s.client.get<TaskEvent[]>(`/api/v1/tasks/${taskId}/events`)
        : undefined;
      if (s.options.json) {
        printJson(events ? { task, events } : task);
        return;
      }
      const out = (line: string) => process.stdout.write(`${line}\n`);
      out(`Task ${task.id}: ${task.description}`);
      out(`  state:      ${task.state}`);
      out(`  deployment: ${task.deployment ?? '-'}`);
      out(`  user:       ${task.user}`);
      out(`  created:    ${task.createdAt}`);
      out(`  started:    ${task.startedAt ?? '-'}`);
      out(`  ended:      ${task.endedAt ?? '-'}`);
      if (task.result) out(`  result:     ${task.result}`);
      if (task.error) out(`  error:      ${task.error}`);
      for (const event of events ?? []) out(formatEvent(event));
    });

  program
    .command('cancel-task <id>')
    .description('cancel a queued or running task')
    .action(async (id: string, _opts, cmd: Command) => {
      const s = await openSession(cmd, context);
      const task = await s.client.post<TaskInfo>(`/api/v1/tasks/${parseId(id, 'task id')}/cancel`);
      if (s.options.json) printJson(task);
      else process.stdout.write(`Task ${task.id} is ${task.state}.\n`);
    });
}
