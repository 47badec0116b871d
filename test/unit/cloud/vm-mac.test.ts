import { describe, expect, it } from 'vitest';
import { macForIp } from '../../../src/cloud/local/network.js';

describe("a local VM's MAC address", () => {
  it('follows from its IP, so a replacement VM with the same address keeps the same MAC', () => {
    expect(macForIp('10.244.0.5')).toBe('02:b0:0a:f4:00:05');
    expect(macForIp('10.244.0.5')).toBe(macForIp('10.244.0.5'));
    expect(macForIp('10.244.0.6')).not.toBe(macForIp('10.244.0.5'));
  });

  it('is a locally administered unicast address', () => {
    const first = Number.parseInt(macForIp('192.168.255.254').split(':')[0] as string, 16);
    expect(first & 0b10).toBe(0b10);
    expect(first & 0b01).toBe(0);
  });

  it('refuses what is not an IPv4 address', () => {
    expect(() => macForIp('10.244.0')).toThrow(/not an IPv4 address/);
    expect(() => macForIp('10.244.0.256')).toThrow(/not an IPv4 address/);
  });
});
