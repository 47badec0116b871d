/**
 * Conditions a heartbeat shows (flapping or failed containers, nearly full disks) and alerts the
 * agents post themselves, as alerts keyed per agent: raised once while they last, cleared when
 * the next heartbeat no longer shows them.
 */
import type { AgentAlert, Heartbeat } from '../../common/contracts/agent-protocol.js';
import { Severity, type AlertCenter, type AlertCategory } from './alerts.js';
import type { HealthConfig } from './config.js';

type Where = { deployment: string | null; instance: string | null };

export async function raiseHeartbeatConditions(
  alerts: AlertCenter,
  config: Pick<HealthConfig, 'diskFullPercent'>,
  hb: Heartbeat,
  where: Where,
): Promise<void> {
  const raises: Array<Promise<unknown>> = [];
  const seenKeys = new Set<string>();
  const cond = (key: string, category: AlertCategory, severity: 1 | 2 | 3 | 4, title: string, summary: string): void => {
    const k = `hb:${hb.agentId}:${key}`;
    seenKeys.add(k);
    raises.push(alerts.raise({ severity, category, title, summary, ...where }, { key: k }));
  };
  for (const c of hb.containers) {
    if (c.flapping) {
      cond(
        `flapping:${c.name}`,
        'container_flapping',
        Severity.error,
        `Container ${c.name} is flapping`,
        `Container ${c.name} on ${where.instance ?? hb.vmCid} keeps dying and is being restarted with backoff (${c.restarts} restarts); see \`bosun logs\` for why.`,
      );
    }
    if (c.state === 'failed') {
      cond(
        `failing:${c.name}`,
        'container_failing',
        Severity.critical,
        `Container ${c.name} is failing`,
        `Container ${c.name} on ${where.instance ?? hb.vmCid} could not be created or started; see \`bosun instances --ps\` and \`bosun logs\` for the error.`,
      );
    }
  }
  for (const kind of ['persistent', 'ephemeral'] as const) {
    const usage = hb.vitals.disk[kind];
    if (usage && usage.percent > config.diskFullPercent) {
      cond(
        `disk:${kind}`,
        'disk_full',
        Severity.error,
        `${kind[0]?.toUpperCase()}${kind.slice(1)} disk nearly full`,
        `The ${kind} disk of ${where.instance ?? hb.vmCid} is ${usage.percent}% full (threshold ${config.diskFullPercent}%); ` +
          (kind === 'persistent' ? 'raise persistent_disk in the manifest and deploy, or delete data.' : 'remove unused images or data on the VM.'),
      );
    }
  }
  // Conditions this heartbeat no longer shows are over.
  for (const k of alerts.activeKeys()) {
    if (k.startsWith(`hb:${hb.agentId}:`) && !k.startsWith(`hb:${hb.agentId}:agent:`) && !seenKeys.has(k)) alerts.clear(k);
  }
  await Promise.all(raises);
}

/** An alert the agent posted itself; repeated ones within `agentAlertRepeatMs` are dropped. */
export async function raiseAgentAlert(alerts: AlertCenter, config: Pick<HealthConfig, 'agentAlertRepeatMs'>, a: AgentAlert, where: Where): Promise<void> {
  // Flapping/failing share their key with the heartbeat-derived condition, so they alert once.
  const key =
    a.category === 'container_flapping'
      ? `hb:${a.agentId}:flapping:${a.container ?? ''}`
      : a.category === 'container_failing'
        ? `hb:${a.agentId}:failing:${a.container ?? ''}`
        : `hb:${a.agentId}:agent:${a.category}:${a.container ?? ''}:${a.title}`;
  await alerts.raise(
    {
      severity: a.severity,
      category: a.category,
      title: a.title,
      summary: a.container === undefined ? a.summary : `${a.summary} (container ${a.container})`,
      ...where,
    },
    { key, ttlMs: config.agentAlertRepeatMs },
  );
}
