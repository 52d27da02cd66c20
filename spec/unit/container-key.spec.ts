/** #20: how a command-line key names a container, the same at the location and in the SDK. */
import { expect } from 'chai';
import { findByKey } from '../../lib/shared/container-key';
import { ContainerNotFound } from '../../lib/protocol/errors';
import { ago } from '../../lib/cli/output';

const containers = [
  { id: 'Ab3xYz0123456789', tag: 'web' },
  { id: 'Ab3qQq0123456789', tag: 'db' },
  { id: 'Zz9untagged00000' },
];
const find = (key: string) => findByKey(containers, key, (c) => c).id;

describe('container keys (uuid, start of a uuid, tag, uuid:tag)', () => {
  it('finds by uuid, tag, uuid:tag and a unique start of a uuid', () => {
    expect(find('Zz9untagged00000')).to.equal('Zz9untagged00000');
    expect(find('web')).to.equal('Ab3xYz0123456789');
    expect(find('Ab3qQq0123456789:db')).to.equal('Ab3qQq0123456789');
    expect(find('Ab3x')).to.equal('Ab3xYz0123456789');
  });

  it('refuses an ambiguous or short start, a mismatched uuid:tag and an unknown key, saying what to do', () => {
    expect(() => find('Ab3')).to.throw(ContainerNotFound, "no container 'Ab3'");
    expect(() => find('Ab3x0')).to.throw(ContainerNotFound, 'tfnz ps -a');
    expect(() => find('Ab3xYz0123456789:db')).to.throw(ContainerNotFound);
    expect(() => findByKey([...containers, { id: 'Ab3xOther' }], 'Ab3x', (c) => c)).to.throw(ContainerNotFound, 'start of 2');
  });

  it("prints ages as docker's CREATED column", () => {
    const now = 1_000_000_000;
    expect([ago(now - 1000, now), ago(now - 59_000, now), ago(now - 120_000, now), ago(now - 3 * 3_600_000, now), ago(now - 86_400_000, now)])
      .to.deep.equal(['1 second ago', '59 seconds ago', '2 minutes ago', '3 hours ago', '1 day ago']);
  });
});
