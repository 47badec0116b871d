import type { Command } from 'commander';
import type { DeploymentDns } from '../../common/contracts/api.js';
import type { CliContext } from '../context.js';
import { seg } from '../client.js';
import { printJson, renderTable, terminalWidth } from '../output.js';
import { openSession, requireDeployment } from '../session.js';

type DnsContainerRow = DeploymentDns['instances'][number]['containers'][number] & { instance: DeploymentDns['instances'][number] };

export function registerDnsCommands(program: Command, context: CliContext): void {
  program
    .command('dns')
    .description("show a deployment's (-d) service discovery records: each instance's names, address and health, and the aliases")
    .action(async (_opts, cmd: Command) => {
      const s = await openSession(cmd, context);
      const name = requireDeployment(s.options);
      const dns = await s.client.get<DeploymentDns>(`/api/v1/deployments/${seg(name)}/dns`);
      if (s.options.json) {
        printJson(dns);
        return;
      }
      process.stdout.write(renderDns(dns, s.options.wide ? undefined : terminalWidth()));
    });
}

/** The three tables of `bosun dns`: instances with their names, names with their answers, aliases. */
export function renderDns(dns: DeploymentDns, width?: number): string {
  const rows: DnsContainerRow[] = dns.instances.flatMap((i) =>
    i.containers.length === 0 ? [{ instance: i, name: '', healthy: false, names: [], ports: [] }] : i.containers.map((c) => ({ ...c, instance: i })),
  );
  const out: string[] = [
    `Records version ${dns.version}; ${dns.agents.current} of ${dns.agents.total} agents have it.`,
    '',
    renderTable(
      rows,
      [
        { header: 'Instance', value: (r) => `${r.instance.group}/${r.instance.index}` },
        { header: 'Address', value: (r) => r.instance.address ?? '(no VM)' },
        { header: 'Container', value: (r) => r.name },
        { header: 'Health', value: (r) => (!r.instance.running ? 'not running' : r.name === '' ? '' : r.healthy ? 'healthy' : 'withdrawn') },
        { header: 'Name', value: (r) => r.names[0] ?? '' },
        { header: 'Ports', value: (r) => r.ports.map((p) => `${p.port}/${p.protocol}`).join(', ') },
      ],
      width,
    ),
    '',
    renderTable(
      dns.records,
      [
        { header: 'Name', value: (r) => r.name },
        { header: 'Type', value: (r) => r.type },
        { header: 'Answers', value: (r) => (r.answers.length === 0 ? '(none)' : r.answers.join(', ')) },
      ],
      width,
    ),
  ];
  if (dns.aliases.length > 0) {
    out.push(
      '',
      renderTable(
        dns.aliases,
        [
          { header: 'Alias', value: (a) => a.name },
          { header: 'Target', value: (a) => a.target },
        ],
        width,
      ),
    );
  }
  return `${out.join('\n')}\n`;
}
