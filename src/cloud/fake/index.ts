export { FakeCloud, type FakeCloudOptions, type FailOptions, type CloudMethod } from './fake-cloud.js';
export { FakeAgent } from './fake-agent.js';
