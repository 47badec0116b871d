/**
 * `bosun validate`'s cloud config line: the manifest's vm_type, vm_extensions, azs,
 * persistent_disk_type and network names checked against the targeted director's cloud config
 * when it answers (a name it lacks fails validate, as the deploy would); otherwise said to be
 * not checked.
 */
import type { CloudConfigInfo } from '../../common/contracts/api.js';
import { loadCloudConfig } from '../../manifest/cloud-config.js';
import { planDeployment, type NativeManifest } from '../../manifest/index.js';
import type { CliContext } from '../context.js';
import type { GlobalOptions } from '../output.js';
import { directorGetIfReachable } from './validate-stemcell.js';

export interface CloudConfigNote {
  checked: boolean;
  /** The director's cloud config version checked against (0: it has none). */
  version?: number;
  note: string;
}

export async function cloudConfigNote(manifest: NativeManifest, options: GlobalOptions, context: CliContext | undefined): Promise<CloudConfigNote> {
  const info = await directorGetIfReachable<CloudConfigInfo>(options, context, '/api/v1/cloud_config');
  if (info === null) return { checked: false, note: 'not checked (no director answers; `bosun deploy` checks the names against its cloud config)' };
  // Throws the deploy's NotFoundError naming each group, key and the names that exist.
  planDeployment(manifest, { cloudConfig: info.text === null ? null : loadCloudConfig(info.text).config });
  return info.text === null
    ? { checked: true, version: 0, note: 'the director has none (only inline cloud_properties and vm_type apply)' }
    : { checked: true, version: info.version, note: `names checked against the director's cloud config (version ${info.version})` };
}
