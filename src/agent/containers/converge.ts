import { CONTAINER_LABELS } from '../../common/contracts/instance-spec.js';
import { errorMessage } from '../../common/errors.js';
import type { ContainerRuntime } from './container-runtime.js';
import { containersReferencedBy } from './supervised.js';

/**
 * Converges dockerd to the applied spec: creates missing containers, replaces changed ones,
 * removes ones no longer in the spec. Starting them is the healer's job. Call under the mutex.
 */
export async function convergeToSpec(rt: ContainerRuntime): Promise<void> {
  if (!rt.spec) return;
  const engine = rt.engine();
  for (const c of await engine.listContainers(CONTAINER_LABELS.container)) {
    const name = c.labels[CONTAINER_LABELS.container] ?? '';
    if (!rt.sups.has(name)) {
      rt.log.info('removing a container that is no longer in the spec', { container: name });
      await engine.removeContainer(c.id).catch((err: unknown) => rt.log.warn('cannot remove container', { container: name, error: errorMessage(err) }));
    }
  }
  // Docker binds a link (and volumes_from, network_mode container:X) to the container, not to
  // its name: a container linked to one that is replaced cannot start ("Cannot link to a non
  // running container") until it is re-created too.
  const replaced = new Set<string>();
  for (const s of rt.inStartOrder()) {
    const name = s.spec.name;
    const info = await rt.inspect(name);
    const linkedReplaced = containersReferencedBy(s.spec).filter((n) => replaced.has(n));
    if (info && info.labels[CONTAINER_LABELS.specHash] === s.spec.specHash && linkedReplaced.length === 0) {
      s.dockerId = info.id;
      rt.observe(s, info);
      continue;
    }
    if (info) {
      replaced.add(name);
      rt.log.info(
        linkedReplaced.length > 0 ? 're-creating a container whose linked container was replaced' : 'replacing a container whose spec changed',
        { container: name, ...(linkedReplaced.length > 0 ? { linked: linkedReplaced } : {}) },
      );
      await rt.stopDependents(name);
      rt.move(s, 'stop');
      await engine.removeContainer(info.id);
      rt.move(s, 'stopped');
      rt.move(s, 'wait');
    }
    await rt.create(s);
  }
}
