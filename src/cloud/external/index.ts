export { ExternalCloud, type CpiInfo } from './external-cloud.js';
export type { ExternalCloudOptions, ExternalCloudConfig } from './external-config.js';
export { NotImplementedError, CpiInvalidResponseError, CpiUnknownError } from './protocol.js';
export { CpiTimeoutError } from './cpi-runner.js';
