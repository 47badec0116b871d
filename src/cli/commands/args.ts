import { InvalidInputError } from '../../common/errors.js';

export function parseId(value: string, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new InvalidInputError(`${what} must be a whole number, got "${value}".`);
  return n;
}

/** GROUP/INDEX (index required) or GROUP or nothing, for instance-addressing commands. */
export function parseInstance(
  value: string | undefined,
  requireIndex: true,
): { group: string; index: number };
export function parseInstance(
  value: string | undefined,
  requireIndex: false,
): { group?: string; index?: number };
export function parseInstance(
  value: string | undefined,
  requireIndex: boolean,
): { group?: string; index?: number } {
  if (value === undefined) {
    if (requireIndex)
      throw new InvalidInputError(
        'Name the instance as GROUP/INDEX, e.g. docker-vm-1/0 (see `bosun -d NAME instances`).',
      );
    return {};
  }
  const m = /^([^/]+)(?:\/(\d+))?$/.exec(value);
  if (!m?.[1] || (requireIndex && m[2] === undefined)) {
    throw new InvalidInputError(
      `"${value}" is not an instance: name it as GROUP/INDEX, e.g. docker-vm-1/0 (see \`bosun -d NAME instances\`).`,
    );
  }
  return m[2] === undefined ? { group: m[1] } : { group: m[1], index: Number(m[2]) };
}
