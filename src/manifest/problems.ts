/**
 * Problems found while loading a manifest, before they are given a position in the YAML text.
 * Paths are segment arrays; `formatPath` prints them the way the user reads them:
 * `instance_groups[0].containers[1].bind_ports[0]`.
 */
export type PathSegment = string | number;

export interface RawProblem {
  severity: 'error' | 'warning';
  path: PathSegment[];
  message: string;
  /** Point at the key itself (unknown keys), not at its value. */
  onKey?: boolean;
}

export class ProblemList {
  readonly items: RawProblem[] = [];

  error(path: PathSegment[], message: string, onKey = false): void {
    this.items.push({ severity: 'error', path, message, onKey });
  }

  warning(path: PathSegment[], message: string, onKey = false): void {
    this.items.push({ severity: 'warning', path, message, onKey });
  }

  get hasErrors(): boolean {
    return this.items.some((p) => p.severity === 'error');
  }
}

export function formatPath(path: ReadonlyArray<PathSegment>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
