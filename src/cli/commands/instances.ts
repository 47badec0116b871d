import type { Command } from 'commander';
import type { InstanceInfo, RunCommandResponse, VmInfo } from '../../common/contracts/api.js';
import type { CliContext } from '../context.js';
import { seg } from '../client.js';
import { ExitError, printJson, printRows, type Column } from '../output.js';
import { openSession, requireDeployment } from '../session.js';
import { parseId, parseInstance } from './args.js';

interface Row {
  instance: InstanceInfo;
  /** Set on the per-container rows of --ps. */
  container?: NonNullable<InstanceInfo['containers']>[number];
}

export function registerInstanceCommands(program: Command, context: CliContext): void {
  program
    .command('instances')
    .description('list the instances of a deployment (-d)')
    .option('--ps', 'also list the containers of each instance')
    .option('--details', 'also show ids, agent ids and last heartbeat')
    .option('--vitals', 'also show VM vitals (load, memory, disks)')
    .action(async (opts: { ps?: boolean; details?: boolean; vitals?: boolean }, cmd: Command) => {
      const s = await openSession(cmd, context);
      const name = requireDeployment(s.options);
      const instances = await s.client.get<InstanceInfo[]>(`/api/v1/deployments/${seg(name)}/instances`, {
        ps: opts.ps,
        vitals: opts.vitals,
      });
      const rows: Row[] = [];
      for (const instance of instances) {
        rows.push({ instance });
        if (opts.ps) for (const container of instance.containers ?? []) rows.push({ instance, container });
      }
      const columns: Column<Row>[] = [
        { header: 'Instance', value: (r) => (r.container ? '' : `${r.instance.group}/${r.instance.index}`) },
        ...(opts.ps ? [{ header: 'Container', value: (r: Row) => r.container?.name ?? '' }] : []),
        {
          header: 'State',
          value: (r) =>
            r.container
              ? `${r.container.state}${r.container.flapping ? ' (flapping)' : ''}`
              : r.instance.state,
        },
        // BOSH's AZ column, shown when the cloud config places instances in AZs.
        ...(instances.some((i) => typeof i.az === 'string') ? [{ header: 'AZ', value: (r: Row) => (r.container ? '' : (r.instance.az ?? '')) }] : []),
        { header: 'IP', value: (r) => (r.container ? '' : r.instance.ip) },
        { header: 'DNS', value: (r) => (r.container ? '' : dnsCell(r.instance.dnsNames ?? [], s.options.wide === true || opts.details === true)) },
        ...(opts.ps
          ? [
              { header: 'Uptime', value: (r: Row) => (r.container ? `${r.container.uptimeSeconds}s` : '') },
              { header: 'Restarts', value: (r: Row) => (r.container ? r.container.restarts : '') },
            ]
          : []),
        ...(opts.details
          ? [
              { header: 'ID', value: (r: Row) => (r.container ? '' : r.instance.id) },
              { header: 'VM CID', value: (r: Row) => (r.container ? '' : r.instance.vmCid) },
              { header: 'Agent', value: (r: Row) => (r.container ? '' : r.instance.agentId) },
              { header: 'Disks', value: (r: Row) => (r.container ? '' : r.instance.diskCids.join(', ')) },
              { header: 'Desired', value: (r: Row) => (r.container ? '' : r.instance.desired) },
              {
                header: 'Last heartbeat',
                value: (r: Row) => (r.container ? '' : r.instance.lastHeartbeatAt),
              },
            ]
          : []),
        ...(opts.vitals
          ? [{ header: 'Vitals', value: (r: Row) => (r.container ? '' : formatVitals(r.instance.vitals)) }]
          : []),
      ];
      printRows(rows, columns, s.options, instances);
    });

  program
    .command('vms')
    .description('list the VMs of a deployment (-d)')
    .action(async (_opts, cmd: Command) => {
      const s = await openSession(cmd, context);
      const vms = await s.client.get<VmInfo[]>(
        `/api/v1/deployments/${seg(requireDeployment(s.options))}/vms`,
      );
      printRows(
        vms,
        [
          { header: 'Instance', value: (v) => v.instance },
          { header: 'State', value: (v) => v.state },
          { header: 'IP', value: (v) => v.ip },
          { header: 'VM CID', value: (v) => v.vmCid },
          { header: 'Agent', value: (v) => v.agentId },
          { header: 'Created', value: (v) => v.createdAt },
        ],
        s.options,
      );
    });

  program
    .command('logs <instance> [container]')
    .description("print the last lines of an instance's container logs (GROUP/INDEX)")
    .option('--lines <n>', 'how many lines', '100')
    .option('--follow', 'keep printing new lines (polls the director)')
    .action(
      async (
        instance: string,
        container: string | undefined,
        opts: { lines: string; follow?: boolean },
        cmd: Command,
      ) => {
        const s = await openSession(cmd, context);
        const name = requireDeployment(s.options);
        const { group, index } = parseInstance(instance, true);
        const lines = parseId(opts.lines, '--lines');
        const path = `/api/v1/deployments/${seg(name)}/instances/${seg(group)}/${index}/logs`;
        const fetchLogs = async () => (await s.client.get<{ logs: string }>(path, { container, lines })).logs;
        let logs = await fetchLogs();
        if (s.options.json && !opts.follow) {
          printJson({ logs });
          return;
        }
        process.stdout.write(logs);
        while (opts.follow) {
          await context.sleep(Math.max(context.pollIntervalMs, 1000));
          const next = await fetchLogs();
          process.stdout.write(newLines(logs, next));
          logs = next;
        }
      },
    );

  program
    .command('ssh <instance>')
    .description('run a command on an instance VM (GROUP/INDEX) and exit with its exit code')
    .requiredOption('-c, --command <cmd>', 'the command to run (sh -c)')
    .action(async (instance: string, opts: { command: string }, cmd: Command) => {
      const s = await openSession(cmd, context);
      const name = requireDeployment(s.options);
      const { group, index } = parseInstance(instance, true);
      const result = await s.client.post<RunCommandResponse>(
        `/api/v1/deployments/${seg(name)}/instances/${seg(group)}/${index}/ssh`,
        { command: opts.command },
      );
      if (s.options.json) printJson(result);
      else {
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
      }
      if (result.exitCode !== 0) throw new ExitError(result.exitCode);
    });
}

/** The first container's per-instance name, "+N" for the others (all of them with --wide or --details). */
export function dnsCell(names: readonly string[], all: boolean): string {
  if (all || names.length <= 1) return names.join(', ');
  return `${names[0] ?? ''} (+${names.length - 1})`;
}

function formatVitals(vitals: Record<string, unknown> | undefined): string {
  if (!vitals) return '';
  return Object.entries(vitals)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}

/** The lines of `next` after what `previous` already showed (both are "the last N lines"). */
export function newLines(previous: string, next: string): string {
  if (!previous) return next;
  if (next.startsWith(previous)) return next.slice(previous.length);
  const prev = previous.split('\n').filter(Boolean);
  const lines = next.split('\n').filter(Boolean);
  // Longest suffix of prev that is a prefix of next: what both windows share.
  for (let k = Math.min(prev.length, lines.length); k > 0; k--) {
    if (prev.slice(prev.length - k).join('\n') === lines.slice(0, k).join('\n')) {
      const rest = lines.slice(k);
      return rest.length ? `${rest.join('\n')}\n` : '';
    }
  }
  return next;
}
