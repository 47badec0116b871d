import { InvalidInputError } from '../../common/errors.js';

/**
 * The containers of one instance and their `depends_on` edges. Built once per applied spec; every
 * cascade (restart dependents, start in order, stop in reverse order) asks it.
 */
export class DependencyGraph {
  private readonly deps = new Map<string, string[]>();
  private readonly order: string[];

  constructor(nodes: Array<{ name: string; dependsOn: string[] }>) {
    for (const n of nodes) {
      if (this.deps.has(n.name)) throw new InvalidInputError(`Container "${n.name}" appears twice in the spec; give each container a unique name.`);
      this.deps.set(n.name, [...n.dependsOn]);
    }
    for (const [name, ds] of this.deps) {
      for (const d of ds) {
        if (!this.deps.has(d)) throw new InvalidInputError(`Container "${name}" depends on "${d}", which is not in the spec; add it or remove the dependency.`);
      }
    }
    this.order = this.topologicalOrder();
  }

  get names(): string[] {
    return [...this.order];
  }

  dependenciesOf(name: string): string[] {
    return [...(this.deps.get(name) ?? [])];
  }

  /** Every container that depends on `name`, directly or transitively, in start order. */
  dependentsOf(name: string): string[] {
    const found = new Set<string>();
    let grew = true;
    while (grew) {
      grew = false;
      for (const [n, ds] of this.deps) {
        if (found.has(n) || n === name) continue;
        if (ds.some((d) => d === name || found.has(d))) {
          found.add(n);
          grew = true;
        }
      }
    }
    return this.order.filter((n) => found.has(n));
  }

  /** Start order: every container after the ones it depends on; ties keep spec order. */
  startOrder(): string[] {
    return [...this.order];
  }

  stopOrder(): string[] {
    return [...this.order].reverse();
  }

  private topologicalOrder(): string[] {
    const result: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, path: string[]): void => {
      const s = state.get(name);
      if (s === 'done') return;
      if (s === 'visiting') {
        const cycle = [...path.slice(path.indexOf(name)), name].join(' → ');
        throw new InvalidInputError(`The containers' depends_on form a cycle (${cycle}); remove one of these dependencies.`);
      }
      state.set(name, 'visiting');
      for (const d of this.deps.get(name) ?? []) visit(d, [...path, name]);
      state.set(name, 'done');
      result.push(name);
    };
    for (const name of this.deps.keys()) visit(name, []);
    return result;
  }
}
