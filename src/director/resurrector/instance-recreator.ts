/**
 * recreate_vm for the resurrector and cloud-check: the shared replace-VM operation
 * (deploy/replace-vm.ts, the path deploy and `recreate` take too), then the last applied spec and
 * the containers started and watched (a stopped instance's stay stopped). Its agent is not
 * drained first: it is unresponsive or its VM is gone, which is why the VM is replaced.
 */
import { errorMessage } from '../../common/errors.js';
import { applySpec, converge, type ConvergeTimeouts } from '../deploy/converge.js';
import { replaceVm, type StepRunner, type VmPorts } from '../deploy/replace-vm.js';
import type { MonitoredInstance, TaskStep } from '../health/ports.js';
import { instanceName } from '../health/ports.js';

/** Recreates an instance's VM keeping its disks; returns the new VM. */
export interface InstanceRecreator {
  recreate(instance: MonitoredInstance, log: (step: TaskStep) => void, signal?: AbortSignal): Promise<{ vmCid: string; agentId: string }>;
}

export interface VmReplacerDeps {
  ports: VmPorts;
  converge: ConvergeTimeouts;
  /** How long the containers may take to run on the new VM. */
  watchTimeoutMs: number;
}

export class VmReplacer implements InstanceRecreator {
  constructor(private readonly deps: VmReplacerDeps) {}

  async recreate(instance: MonitoredInstance, log: (step: TaskStep) => void, signal?: AbortSignal): Promise<{ vmCid: string; agentId: string }> {
    const name = instanceName(instance);
    const stage = `Recreating ${name}`;
    const step: StepRunner = async (what, fn) => {
      log({ stage, step: what, state: 'started' });
      try {
        const v = await fn();
        log({ stage, step: what, state: 'finished' });
        return v;
      } catch (err) {
        log({ stage, step: what, state: 'failed', error: errorMessage(err) });
        throw err;
      }
    };
    const disks = instance.disks.filter((d) => d.active).map((d) => ({ cid: d.diskCid, hint: d.hint }));
    const vm = await replaceVm(this.deps.ports, instance, disks, { drain: false, signal, step });
    const spec = instance.spec;
    if (spec !== null) {
      const target = { name, desired: instance.desired };
      await step('Applying the last deployed spec', () => applySpec(vm.agent, target, spec, this.deps.converge, signal));
      if (instance.desired === 'started') {
        await step('Waiting for the containers to run', () =>
          converge(vm.agent, target, { minMs: 0, maxMs: this.deps.watchTimeoutMs }, this.deps.converge, signal),
        );
      }
    }
    return { vmCid: vm.vmCid, agentId: vm.agentId };
  }
}
