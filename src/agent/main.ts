/**
 * The bosun agent's entry point: `node dist/src/agent/main.js --settings <vm>/settings.json`.
 * The local cloud runs it inside the VM's restart loop; it logs to <ephemeral>/agent.log.
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { createPinoLogger } from '../common/pino-logger.js';
import { errorMessage } from '../common/errors.js';
import { loadSettings, parseSettings } from './settings.js';
import { loadAgentConfig, readFromSources, settingsSourceFor } from './settings/agent-config.js';
import type { AgentSettings } from '../common/contracts/agent-settings.js';
import { Agent } from './agent.js';
import { createAgentServer } from './api/server.js';

async function main(): Promise<void> {
  const program = new Command()
    .name('bosun-agent')
    .option('--settings <file>', 'the settings file the cloud wrote for this VM')
    .option('--agent-config <file>', "the stemcell's agent.json naming the settings source (File, ConfigDrive, HTTP, CDROM)")
    .option('--log-level <level>', 'log level', 'info')
    .option('--dns-port <port>', "the port the VM's DNS server answers on (0: none)", '53');
  program.parse(process.argv);
  const opts = program.opts<{ settings?: string; agentConfig?: string; logLevel: string; dnsPort: string }>();
  const dnsPort = Number(opts.dnsPort);
  if (!Number.isInteger(dnsPort) || dnsPort < 0 || dnsPort > 65535) throw new Error(`--dns-port must be a port number (0 for no DNS server), not ${opts.dnsPort}`);
  const readSettings = settingsReader(opts);
  const settings = await readSettings();
  const log = createPinoLogger({ destination: join(settings.paths.ephemeral, 'agent.log'), level: opts.logLevel, name: 'agent' }).child({ agentId: settings.agentId });
  log.info('agent starting', { pid: process.pid, vmCid: settings.vmCid });
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', { error: errorMessage(err) }));

  const agent = await Agent.create(settings, log, { dnsPort: dnsPort === 0 ? null : dnsPort, rereadSettings: readSettings });
  const server = await createAgentServer(agent, settings, log);
  agent.run();
  log.info('agent listening', { host: settings.listen.host, port: settings.listen.port });

  const shutdown = (signal: string): void => {
    // dockerd and the containers stay up: a restarted agent adopts them.
    log.info('agent stopping', { signal });
    agent.close();
    void server.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/**
 * Reads the settings from `--settings FILE` (host-binaries VMs) or the sources of a stemcell's
 * agent.json, in either format (bosun's or BOSH's); each call reads them again.
 */
function settingsReader(opts: { settings?: string; agentConfig?: string }): () => Promise<AgentSettings> {
  const { settings, agentConfig } = opts;
  if (settings !== undefined) return () => loadSettings(settings);
  if (agentConfig === undefined) throw new Error('give --settings FILE or --agent-config /var/vcap/bosh/agent.json');
  return async () => {
    const sources = (await loadAgentConfig(agentConfig)).map((c) => settingsSourceFor(c));
    const { text, source } = await readFromSources(sources);
    return parseSettings(text, `The settings from the ${source.type} source`);
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`bosun agent: ${errorMessage(err)}\n`);
  process.exit(1);
});
