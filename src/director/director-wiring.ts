/**
 * Start-up pieces of the director that Director.create assembles: agent certificate issuance and
 * the clean-up of VMs a crash left unrecorded.
 */
import type { Cloud } from '../cloud/cloud.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { issueCertificate } from '../common/pki.js';
import type { CertificateAuthority } from '../common/pki.js';
import type { Store } from '../store/store.js';
import type { AgentKeyPool } from './agent-key-pool.js';
import type { AgentCredentials } from './deploy/instance-deps.js';

/**
 * Issues a new VM's agent certificate: CN = agent id, no IP (the VM's address is only known after
 * createVm). The director's agent client verifies the CA chain and compares the CN with the agent
 * id instead of the hostname (agentServerIdentityCheck in agent-identity.ts).
 */
export function agentCredentialsIssuer(ca: CertificateAuthority, keyPool: AgentKeyPool | null): (agentId: string) => AgentCredentials {
  return (agentId) => {
    const keyPem = keyPool?.take();
    const cert = issueCertificate(ca, { commonName: agentId, usage: 'both', ...(keyPem === undefined ? {} : { keyPem }) });
    return { caPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem };
  };
}

/**
 * A crash during createVm leaves a VM whose cid the director never recorded: nothing would ever
 * use or delete it. Called at start-up (no task runs yet) when the director owns its cloud alone.
 */
export async function deleteVmsACrashLeft(cloud: Cloud, store: Store, logger: Logger): Promise<void> {
  if (!cloud.listVms) return;
  const known = new Set(await store.vms.listCids());
  for (const cid of await cloud.listVms()) {
    if (known.has(cid)) continue;
    logger.warn('deleting a VM that an interrupted task created but never recorded', { vmCid: cid });
    await cloud.deleteVm(cid).catch((err: unknown) =>
      logger.error('could not delete the unrecorded VM; delete it with `bosun cck`', { vmCid: cid, error: errorMessage(err) }),
    );
  }
}
