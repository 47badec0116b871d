/**
 * Agent keys generated ahead of time on libuv's thread pool. Generating a 2048-bit RSA key takes
 * 100–300 ms of CPU; done synchronously while issuing each new VM's agent certificate, it blocked
 * the event loop and so serialised the createVm calls of a whole deploy batch. With a ready key,
 * issuing a certificate costs only the CA's signature (~30 ms).
 */
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { generateRsaKeyPem } from '../common/pki.js';

export class AgentKeyPool {
  private readonly ready: string[] = [];
  private generating = 0;
  private closed = false;

  /** Starts filling at once, `size` keys (a deploy batch's worth for most manifests). */
  constructor(
    private readonly size: number,
    private readonly log: Logger,
  ) {
    this.refill();
  }

  /** A pre-generated key, or undefined when none is ready yet (the caller then generates one itself). */
  take(): string | undefined {
    const key = this.ready.shift();
    this.refill();
    return key;
  }

  close(): void {
    this.closed = true;
    this.ready.length = 0;
  }

  private refill(): void {
    while (!this.closed && this.ready.length + this.generating < this.size) {
      this.generating++;
      void generateRsaKeyPem()
        .then(
          (key) => {
            if (!this.closed) this.ready.push(key);
          },
          (err: unknown) => this.log.warn('cannot generate an agent key ahead of time; keys will be generated on demand', { error: errorMessage(err) }),
        )
        .finally(() => {
          this.generating--;
        });
    }
  }
}
