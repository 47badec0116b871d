import type { Command } from 'commander';
import type { GlobalOptions } from './output.js';

/** The root program's flags (-d, --json, -n, --config), from any (sub)command. */
export function globalOptions(command: Command): GlobalOptions {
  let root = command;
  while (root.parent) root = root.parent;
  return root.opts<GlobalOptions>();
}
