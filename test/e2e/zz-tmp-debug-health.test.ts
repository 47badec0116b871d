import { execFileSync } from 'node:child_process';
import { it } from 'vitest';
import { createLocalDirectorStack } from '../helpers/local-director-stack.js';

const M = `
name: resurrect
instance_groups:
  - name: redis
    instances: 1
    persistent_disk: 256
    containers:
      - name: redis
        image: redis:7
`;
it('debug', async () => {
  const s = await createLocalDirectorStack();
  try {
    await s.director.deploy({ manifest: M }, 'admin');
    await new Promise((r) => setTimeout(r, 8000));
    const [i] = await s.director.listInstances('resurrect');
    console.log('instance', JSON.stringify(i));
    const sh = (c: string) => { try { return execFileSync('sh', ['-c', c + ' 2>&1']).toString(); } catch (e) { return String((e as { stdout?: Buffer }).stdout ?? e); } };
    console.log(sh(`ip route get ${i?.ip}; ping -c1 -W1 ${i?.ip}; curl -sk -m 3 -o /dev/null -w '%{http_code}\\n' https://${i?.ip}:6868/agent/v1/actions/ping; echo rc=$?`));
    const agent = s.director.agents.connect({ agentId: i?.agentId ?? '', vmCid: i?.vmCid ?? '', ip: i?.ip ?? null });
    try { console.log('ping', await agent.ping()); } catch (e) { console.log('ping error', e); }
  } finally {
    await s.close();
  }
}, 200000);
