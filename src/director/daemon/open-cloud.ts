import type { Cloud } from '../../cloud/cloud.js';
import { ExternalCloud } from '../../cloud/external/index.js';
import { LocalCloud } from '../../cloud/local/index.js';
import { parseSubnet } from '../../cloud/local/ip.js';
import { errorMessage, UnavailableError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { DaemonConfig } from './daemon-config.js';

export interface OpenedCloud {
  cloud: Cloud;
  /** The director's address on the VM network (where agents reach its API and registry). */
  bridgeIp: string;
  /** True for the embedded local cloud: nothing but this director uses it. */
  ownedAlone: boolean;
  getDisksTrusted: boolean;
}

/**
 * The cloud of `bosun director`, from the config file's `cloud:` section: the embedded local
 * cloud, or an external CPI (asked `info` at once, so that a wrong path or config stops the start
 * with the CPI's answer). With an external CPI the director listens on the gateway of `subnet`.
 */
export async function openCloud(config: DaemonConfig, localDataDir: string, logger: Logger): Promise<OpenedCloud> {
  if (config.cloud.type === 'local') {
    const cloud = await LocalCloud.create({ dataDir: localDataDir, bridgeName: config.bridgeName, subnet: config.subnet, logger });
    return { cloud, bridgeIp: cloud.hostIp, ownedAlone: true, getDisksTrusted: true };
  }
  const c = config.cloud;
  const cloud = new ExternalCloud({ cpi: c.cpi, cpiArgs: c.cpiArgs, properties: c.properties, timeoutsMs: c.timeoutsMs, resizeInPlace: c.resizeInPlace, ...(c.name === undefined ? {} : { name: c.name }), logger });
  try {
    await cloud.info();
  } catch (err) {
    throw new UnavailableError(`The director cannot use its CPI ${c.cpi}: ${errorMessage(err)}. Fix cloud.cpi / cloud.properties in the director config (\`bosun cpi-certify --cpi ${c.cpi}\` checks a CPI).`, { cause: err });
  }
  return { cloud, bridgeIp: parseSubnet(config.subnet).gateway, ownedAlone: false, getDisksTrusted: c.trustGetDisks };
}
