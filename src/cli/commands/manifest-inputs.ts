/**
 * The BOSH CLI's manifest flags, shared by `validate` and `deploy`: `-o ops.yml` (ops files, in
 * order), `-l vars.yml` (vars files) and `-v NAME=VALUE` (variables; they win over vars files).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { errorMessage, InvalidInputError } from '../../common/errors.js';
import type { ExtraFile, RenderOptions } from '../../manifest/index.js';

export interface ManifestFlags {
  opsFile?: string[];
  varsFile?: string[];
  var?: string[];
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function addManifestOptions(cmd: Command): Command {
  return cmd
    .option('-o, --ops-file <file>', 'apply a BOSH ops file to the manifest (repeatable, in order)', collect)
    .option('-l, --vars-file <file>', 'read variables from a YAML file (repeatable; a later file wins)', collect)
    .option('-v, --var <name=value>', 'set a variable ((name)) (repeatable; wins over vars files)', collect);
}

export async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`Cannot read the ${what} ${file}: ${errorMessage(err)}. Check the path and try again.`, {
      cause: err,
    });
  }
}

/** The manifest text and the render options its flags ask for. */
export async function readManifestInputs(
  file: string,
  flags: ManifestFlags,
): Promise<{ text: string; render: RenderOptions; hasExtras: boolean }> {
  const text = await readText(file, 'manifest');
  const extra = async (files: string[] | undefined, what: string): Promise<ExtraFile[]> =>
    Promise.all((files ?? []).map(async (f) => ({ fileName: f, text: await readText(f, what) })));
  const opsFiles = await extra(flags.opsFile, 'ops file');
  const varsFiles = await extra(flags.varsFile, 'vars file');
  const vars = flags.var ?? [];
  return {
    text,
    render: { fileName: file, opsFiles, varsFiles, vars },
    hasExtras: opsFiles.length + varsFiles.length + vars.length > 0,
  };
}
