/** How the agent finds an attached disk on its VM (BOSH's disk hint); for the local cloud a loop device path. */
export interface DiskHint {
  path: string;
  [key: string]: unknown;
}
