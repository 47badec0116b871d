import type { Command } from 'commander';
import type { CloudConfigDiffResponse, CloudConfigInfo } from '../../common/contracts/api.js';
import { loadCloudConfig } from '../../manifest/cloud-config.js';
import type { CliContext } from '../context.js';
import { printJson } from '../output.js';
import { openSession } from '../session.js';
import { confirm } from './confirm.js';
import { readText } from './manifest-inputs.js';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

export function registerCloudConfigCommands(program: Command, context: CliContext): void {
  program
    .command('update-cloud-config <file>')
    .description("show what a cloud config changes against the director's current one, ask, and make it the current one")
    .action(async (file: string, _opts, cmd: Command) => {
      const text = await readText(file, 'cloud config');
      // Checked here first, so that every problem names this file with its line.
      loadCloudConfig(text, { fileName: file });
      const s = await openSession(cmd, context);
      const diff = await s.client.post<CloudConfigDiffResponse>('/api/v1/cloud_config/diff', { text });
      if (!s.options.json) {
        for (const w of diff.warnings) out(`Warning: ${w}`);
        out(diff.changes.length === 0 ? 'No changes.' : `Cloud config:\n${diff.text}`);
      }
      if (diff.changes.length > 0) await confirm(s, 'Update the cloud config?');
      const info = await s.client.post<CloudConfigInfo>('/api/v1/cloud_config', { text });
      if (s.options.json) printJson({ diff, cloudConfig: info });
      else out(`Cloud config version ${info.version} is current. Deployments pick it up at their next deploy (\`bosun deploy --dry-run\` shows what changes).`);
    });

  program
    .command('cloud-config')
    .description("print the director's current cloud config")
    .action(async (_opts, cmd: Command) => {
      const s = await openSession(cmd, context);
      const info = await s.client.get<CloudConfigInfo>('/api/v1/cloud_config');
      if (s.options.json) {
        printJson(info);
        return;
      }
      if (info.text === null) {
        out('The director has no cloud config; upload one with `bosun update-cloud-config FILE`.');
        return;
      }
      process.stdout.write(`# cloud config version ${info.version}, uploaded ${info.createdAt ?? '?'} by ${info.user ?? '?'}\n`);
      process.stdout.write(info.text.endsWith('\n') ? info.text : `${info.text}\n`);
    });
}
