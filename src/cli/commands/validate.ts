import type { Command } from 'commander';
import { formatManifestProblem } from '../../common/errors.js';
import {
  loadManifest,
  planDeployment,
  serializeManifest,
  type DeploymentPlan,
  type LoadedManifest,
} from '../../manifest/index.js';
import type { CliContext } from '../context.js';
import { printJson, type GlobalOptions } from '../output.js';
import { addManifestOptions, readManifestInputs, type ManifestFlags } from './manifest-inputs.js';
import { stemcellNote, uploadedStemcellsIfReachable, type StemcellNote } from './validate-stemcell.js';
import { cloudConfigNote, type CloudConfigNote } from './validate-cloud-config.js';

interface ValidateOptions extends ManifestFlags {
  printNative?: boolean;
  allowHostPath?: string[];
}

/** With a context, validate also asks the targeted director (if it answers) which stemcell the manifest would boot. */
export function registerValidateCommand(program: Command, context?: CliContext): void {
  const command = program
    .command('validate <manifest>')
    .description('check a deployment manifest and print a summary of what it describes')
    .option(
      '--print-native',
      "print the manifest in bosun's native shape (converts docker BOSH release manifests)",
    )
    .option(
      '--allow-host-path <dir>',
      "check as a director whose host-path policy allows this VM directory (repeatable; the director's manifest_policy.allowed_host_paths)",
      (v: string, prev: string[] = []) => [...prev, v],
    );
  addManifestOptions(command).action(async (file: string, _options: ValidateOptions, cmd: Command) => {
      // optsWithGlobals reads the root's --json without importing program.ts (no import cycle).
      const options = cmd.optsWithGlobals<GlobalOptions & ValidateOptions>();
      const json = options.json === true;
      const { text, render } = await readManifestInputs(file, options);
      // Throws InvalidManifestError (exit 1) listing every problem.
      const loaded = loadManifest(text, { ...render, allowedHostPaths: options.allowHostPath ?? [] });
      const plan = planDeployment(loaded.manifest);
      if (options.printNative && !json) {
        for (const w of loaded.warnings) process.stderr.write(`warning: ${formatManifestProblem(w)}\n`);
        process.stdout.write(serializeManifest(loaded.manifest));
        return;
      }
      const stemcell = stemcellNote(plan, await uploadedStemcellsIfReachable(options, context));
      const cloudConfig = await cloudConfigNote(loaded.manifest, options, context);
      if (json) {
        printJson({
          valid: true,
          format: loaded.format,
          summary: summarise(plan),
          stemcell,
          cloudConfig,
          warnings: loaded.warnings,
          plan,
          ...(options.printNative ? { native: serializeManifest(loaded.manifest) } : {}),
        });
        return;
      }
      process.stdout.write(renderSummary(file, loaded, plan, stemcell, cloudConfig));
    });
}

export interface ValidateSummary {
  deployment: string;
  groups: number;
  instances: number;
  containers: number;
  persistentDisks: number;
  persistentDiskMiB: number;
}

function summarise(plan: DeploymentPlan): ValidateSummary {
  let instances = 0;
  let containers = 0;
  let disks = 0;
  let diskMiB = 0;
  for (const g of plan.groups) {
    instances += g.instanceCount;
    containers += g.instanceCount * (g.instances[0]?.containers.length ?? 0);
    if (g.persistentDiskMiB > 0) {
      disks += g.instanceCount;
      diskMiB += g.instanceCount * g.persistentDiskMiB;
    }
  }
  return {
    deployment: plan.name,
    groups: plan.groups.length,
    instances,
    containers,
    persistentDisks: disks,
    persistentDiskMiB: diskMiB,
  };
}

function renderSummary(file: string, loaded: LoadedManifest, plan: DeploymentPlan, stemcell: StemcellNote, cloudConfig: CloudConfigNote): string {
  const s = summarise(plan);
  const u = plan.update;
  const range = (w: { minMs: number; maxMs: number }): string =>
    w.minMs === w.maxMs ? `${w.minMs} ms` : `${w.minMs}-${w.maxMs} ms`;
  const format =
    loaded.format === 'native'
      ? 'native format'
      : `converted from the docker BOSH release format (${loaded.format === 'bosh-release-v1' ? 'v1, jobs' : 'v2, instance_groups'}); see --print-native`;
  const out = [
    `Manifest ${file} is valid (${format}).`,
    `Deployment:  ${s.deployment}`,
    `Groups:      ${s.groups}`,
    `Instances:   ${s.instances}`,
    `Containers:  ${s.containers}`,
    `Disks:       ${s.persistentDisks}${s.persistentDisks ? ` (${s.persistentDiskMiB} MiB in all)` : ''}`,
    `Stemcell:    ${stemcell.note}`,
    `Cloud config: ${cloudConfig.note}`,
    `Update:      canaries ${u.canaries}, max_in_flight ${u.maxInFlight.kind === 'count' ? u.maxInFlight.count : `${u.maxInFlight.percent}%`}, canary_watch_time ${range(u.canaryWatchTime)}, update_watch_time ${range(u.updateWatchTime)}, ${u.serial ? 'serial' : 'parallel'}`,
    `Warnings:    ${loaded.warnings.length}`,
    ...loaded.warnings.map((w) => `  warning: ${formatManifestProblem(w)}`),
    '',
    'Plan (containers in start order):',
  ];
  for (const g of plan.groups) {
    if (g.instances.length === 0) out.push(`  ${g.name}: no instances`);
    for (const inst of g.instances) {
      out.push(
        `  ${g.name}/${inst.index}  disk ${inst.persistentDiskMiB ? `${inst.persistentDiskMiB} MiB` : 'none'}, max_in_flight ${g.maxInFlight}`,
      );
      inst.containers.forEach((c, i) => {
        const ports = Object.entries(c.create.HostConfig.PortBindings ?? {}).flatMap(([cp, bs]) =>
          bs.map((b) => `${b.HostIp ? `${b.HostIp}:` : ''}${b.HostPort || '*'}->${cp}`),
        );
        const extras = [
          c.build ? 'built from dockerfile' : '',
          c.dependsOn.length ? `after ${c.dependsOn.join(', ')}` : '',
          ports.length ? `ports ${ports.join(' ')}` : '',
          c.mounts.length ? `volumes ${c.mounts.map((m) => `${m.source.path}:${m.target}`).join(' ')}` : '',
        ].filter(Boolean);
        out.push(`    ${i + 1}. ${c.name}  ${c.image}${extras.length ? `  (${extras.join('; ')})` : ''}`);
      });
    }
  }
  return `${out.join('\n')}\n`;
}
