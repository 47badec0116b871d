/**
 * The deploy's side of IP allocation: which addresses the planned instances get (computed before
 * any change, so that the dry run shows them and a bad static IP fails the deploy untouched),
 * recording them as the instances' reservations, the networks a new VM of an instance is created
 * with, and whether an instance's VM has other addresses than it should (it is then recreated).
 */
import type { VmNetwork, VmNetworks } from '../../cloud/cloud.js';
import { ConflictError, InvalidInputError, errorMessage } from '../../common/errors.js';
import { canonicalJson } from '../../manifest/canonical-json.js';
import type { CloudConfig } from '../../manifest/cloud-config.js';
import type { InstanceRecord, IpReservationRecord, Store } from '../../store/store.js';
import type { DeploymentPlan } from '../deploy/plan.js';
import { allocateAddresses, type AllocatedAddress, type AllocGroup, type HeldAddress } from './ip-allocator.js';

/** Per planned instance id: its addresses on the manual networks of its group (none without a cloud config). */
export type AddressPlan = Map<string, AllocatedAddress[]>;

/** Allocates against every address the director's deployments hold; throws InvalidInputError naming every problem. */
export async function planAddresses(store: Store, plan: DeploymentPlan, cloudConfig: CloudConfig | null): Promise<AddressPlan> {
  const planned = new Set(plan.groups.flatMap((g) => g.instances.map((s) => s.instanceId)));
  if (cloudConfig === null) return new Map([...planned].map((id) => [id, []]));
  const instances = new Map((await store.instances.listAll()).map((r) => [r.id, r]));
  // What each planned instance may go on holding: its group's networks, and of static ones only the listed addresses.
  const keepable = new Map<string, (network: string, address: string, isStatic: boolean) => boolean>();
  for (const g of plan.groups) {
    const refs = new Map((g.networkRefs ?? []).map((n) => [n.name, new Set(n.staticIps.map((ip) => ip.trim()))]));
    const check = (network: string, address: string, isStatic: boolean): boolean => {
      const listed = refs.get(network);
      return listed !== undefined && (!isStatic || listed.has(address));
    };
    for (const s of g.instances) keepable.set(s.instanceId, check);
  }
  const held: HeldAddress[] = [];
  for (const r of await store.ipReservations.list()) {
    const owner = instances.get(r.instanceId);
    // This deployment's instances that the plan drops are deleted before anything is created.
    if (owner === undefined || (owner.deployment === plan.name && !planned.has(owner.id))) continue;
    // An address the plan takes from one of its instances is released before any is reserved: another group may take it.
    if (owner.deployment === plan.name && keepable.get(owner.id)?.(r.network, r.address, r.static) === false) continue;
    held.push({ network: r.network, address: r.address, instanceId: r.instanceId, static: r.static, owner: `${owner.group}/${owner.index} of deployment "${owner.deployment}"` });
  }
  const groups: AllocGroup[] = plan.groups.map((g) => ({
    name: g.name,
    azs: g.azs ?? [],
    instances: g.instances.map((s) => ({ id: s.instanceId, index: s.index, az: g.placements?.[s.index]?.az ?? null })),
    networks: g.networkRefs ?? [],
  }));
  const result = allocateAddresses(cloudConfig, groups, held);
  if (result.problems.length > 0) {
    throw new InvalidInputError(`Deployment "${plan.name}" cannot be deployed; nothing was changed. ${result.problems.join('; ')}.`);
  }
  return new Map([...planned].map((id) => [id, result.byInstance.get(id) ?? []]));
}

/**
 * Makes the plan's addresses the instances' reservations: first every instance's addresses it
 * does not keep are released (so that one group may take what another gave up in the same
 * deploy), then the new ones are reserved.
 */
export async function reserveAddresses(store: Store, deployment: string, addresses: AddressPlan): Promise<void> {
  for (const [instanceId, list] of addresses) {
    const have = await store.ipReservations.forInstance(instanceId);
    const kept = have.filter((h) => list.some((a) => a.network === h.network && a.address === h.address));
    if (kept.length < have.length) await store.ipReservations.replaceForInstance(instanceId, kept);
  }
  for (const [instanceId, list] of addresses) {
    try {
      await store.ipReservations.replaceForInstance(
        instanceId,
        list.map((a) => ({ ...a, deployment })),
      );
    } catch (err) {
      // The primary key (network, address): a deploy of another deployment took one meanwhile.
      throw new ConflictError(
        `Reserving ${list.map((a) => `${a.address} on network "${a.network}"`).join(', ')} for deployment "${deployment}" failed: another deployment took an address since this deploy planned them (${errorMessage(err)}); deploy again.`,
        { cause: err },
      );
    }
  }
}

/** The group's networks with the instance's reserved addresses (and their settings) in place of "the cloud chooses". */
export function withReservedAddresses(networks: VmNetworks, reserved: readonly Pick<IpReservationRecord, 'network' | 'settings'>[]): VmNetworks {
  const out: VmNetworks = { ...networks };
  for (const r of reserved) out[r.network] = r.settings;
  return out;
}

const manualOnly = (networks: VmNetworks): Record<string, VmNetwork> =>
  Object.fromEntries(Object.entries(networks).filter(([, n]) => n.type === 'manual' && n.ip !== ''));

/**
 * How the instance's VM's addresses differ from the planned ones ("ip: A -> B"), or null (no VM,
 * or the same). A VM from before addresses were recorded counts as changed when its address is
 * none of them.
 */
export function addressChange(record: Pick<InstanceRecord, 'vmCid' | 'ip' | 'networks'>, planned: readonly AllocatedAddress[]): string | null {
  if (record.vmCid === null) return null;
  const want: Record<string, VmNetwork> = Object.fromEntries(planned.map((a) => [a.network, a.settings]));
  const had = record.networks === null ? {} : manualOnly(record.networks);
  const ips = (m: Record<string, VmNetwork>): string => Object.values(m).map((n) => n.ip).join(', ');
  if (record.networks === null || Object.keys(had).length === 0) {
    if (planned.length === 0 || planned.some((a) => a.address === record.ip)) return null;
    return `ip: ${record.ip ?? '(unknown)'} -> ${ips(want)}`;
  }
  if (canonicalJson(had) === canonicalJson(want)) return null;
  if (ips(had) !== ips(want)) return `ip: ${ips(had)} -> ${planned.length === 0 ? '(chosen by the cloud)' : ips(want)}`;
  return `networks: ${canonicalJson(had)} -> ${canonicalJson(want)}`;
}
