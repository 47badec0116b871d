import { describe, expect, it } from 'vitest';
import { assertNoAliasClashes } from '../../../../src/director/dns/alias-clashes.js';
import { manifestModule } from '../../../../src/director/deploy/manifest-adapter.js';

const manifest = (name: string, aliases: string): string => `name: ${name}
instance_groups:
  - name: db
    instances: 1
    containers:
      - {name: redis, image: redis:7}
${aliases}`;

const stored = (name: string, text: string | null, pending: string | null = null) => ({ name, manifest: text, pendingManifest: pending });

describe('dns_aliases belong to one deployment', () => {
  const other = stored('billing', manifest('billing', 'dns_aliases: {db.internal: redis.db, cache.internal: redis.db}\n'));

  it('refuses a deploy whose alias another deployment has, naming both (any letter case)', () => {
    expect(() => assertNoAliasClashes(manifestModule, manifest('shop', 'dns_aliases: {DB.Internal: redis.db, shop.internal: redis.db}\n'), [other])).toThrow(
      /Deployment "shop": dns_aliases "db.internal" is already an alias of deployment "billing"\. A DNS alias belongs to one deployment/,
    );
  });

  it('lets a deployment keep its own aliases, and others use names nobody has', () => {
    const billingAgain = manifest('billing', 'dns_aliases: {db.internal: redis.db}\n');
    expect(() => assertNoAliasClashes(manifestModule, billingAgain, [other])).not.toThrow();
    expect(() => assertNoAliasClashes(manifestModule, manifest('shop', 'dns_aliases: {shop.internal: redis.db}\n'), [other])).not.toThrow();
    expect(() => assertNoAliasClashes(manifestModule, manifest('shop', ''), [other])).not.toThrow();
  });

  it("checks against another deployment's pending manifest too (a deploy in progress)", () => {
    const pending = stored('billing', null, manifest('billing', 'dns_aliases: {db.internal: redis.db}\n'));
    expect(() => assertNoAliasClashes(manifestModule, manifest('shop', 'dns_aliases: {db.internal: redis.db}\n'), [pending])).toThrow(/already an alias of deployment "billing"/);
  });
});
