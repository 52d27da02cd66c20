import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { DEFAULT_LIMITS, LIMITS, formatLimit, parseLimit, resolveLimits } from '../../lib/server/limits';

const info = (key: string) => LIMITS.find((l) => l.key === key)!;

describe('location limits', () => {
  it('documents every limit in the README with its flag, default and what it bounds (as `tfnz location --help` says)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const l of LIMITS) expect(readme, l.key).to.contain(`| \`--${l.flag}\`, \`${l.key}\` | ${formatLimit(l, l.default)} | ${l.what} |`);
  });

  it('reads flag values with binary size suffixes, and refuses what is not a positive number', () => {
    expect(parseLimit(info('containerMemoryBytes'), '512M')).to.equal(512 * 2 ** 20);
    expect(parseLimit(info('frameBytes'), '2GiB')).to.equal(2 * 2 ** 30);
    expect(parseLimit(info('preAuthFrameBytes'), '65536')).to.equal(65536);
    expect(parseLimit(info('containerCpus'), '0.5')).to.equal(0.5);
    for (const [key, bad] of [['containerPids', '10k'], ['frameBytes', '-1'], ['openDeadlineMs', 'soon'], ['containerCpus', '0']]) {
      expect(() => parseLimit(info(key), bad), `${key} ${bad}`).to.throw(new RegExp(`--${info(key).flag}`));
    }
  });

  it('puts given limits over the defaults, refusing unknown keys and non-positive values', () => {
    expect(resolveLimits({ containerPids: 100 })).to.deep.equal({ ...DEFAULT_LIMITS, containerPids: 100 });
    expect(() => resolveLimits({ nope: 1 } as never)).to.throw(/unknown limit 'nope'/);
    expect(() => resolveLimits({ sessionsPerUser: 0 })).to.throw(/positive/);
    expect(() => resolveLimits({ queuedBytes: 1.5 })).to.throw(/positive integer/);
  });
});
