import { describe, expect, it } from 'vitest';
import { DependencyGraph } from '../../../src/agent/containers/dependency-graph.js';

const g = (edges: Record<string, string[]>): DependencyGraph => new DependencyGraph(Object.entries(edges).map(([name, dependsOn]) => ({ name, dependsOn })));

describe('DependencyGraph', () => {
  it('orders every container after its dependencies, keeping spec order otherwise', () => {
    const graph = g({ web: ['api'], api: ['db'], db: [], cache: [] });
    expect(graph.startOrder()).toEqual(['db', 'api', 'web', 'cache']);
    expect(graph.stopOrder()).toEqual(['cache', 'web', 'api', 'db']);
  });

  it('finds transitive dependents in start order and leaves independent ones out', () => {
    const graph = g({ a: [], b: ['a'], c: ['b'], d: [], e: ['a', 'd'] });
    expect(graph.dependentsOf('a')).toEqual(['b', 'c', 'e']);
    expect(graph.dependentsOf('b')).toEqual(['c']);
    expect(graph.dependentsOf('d')).toEqual(['e']);
    expect(graph.dependentsOf('c')).toEqual([]);
  });

  it('rejects a cycle and names it', () => {
    expect(() => g({ a: ['c'], b: ['a'], c: ['b'] })).toThrow(/cycle \(a → c → b → a\)/);
    expect(() => g({ a: ['a'] })).toThrow(/cycle/);
  });

  it('rejects a dependency on an unknown container and duplicate names', () => {
    expect(() => g({ a: ['nope'] })).toThrow(/depends on "nope"/);
    expect(() => new DependencyGraph([{ name: 'a', dependsOn: [] }, { name: 'a', dependsOn: [] }])).toThrow(/twice/);
  });
});
