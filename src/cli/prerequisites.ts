/**
 * What `bosun up` needs on the host for the local cloud, and the one message that says how to get
 * what is missing. Nothing is installed silently: the person runs the printed command.
 */
export interface Prerequisite {
  command: string;
  debianPackage: string;
}

export const PREREQUISITES: Prerequisite[] = [
  { command: 'dockerd', debianPackage: 'docker.io' },
  { command: 'docker-init', debianPackage: 'docker.io' },
  { command: 'docker-registry', debianPackage: 'docker-registry' },
  { command: 'mkfs.ext4', debianPackage: 'e2fsprogs' },
  { command: 'losetup', debianPackage: 'util-linux' },
  { command: 'ip', debianPackage: 'iproute2' },
  { command: 'nsenter', debianPackage: 'util-linux' },
  { command: 'unshare', debianPackage: 'util-linux' },
  { command: 'rsync', debianPackage: 'rsync' },
];

export interface PrerequisiteProbe {
  which(command: string): string | null;
  isRoot(): boolean;
}

/** null when everything is there; otherwise one message naming what is missing and how to install it. */
export function checkPrerequisites(probe: PrerequisiteProbe): string | null {
  if (!probe.isRoot()) {
    return 'bosun up needs root: the local cloud creates network namespaces, loop devices and mounts. Run it as root (e.g. `sudo bosun up`).';
  }
  const missing = PREREQUISITES.filter((p) => probe.which(p.command) === null);
  if (missing.length === 0) return null;
  const packages = [...new Set(missing.map((p) => p.debianPackage))];
  const commands = missing.map((p) => p.command).join(', ');
  return (
    `bosun up needs ${commands}, which ${missing.length === 1 ? 'is' : 'are'} not installed. ` +
    `Install ${packages.length === 1 ? 'it' : 'them'} with \`apt-get install -y ${packages.join(' ')}\` (or run \`bash scripts/setup.sh\`), then run \`bosun up\` again.`
  );
}
