import { z } from 'zod';
import { InvalidInputError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { LocalCloudOptions } from '../local/config.js';

/**
 * The context properties bosun-local-cpi reads (the director's `cloud.properties`), in BOSH's
 * snake_case; every other context key (director_uuid, request_id, vm) is ignored.
 */
const propertiesSchema = z.object({
  data_dir: z.string().min(1, 'the local cloud\'s data directory (absolute path) is required'),
  bridge: z.string().optional(),
  subnet: z.string().optional(),
  agent_command: z.array(z.string().min(1)).min(1).optional(),
  agent_restart_delay_seconds: z.number().positive().optional(),
  /** `bosh`: write the agent settings in BOSH's format, as a third-party CPI does (stemcell VMs). */
  agent_settings: z.enum(['bosun', 'bosh']).optional(),
  /** false: leave the VM's address out of create_vm's answer (a dynamic network, as bosh-docker-cpi's). */
  report_ip: z.boolean().optional(),
  /** 1: answer `info` with api_version 1 and play a v1 CPI (create_vm answers a cid, attach_disk no hint). */
  cpi_api_version: z.union([z.literal(1), z.literal(2)]).optional(),
  /** `directory`: disks are host directories the VM sees at /warden-cpi-dev/<cid> (warden/docker-CPI style). */
  disk_kind: z.enum(['file', 'directory']).optional(),
  /** attach_disk/detach_disk restart the VM with its ephemeral data lost, as the docker CPI recreates its container. */
  recreate_vm_on_attach: z.boolean().optional(),
});

export function localCloudOptionsFromContext(context: unknown, logger: Logger): LocalCloudOptions {
  const parsed = propertiesSchema.safeParse(context ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(context)'}: ${i.message}`).join('; ');
    throw new InvalidInputError(`bosun-local-cpi: the cloud properties are invalid (${problems}); set them under the director config's cloud.properties.`);
  }
  const p = parsed.data;
  return {
    dataDir: p.data_dir,
    ...(p.bridge === undefined ? {} : { bridgeName: p.bridge }),
    ...(p.subnet === undefined ? {} : { subnet: p.subnet }),
    ...(p.agent_command === undefined ? {} : { agentCommand: p.agent_command }),
    ...(p.agent_restart_delay_seconds === undefined ? {} : { agentRestartDelaySeconds: p.agent_restart_delay_seconds }),
    ...(p.agent_settings === undefined ? {} : { agentSettings: p.agent_settings }),
    ...(p.report_ip === undefined ? {} : { reportVmAddress: p.report_ip }),
    ...(p.disk_kind === undefined ? {} : { diskKind: p.disk_kind }),
    ...(p.recreate_vm_on_attach === undefined ? {} : { recreateVmOnAttach: p.recreate_vm_on_attach }),
    sharedDataDir: true,
    logger,
  };
}
