import { describe, expect, it } from 'vitest';
import { REDACTED, isSecretName, redactManifestText, redactText, redactValue } from '../../../src/common/redact.js';

describe('redaction', () => {
  it('knows secret names: PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL in any case', () => {
    for (const name of ['DB_PASSWORD', 'client_secret', 'GitHub_Token', 'API_KEY', 'aws_credentials', 'password']) {
      expect(isSecretName(name), name).toBe(true);
    }
    for (const name of ['REDIS_HOST', 'PORT', 'EXAMPLE_VAR']) expect(isSecretName(name), name).toBe(false);
  });

  it('redacts values in text: NAME=value, NAME: value, JSON pairs and auth headers', () => {
    expect(redactText('docker run -e DB_PASSWORD=hunter2 -e PORT=80 redis')).toBe(`docker run -e DB_PASSWORD=${REDACTED} -e PORT=80 redis`);
    expect(redactText("export API_TOKEN='a b c'; env")).toBe(`export API_TOKEN=${REDACTED}; env`);
    expect(redactText('{"SECRET_KEY":"s3cr3t","HOST":"x"}')).toBe(`{"SECRET_KEY":"${REDACTED}","HOST":"x"}`);
    expect(redactText('env:\n  API_KEY: abc123\n  HOST: db')).toBe(`env:\n  API_KEY: ${REDACTED}\n  HOST: db`);
    expect(redactText('Authorization: Bearer abcdefghijklmnop')).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redactText('cannot connect to https://10.0.0.1:25556: refused')).toBe('cannot connect to https://10.0.0.1:25556: refused');
  });

  it('redacts objects at any depth, strings inside them, and errors', () => {
    const nest = (inner: unknown, levels: number): unknown => (levels === 0 ? inner : { level: nest(inner, levels - 1) });
    expect(redactValue(nest({ env: { DB_PASSWORD: 'x', HOST: 'h' } }, 12))).toEqual(nest({ env: { DB_PASSWORD: REDACTED, HOST: 'h' } }, 12));
    expect(redactValue({ keyPem: '-----BEGIN', command: 'psql PGPASSWORD=pw', list: ['TOKEN=t', 'A=1'] })).toEqual({
      keyPem: REDACTED,
      command: `psql PGPASSWORD=${REDACTED}`,
      list: [`TOKEN=${REDACTED}`, 'A=1'],
    });
    expect(redactValue(new Error('bad env SECRET=abc'))).toEqual({ name: 'Error', message: `bad env SECRET=${REDACTED}` });
  });

  it('redacts a manifest wherever a secret-named value sits, keeping its layout and comments', () => {
    const yaml = [
      'name: demo # the demo',
      'instance_groups:',
      '  - name: g',
      '    containers:',
      '      - name: db',
      '        image: postgres:16',
      '        env:',
      '          POSTGRES_PASSWORD: hunter2',
      '          POSTGRES_USER: app',
      '        env_vars: ["API_TOKEN=t0k", "MODE=prod"]',
      'properties:',
      '  credentials: {user: u, pass: p}',
      '',
    ].join('\n');
    const out = redactManifestText(yaml);
    expect(out).toContain('name: demo # the demo');
    expect(out).toContain(`POSTGRES_PASSWORD: ${REDACTED}`);
    expect(out).toContain('POSTGRES_USER: app');
    expect(out).toContain(`API_TOKEN=${REDACTED}`);
    expect(out).toContain('MODE=prod');
    expect(out).not.toMatch(/hunter2|t0k|\bu\b.*\bp\b/);
  });
});

describe('the pino logger', () => {
  it('writes no secret at any depth, in the message, the meta or a child binding', async () => {
    const { createPinoLogger } = await import('../../../src/common/pino-logger.js');
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'bosun-log-'));
    try {
      const file = join(dir, 'log.jsonl');
      const log = createPinoLogger({ level: 'debug', destination: file }).child({ component: 'x', token: 'child-token-1' });
      log.info('running docker run -e DB_PASSWORD=hunter2', {
        spec: { containers: [{ name: 'db', env: { POSTGRES_PASSWORD: 'deep-secret-2', HOST: 'db' } }] },
        headers: { authorization: 'Bearer abcdefghijklmnop3' },
      });
      log.debug('apply', { a: { b: { c: { d: { e: { f: { g: { API_KEY: 'deeper-secret-4' } } } } } } } });
      const text = await readFile(file, 'utf8');
      expect(text).not.toMatch(/hunter2|child-token-1|deep-secret-2|abcdefghijklmnop3|deeper-secret-4/);
      expect(text).toContain('DB_PASSWORD=<redacted>');
      expect(text).toContain('"HOST":"db"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
