/**
 * What goes into a bosun stemcell besides Debian's packages: BOSH's conventions (so BOSH tooling
 * and operators find their way), the entry point container-based CPIs start, and the agent's own
 * configuration naming its settings source.
 */

export const STEMCELL_NAME = 'bosun-debian-12';
export const STEMCELL_OS = 'debian-12';
export const DEBIAN_SUITE = 'bookworm';
/** The stemcell API version: 3, as current BOSH stemcells (the agent reads settings from agent.json's source). */
export const STEMCELL_API_VERSION = 3;
/** general-tar / warden-tar: `image` is a gzipped tarball of the root filesystem. */
export const STEMCELL_FORMATS = ['general-tar', 'warden-tar'];

/**
 * Debian packages on top of `minbase`, sorted. docker.io brings dockerd, containerd, runc,
 * docker-init (tini) and iptables; mtools and xorriso let the agent read ConfigDrive and CDROM
 * settings without mounting anything.
 */
export const STEMCELL_PACKAGES = [
  'ca-certificates',
  'docker.io',
  'e2fsprogs',
  'iproute2',
  'libstdc++6',
  'mtools',
  'procps',
  'rsync',
  'util-linux',
  'xorriso',
];

/** Where the agent's code lives inside the stemcell. */
export const AGENT_HOME = '/var/vcap/bosh/bosun';
export const NODE_PATH = '/usr/local/bin/node';
export const AGENT_JSON_PATH = '/var/vcap/bosh/agent.json';
/** The settings file warden- and docker-style CPIs write (and the local cloud too). */
export const FILE_SETTINGS_PATH = '/var/vcap/bosh/warden-cpi-agent-env.json';

/** BOSH agent.json: which settings source the agent reads. */
export function agentJson(): unknown {
  return {
    Infrastructure: {
      Settings: {
        Sources: [{ Type: 'File', SettingsPath: FILE_SETTINGS_PATH }],
        UseRegistry: false,
      },
    },
  };
}

/** The agent's launcher: the stemcell's node running the stemcell's agent, settings from agent.json. */
export const AGENT_LAUNCHER = `#!/bin/sh
exec ${NODE_PATH} ${AGENT_HOME}/dist/src/agent/main.js --agent-config ${AGENT_JSON_PATH} "$@"
`;

/**
 * /usr/sbin/runsvdir-start, the entry point of container-based CPIs (started with an empty
 * environment): a small supervisor that restarts the agent when it exits, so an agent crash
 * restarts the agent and not the VM.
 */
export const RUNSVDIR_START = `#!/bin/sh
# bosun stemcell entry point: keeps the bosun agent running (the VM's "runit").
PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
HOME=/root
export PATH HOME
delay=\${BOSUN_AGENT_RESTART_DELAY:-1}
mkdir -p /var/vcap/data /var/vcap/store /var/vcap/bosh/log
while :; do
  /var/vcap/bosh/bin/bosun-agent
  echo "runsvdir-start: agent exited with status $?; restarting it in $delay s" >&2
  sleep "$delay"
done
`;

/** bosh-docker-cpi calls it before starting the agent; a VM of the local cloud shares the host's clock. */
export const SYNC_TIME = `#!/bin/sh
exit 0
`;
