import { describe, expect, it } from 'vitest';
import { cpiDisplayName } from '../../../../src/cloud/external/external-config.js';

describe('cpiDisplayName: what status calls an external cloud', () => {
  it('is the executable file name', () => {
    expect(cpiDisplayName('/usr/local/bin/bosh-aws-cpi', [])).toBe('bosh-aws-cpi');
  });
  it('is the folder of a generic BOSH job executable', () => {
    expect(cpiDisplayName('/var/vcap/jobs/docker_cpi/bin/cpi', ['-configPath', '/x.json'])).toBe('docker_cpi');
  });
  it('is the script an interpreter runs, not the interpreter', () => {
    expect(cpiDisplayName('/usr/bin/node', ['/opt/bosun/dist/src/cloud/local-cpi/main.js'])).toBe('local-cpi');
    expect(cpiDisplayName('/usr/bin/ruby', ['-W0', '/opt/cpi/bin/openstack_cpi.rb'])).toBe('openstack_cpi');
  });
});
