import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { InvalidInputError } from '../../common/errors.js';
import type { VmNetworks } from '../../cloud/cloud.js';
import { certifyCpi, type CertifyReport } from '../../director/cpi-certify/certify-cpi.js';
import { certifyShapeFrom } from '../../director/cpi-certify/cloud-config-shape.js';
import { loadCloudConfig, type CloudConfig } from '../../manifest/cloud-config.js';
import { mergeCloudProperties } from '../../manifest/cloud-config-resolve.js';
import { EXIT_USER_ERROR, ExitError, printJson, renderTable, terminalWidth, type GlobalOptions } from '../output.js';

interface CertifyFlags {
  cpi: string;
  cpiArgs?: string[];
  properties?: string;
  stemcell?: string;
  stemcellCid?: string;
  agentTimeout: string;
  vmCloudProperties?: string;
  networkCloudProperties?: string;
  diskCloudProperties?: string;
  heartbeatListen?: string;
  cloudConfig?: string;
}

/** "HOST:PORT" ("[::1]:PORT" for IPv6) of --heartbeat-listen. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  const port = Number(m?.[3]);
  const host = m?.[1] ?? m?.[2];
  if (host === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidInputError(`--heartbeat-listen takes HOST:PORT (an address the VMs can reach, e.g. 10.244.0.1:25556), got "${value}".`);
  }
  return { host, port };
}

/** A YAML/JSON map from a file (`what` names it in errors). */
async function readMap(file: string, what: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new InvalidInputError(`Cannot read the ${what} ${file}: ${(err as Error).message}.`, { cause: err });
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidInputError(`The ${what} ${file} must be a YAML or JSON map.`);
  return value as Record<string, unknown>;
}

async function readCloudConfig(file: string): Promise<CloudConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`Cannot read the cloud config ${file}: ${(err as Error).message}.`, { cause: err });
  }
  return loadCloudConfig(text, { fileName: file }).config;
}

/** --network-cloud-properties over a cloud config's network settings. */
function withNetworkCloudProperties(networks: VmNetworks, over: Record<string, unknown> | undefined): VmNetworks {
  if (over === undefined) return networks;
  return Object.fromEntries(Object.entries(networks).map(([name, n]) => [name, { ...n, cloudProperties: mergeCloudProperties(n.cloudProperties ?? {}, over) }]));
}

export function renderCertifyReport(report: CertifyReport): string {
  const table = renderTable(
    report.checks,
    [
      { header: 'Check', value: (c) => c.name },
      { header: 'Result', value: (c) => (c.required || c.status !== 'failed' ? c.status : 'failed (optional)') },
      { header: 'Time', value: (c) => `${(c.durationMs / 1000).toFixed(1)} s` },
      { header: 'Detail', value: (c) => c.detail },
    ],
    terminalWidth(),
  );
  const failed = report.checks.filter((c) => c.required && c.status === 'failed').map((c) => c.name);
  const verdict = report.passed ? `The CPI ${report.cpi} passed every required check.` : `The CPI ${report.cpi} FAILED: ${failed.join('; ')}.`;
  return `${table}\n\n${verdict}\n`;
}

export function registerCpiCertifyCommand(program: Command): void {
  program
    .command('cpi-certify')
    .description('certify a BOSH CPI: a fixed sequence of calls with real agents on its VMs (exit 0 when every required check passes)')
    .requiredOption('--cpi <path>', 'the CPI executable')
    .option('--cpi-args <arg>', 'an argument for the CPI (repeatable, in order; e.g. --cpi-args -configPath --cpi-args /etc/cpi.json)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--properties <file>', "YAML/JSON map merged into every call's context (the director's cloud.properties)")
    .option('--stemcell <file>', 'a stemcell tarball to upload with create_stemcell and boot the VMs from')
    .option('--stemcell-cid <cid>', 'without --stemcell: the stemcell cid the VMs boot (bosun-local-cpi: default, the host binaries)')
    .option('--agent-timeout <seconds>', 'how long to wait for an agent to answer', '180')
    .option('--vm-cloud-properties <file>', 'YAML/JSON map: cloud_properties of the VMs (instance type, …)')
    .option('--network-cloud-properties <file>', 'YAML/JSON map: cloud_properties of the VMs\' network (bosh-docker-cpi: {name: NETWORK})')
    .option('--disk-cloud-properties <file>', 'YAML/JSON map: cloud_properties of the disk')
    .option('--cloud-config <file>', "make the VMs and the disk from a cloud config: its first az, vm_type, disk_type and (non-vip) network; a manual network's first subnet gives the VMs' addresses (the other flags are merged over it)")
    .option('--heartbeat-listen <host:port>', "receive the agents' heartbeats here (an address the VMs reach): how a VM's address is learnt when the CPI's create_vm tells none")
    .action(async (flags: CertifyFlags, cmd: Command) => {
      const options = cmd.optsWithGlobals<GlobalOptions & CertifyFlags>();
      const agentTimeoutS = Number(flags.agentTimeout);
      if (!Number.isFinite(agentTimeoutS) || agentTimeoutS <= 0) throw new InvalidInputError(`--agent-timeout takes seconds, got "${flags.agentTimeout}".`);
      const shape = flags.cloudConfig === undefined ? null : certifyShapeFrom(await readCloudConfig(flags.cloudConfig));
      const over = async (file: string | undefined, what: string, base: Record<string, unknown> | undefined): Promise<Record<string, unknown> | undefined> =>
        file === undefined ? base : mergeCloudProperties(base ?? {}, await readMap(file, what));
      const vmCloudProperties = await over(flags.vmCloudProperties, 'VM cloud properties', shape?.vmCloudProperties);
      const diskCloudProperties = await over(flags.diskCloudProperties, 'disk cloud properties', shape?.diskCloudProperties);
      const networkCloudProperties = flags.networkCloudProperties === undefined ? undefined : await readMap(flags.networkCloudProperties, 'network cloud properties');
      const report = await certifyCpi({
        cloud: { cpi: resolve(flags.cpi), cpiArgs: flags.cpiArgs ?? [], properties: flags.properties === undefined ? {} : await readMap(flags.properties, 'CPI properties') },
        ...(vmCloudProperties === undefined ? {} : { vmCloudProperties }),
        ...(networkCloudProperties === undefined ? {} : { networkCloudProperties }),
        ...(diskCloudProperties === undefined ? {} : { diskCloudProperties }),
        ...(shape === null ? {} : { networks: (i: number) => withNetworkCloudProperties(shape.networks(i), networkCloudProperties) }),
        ...(shape?.diskMiB === undefined ? {} : { diskMiB: shape.diskMiB }),
        ...(flags.stemcell === undefined ? {} : { stemcellFile: resolve(flags.stemcell) }),
        ...(flags.stemcellCid === undefined ? {} : { stemcellCid: flags.stemcellCid }),
        ...(flags.heartbeatListen === undefined ? {} : { heartbeatListen: parseListen(flags.heartbeatListen) }),
        agentTimeoutMs: agentTimeoutS * 1000,
      });
      if (options.json) printJson(report);
      else process.stdout.write(renderCertifyReport(report));
      if (!report.passed) throw new ExitError(EXIT_USER_ERROR);
    });
}
