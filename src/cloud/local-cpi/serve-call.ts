/**
 * One external-CPI call served by the local cloud: request in, response out. Stateless: the
 * local cloud is opened on the data dir the context names, used for this call, and dropped.
 */
import { errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { CloudError, type CreateVmRequest, type VmMetadata } from '../cloud.js';
import { LocalCloud } from '../local/local-cloud.js';
import { MAX_CPI_API_VERSION, type CpiErrorBody, type CpiRequest, type CpiResponse } from '../external/protocol.js';
import { agentEnvFromWire, networksFromWire, networksToWire } from '../external/wire.js';
import { localCloudOptionsFromContext } from './local-cpi-config.js';

type Handler = (cloud: LocalCloud, args: unknown[], apiVersion: number) => Promise<unknown>;

const str = (v: unknown): string => (typeof v === 'string' ? v : String(v));
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

const HANDLERS: Record<string, Handler> = {
  create_stemcell: (c, [image, props]) => c.createStemcell(str(image), obj(props)),
  delete_stemcell: (c, [cid]) => c.deleteStemcell(str(cid)).then(() => null),
  create_vm: async (c, [agentId, stemcell, props, networks, diskCids, env], apiVersion) => {
    const agentEnv = agentEnvFromWire(env);
    if (agentEnv === null) throw new CloudError('bosun-local-cpi: create_vm needs the bosun agent env under env.bosun (a bosun director sends it)');
    const request: CreateVmRequest = {
      agentId: str(agentId),
      stemcell: str(stemcell),
      cloudProperties: obj(props),
      networks: networksFromWire(networks ?? {}, 'create_vm'),
      diskCids: Array.isArray(diskCids) ? diskCids.map(str) : [],
      env: agentEnv,
    };
    const result = await c.createVm(request);
    return apiVersion >= 2 ? [result.vmCid, networksToWire(result.networks)] : result.vmCid;
  },
  delete_vm: (c, [cid]) => c.deleteVm(str(cid)).then(() => null),
  has_vm: (c, [cid]) => c.hasVm(str(cid)),
  reboot_vm: (c, [cid]) => c.rebootVm(str(cid)).then(() => null),
  set_vm_metadata: (c, [cid, metadata]) => c.setVmMetadata(str(cid), obj(metadata) as VmMetadata).then(() => null),
  create_disk: (c, [size, props, vmCid]) => c.createDisk(Number(size), obj(props), typeof vmCid === 'string' ? vmCid : undefined),
  delete_disk: (c, [cid]) => c.deleteDisk(str(cid)).then(() => null),
  attach_disk: async (c, [vmCid, diskCid], apiVersion) => {
    const hint = await c.attachDisk(str(vmCid), str(diskCid));
    return apiVersion >= 2 ? hint : null;
  },
  detach_disk: (c, [vmCid, diskCid]) => c.detachDisk(str(vmCid), str(diskCid)).then(() => null),
  has_disk: (c, [cid]) => c.hasDisk(str(cid)),
  get_disks: (c, [cid]) => c.getDisks(str(cid)),
  resize_disk: (c, [cid, size]) => c.resizeDisk(str(cid), Number(size)).then(() => null),
};

/** The API version `info` answers: the context's `cpi_api_version` (1: play a v1 CPI, whose attach_disk gives no hint), else the newest. */
function apiVersionOf(context: unknown): number {
  const v = obj(context)['cpi_api_version'];
  return v === 1 ? 1 : MAX_CPI_API_VERSION;
}

export async function serveCall(request: CpiRequest, logger: Logger): Promise<CpiResponse> {
  const info: Handler = async () => ({ api_version: apiVersionOf(request.context), stemcell_formats: ['general-tar', 'warden-tar', 'local-host'] });
  const handler = request.method === 'info' ? info : HANDLERS[request.method];
  if (handler === undefined) {
    // What bosh-cpi-ruby answers for a method it does not know: the director maps it to NotImplemented.
    return fail({ type: 'InvalidCall', message: `Method is not known, got '${request.method}'`, ok_to_retry: false });
  }
  try {
    // Opening the cloud checks the properties and makes the bridge (on info too: the director listens on it).
    const cloud = await LocalCloud.create(localCloudOptionsFromContext(request.context, logger));
    return ok(await handler(cloud, Array.isArray(request.arguments) ? request.arguments : [], request.api_version ?? 1));
  } catch (err) {
    if (err instanceof CloudError) return fail({ type: err.type, message: err.message, ok_to_retry: err.okToRetry });
    return fail({ type: 'CpiError', message: errorMessage(err), ok_to_retry: false });
  }
}

function ok(result: unknown): CpiResponse {
  return { result: result ?? null, error: null, log: '' };
}

function fail(error: CpiErrorBody): CpiResponse {
  return { result: null, error, log: '' };
}
