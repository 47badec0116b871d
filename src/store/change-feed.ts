/**
 * Tells listeners (the director's DNS records) that rows they derive something from changed:
 * an instance created, bound to a VM, stopped, started, applied or deleted, a deployment's
 * manifest recorded. Emitted by the repositories after the write, in one place, so that no
 * caller (deploy, recreate, resurrector, cloud-check) has to remember to say so.
 */
export type StoreChange =
  | { table: 'instances'; instanceId: string }
  | { table: 'deployments'; deployment: string };

export type StoreChangeListener = (change: StoreChange) => void;

export class ChangeFeed {
  private readonly listeners = new Set<StoreChangeListener>();

  /** Returns the function that removes the listener. */
  on(listener: StoreChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: StoreChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // A listener's failure is its own; the write already happened.
      }
    }
  }
}
