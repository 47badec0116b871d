/**
 * Waiting for a VM's agent. BOSH's "Timed out pinging … after 600 seconds" says nothing about why;
 * this error says what the cloud knows: whether the VM still exists, and the tail of its boot log
 * when the cloud can show it (an optional `getVmConsoleLog` method of the cloud).
 */
import { TimeoutError, errorMessage } from '../../common/errors.js';
import type { Cloud } from '../../cloud/cloud.js';
import type { AgentApi } from '../../common/contracts/agent-protocol.js';
import { sleep, throwIfAborted, withDeadline } from '../../common/waiting.js';

/** Optional capability of a cloud driver: the last lines a VM printed while booting (console / agent log). */
export interface CloudWithConsoleLog {
  getVmConsoleLog(vmCid: string, lines: number): Promise<string>;
}

/** The first wait between failed pings; it grows by PING_BACKOFF_FACTOR up to `pingIntervalMs`. */
export const FIRST_PING_DELAY_MS = 100;
const PING_BACKOFF_FACTOR = 1.5;

export type ConsoleLogReader = (vmCid: string, lines: number) => Promise<string>;

/** The driver's boot-log reader, when it has one (looked up on the raw driver, not the guarded wrapper). */
export function consoleLogReader(driver: Cloud): ConsoleLogReader | undefined {
  const d = driver as Cloud & Partial<CloudWithConsoleLog>;
  return typeof d.getVmConsoleLog === 'function' ? (vmCid, lines) => d.getVmConsoleLog!(vmCid, lines) : undefined;
}

export async function waitForAgent(options: {
  agent: AgentApi;
  cloud: Cloud;
  vmCid: string;
  agentId: string;
  instance: string;
  timeoutMs: number;
  pingIntervalMs: number;
  callTimeoutMs: number;
  /** Stops the wait at once (task cancelled, lock lost). */
  signal?: AbortSignal | undefined;
  consoleLog?: ConsoleLogReader | undefined;
}): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = 'no answer yet';
  // A new VM's agent usually answers within a few hundred ms of createVm: start pinging fast and
  // back off to pingIntervalMs, so that a slow boot is not pinged needlessly often.
  let delayMs = Math.min(FIRST_PING_DELAY_MS, options.pingIntervalMs);
  for (;;) {
    try {
      await withDeadline(Math.min(options.callTimeoutMs, Math.max(1, deadline - Date.now())), 'ping', () => options.agent.ping(), options.signal);
      return;
    } catch (err) {
      throwIfAborted(options.signal);
      lastError = errorMessage(err);
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(delayMs, Math.max(1, deadline - Date.now())), options.signal);
    delayMs = Math.min(options.pingIntervalMs, Math.ceil(delayMs * PING_BACKOFF_FACTOR));
  }
  throw new TimeoutError(
    await explainAgentTimeout(options, `The agent ${options.agentId} on VM ${options.vmCid} (instance ${options.instance}) did not answer within ${seconds(options.timeoutMs)} s (last attempt: ${lastError}).`),
  );
}

/** Where the director learns the address of a VM whose cloud did not tell it: its agent's heartbeats. */
export type AgentAddressSource = (agentId: string) => string | null | Promise<string | null>;

/**
 * Waits for the first heartbeat of a new VM's agent to tell the VM's address, for a VM whose cloud
 * answered create_vm without one (a dynamic network, as bosh-docker-cpi's). Returns the address.
 */
export async function waitForAgentAddress(options: {
  address: AgentAddressSource | undefined;
  cloud: Cloud;
  vmCid: string;
  agentId: string;
  instance: string;
  timeoutMs: number;
  intervalMs: number;
  signal?: AbortSignal | undefined;
  consoleLog?: ConsoleLogReader | undefined;
}): Promise<string> {
  const deadline = Date.now() + options.timeoutMs;
  if (options.address !== undefined) {
    for (;;) {
      const ip = await options.address(options.agentId);
      if (ip !== null) return ip;
      if (Date.now() >= deadline) break;
      await sleep(Math.min(options.intervalMs, Math.max(1, deadline - Date.now())), options.signal);
    }
  }
  const first =
    `The cloud did not tell the address of VM ${options.vmCid} (instance ${options.instance}; its create_vm answered no IP, as for a dynamic network), ` +
    `and its agent ${options.agentId} never sent a heartbeat within ${seconds(options.timeoutMs)} s, which is how the director learns the address then. ` +
    'Either the agent did not start (check that the CPI writes create_vm\'s env into the agent settings verbatim, docs/clouds.md), or it cannot reach the director\'s URL from the VM (check the VM\'s network and routes).';
  throw new TimeoutError(await explainAgentTimeout(options, first));
}

function seconds(ms: number): number {
  return Number((ms / 1000).toFixed(2));
}

async function explainAgentTimeout(
  o: { cloud: Cloud; vmCid: string; agentId: string; instance: string; timeoutMs: number; consoleLog?: ConsoleLogReader | undefined },
  headline: string,
): Promise<string> {
  const parts = [headline];
  try {
    const exists = await o.cloud.hasVm(o.vmCid);
    parts.push(exists ? 'The cloud reports the VM as existing, so the agent did not start or cannot reach the network.' : 'The cloud reports that the VM no longer exists.');
  } catch (err) {
    parts.push(`Asking the cloud whether the VM exists failed too: ${errorMessage(err)}.`);
  }
  if (o.consoleLog !== undefined) {
    try {
      const log = (await o.consoleLog(o.vmCid, 20)).trimEnd();
      parts.push(log === '' ? 'The VM printed nothing while booting.' : `Last lines of the VM's boot log:\n${log}`);
    } catch (err) {
      parts.push(`Its boot log could not be read: ${errorMessage(err)}.`);
    }
  }
  parts.push('Check the VM with "bosun vms" and its logs, then run the command again (it resumes where it stopped).');
  return parts.join('\n');
}
