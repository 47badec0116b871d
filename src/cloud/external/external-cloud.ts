import { randomInt } from 'node:crypto';
import type { DiskHint } from '../../common/contracts/disk-hint.js';
import type { Logger } from '../../common/logger.js';
import type { Cloud, CloudInfo, CreateVmRequest, CreateVmResult, VmMetadata } from '../cloud.js';
import { runCpi, describeCall, type CpiCommand } from './cpi-runner.js';
import { compileExternalCloudConfig, type ExternalCloudConfig, type ExternalCloudOptions } from './external-config.js';
import { cloudErrorOf, CpiInvalidResponseError, MAX_CPI_API_VERSION, type CpiResponse } from './protocol.js';
import {
  createVmArgs,
  createVmResultFromWire,
  diskHintFromWire,
  expectBoolean,
  expectString,
  expectStringList,
  metadataToWire,
} from './wire.js';

/** What `info` told (BOSH: api_version, default 1, and stemcell_formats). */
export interface CpiInfo {
  apiVersion: number;
  stemcellFormats: string[];
  raw: unknown;
}

interface CallSubject {
  vmCid?: string;
  diskCid?: string;
  /** The stemcell's api_version, for the context's `vm.stemcell.api_version`. */
  stemcellApiVersion?: number;
}

/**
 * A Cloud served by a BOSH CPI executable through the external CPI protocol (one process per
 * call, src/cloud/external/cpi-runner.ts). `info` is asked first and the API version is
 * min(CPI's, 2); errors come back as bosun's typed cloud errors with the CPI's ok_to_retry.
 */
export class ExternalCloud implements Cloud {
  readonly config: ExternalCloudConfig;
  private readonly logger: Logger;
  private negotiated: Promise<CpiInfo> | null = null;

  constructor(options: ExternalCloudOptions) {
    this.config = compileExternalCloudConfig(options);
    this.logger = this.config.logger.child({ component: 'external-cpi' });
  }

  get command(): CpiCommand {
    return { path: this.config.cpi, args: this.config.cpiArgs };
  }

  /** The director's uuid, once it is known (the context's `director_uuid`). */
  setDirectorUuid(uuid: string): void {
    this.config.directorUuid = uuid;
  }

  /** `info` (without api_version), once; a failed one is asked again next time. */
  cpiInfo(): Promise<CpiInfo> {
    if (this.negotiated === null) {
      this.negotiated = this.askInfo();
      this.negotiated.catch(() => (this.negotiated = null));
    }
    return this.negotiated;
  }

  /** The version used on every call after `info`. */
  async apiVersion(): Promise<number> {
    return (await this.cpiInfo()).apiVersion;
  }

  async info(): Promise<CloudInfo> {
    const info = await this.cpiInfo();
    return {
      name: this.config.name,
      apiVersion: info.apiVersion,
      stemcellFormats: info.stemcellFormats,
      supportsResizeDisk: this.config.resizeInPlace,
    };
  }

  async createStemcell(imagePath: string, cloudProperties: Record<string, unknown>): Promise<string> {
    const r = await this.call('create_stemcell', [imagePath, cloudProperties]);
    return expectString(r, this.where('create_stemcell'), 'a stemcell cid');
  }

  async deleteStemcell(stemcellCid: string): Promise<void> {
    await this.call('delete_stemcell', [stemcellCid]);
  }

  async createVm(request: CreateVmRequest): Promise<CreateVmResult> {
    const subject: CallSubject = request.stemcellApiVersion === undefined ? {} : { stemcellApiVersion: request.stemcellApiVersion };
    const r = await this.call('create_vm', createVmArgs(request), subject);
    return createVmResultFromWire(r, await this.apiVersion(), request.networks, this.where('create_vm'));
  }

  async deleteVm(vmCid: string): Promise<void> {
    await this.call('delete_vm', [vmCid], { vmCid });
  }

  async hasVm(vmCid: string): Promise<boolean> {
    return expectBoolean(await this.call('has_vm', [vmCid], { vmCid }), this.where('has_vm'));
  }

  async rebootVm(vmCid: string): Promise<void> {
    await this.call('reboot_vm', [vmCid], { vmCid });
  }

  async setVmMetadata(vmCid: string, metadata: VmMetadata): Promise<void> {
    await this.call('set_vm_metadata', [vmCid, metadataToWire(metadata)], { vmCid });
  }

  async createDisk(sizeMiB: number, cloudProperties: Record<string, unknown>, vmCid?: string): Promise<string> {
    const r = await this.call('create_disk', [sizeMiB, cloudProperties, vmCid ?? null], vmCid === undefined ? {} : { vmCid });
    return expectString(r, this.where('create_disk'), 'a disk cid');
  }

  async deleteDisk(diskCid: string): Promise<void> {
    await this.call('delete_disk', [diskCid], { diskCid });
  }

  async attachDisk(vmCid: string, diskCid: string): Promise<DiskHint> {
    const r = await this.call('attach_disk', [vmCid, diskCid], { vmCid, diskCid });
    return diskHintFromWire(r, await this.apiVersion(), this.where('attach_disk'));
  }

  async detachDisk(vmCid: string, diskCid: string): Promise<void> {
    await this.call('detach_disk', [vmCid, diskCid], { vmCid, diskCid });
  }

  async hasDisk(diskCid: string): Promise<boolean> {
    return expectBoolean(await this.call('has_disk', [diskCid], { diskCid }), this.where('has_disk'));
  }

  async getDisks(vmCid: string): Promise<string[]> {
    return expectStringList(await this.call('get_disks', [vmCid], { vmCid }), this.where('get_disks'));
  }

  async resizeDisk(diskCid: string, newSizeMiB: number): Promise<void> {
    await this.call('resize_disk', [diskCid, newSizeMiB], { diskCid });
  }

  /** BOSH snapshot_disk (not part of bosun's Cloud; cpi-certify tries it). */
  async snapshotDisk(diskCid: string, metadata: Record<string, string>): Promise<string> {
    const r = await this.call('snapshot_disk', [diskCid, metadata], { diskCid });
    return expectString(r, this.where('snapshot_disk'), 'a snapshot cid');
  }

  async deleteSnapshot(snapshotCid: string): Promise<void> {
    await this.call('delete_snapshot', [snapshotCid]);
  }

  private where(method: string): string {
    return describeCall(this.command, method);
  }

  private async askInfo(): Promise<CpiInfo> {
    const where = this.where('info');
    const response = await this.exchange('info', [], undefined, {});
    if (response.error !== null) throw cloudErrorOf(response.error, where, {});
    const r = response.result;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) {
      throw new CpiInvalidResponseError(`${where} answered ${JSON.stringify(r)}; expected {api_version, stemcell_formats}`);
    }
    const o = r as Record<string, unknown>;
    const cpiVersion = typeof o['api_version'] === 'number' && Number.isInteger(o['api_version']) ? o['api_version'] : 1;
    const formats = Array.isArray(o['stemcell_formats']) ? o['stemcell_formats'].filter((f): f is string => typeof f === 'string') : [];
    const apiVersion = Math.max(1, Math.min(cpiVersion, MAX_CPI_API_VERSION));
    this.logger.info('CPI info', { cpi: this.config.cpi, cpiApiVersion: cpiVersion, apiVersion, stemcellFormats: formats });
    return { apiVersion, stemcellFormats: formats, raw: r };
  }

  private async call(method: string, args: unknown[], subject: CallSubject = {}): Promise<unknown> {
    const apiVersion = await this.apiVersion();
    const response = await this.exchange(method, args, apiVersion, subject);
    if (response.error !== null) throw cloudErrorOf(response.error, this.where(method), subject);
    return response.result;
  }

  private exchange(method: string, args: unknown[], apiVersion: number | undefined, subject: CallSubject): Promise<CpiResponse> {
    const context: Record<string, unknown> = {
      ...this.config.properties,
      director_uuid: this.config.directorUuid,
      request_id: `cpi-${String(randomInt(0, 1_000_000)).padStart(6, '0')}`,
      ...(subject.stemcellApiVersion === undefined ? {} : { vm: { stemcell: { api_version: subject.stemcellApiVersion } } }),
    };
    const timeoutMs = this.config.timeoutsMs[method] ?? this.config.timeoutsMs['default'] ?? 300_000;
    return runCpi(
      this.command,
      { method, arguments: args, context, ...(apiVersion === undefined ? {} : { api_version: apiVersion }) },
      { timeoutMs, logger: this.logger },
    );
  }
}
