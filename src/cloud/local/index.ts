export { LocalCloud } from './local-cloud.js';
export type { LocalCloudOptions, LocalCloudConfig } from './config.js';
