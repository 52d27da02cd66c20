import { expect } from 'chai';
import { createRequire } from 'node:module';
import { MissingDependency, TfnzError } from '../../lib/index';
import { importOptional } from '../../lib/shared/optional-dependency';

const require = createRequire(import.meta.url);
const ABSENT = 'tfnz-spec-absent-package';
const UNRELATED = 'tfnz-spec-unrelated';

describe('optional packages (importOptional)', () => {
  it('turns an ESM import of a missing package into MissingDependency with the install line', async () => {
    const err = await importOptional(() => import(ABSENT), [ABSENT, 'other'], 'the feature').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MissingDependency).and.instanceOf(TfnzError);
    expect((err as MissingDependency).code).to.equal('MISSING_DEPENDENCY');
    expect((err as Error).message).to.equal(`the feature needs the '${ABSENT}' package, which is not installed; run: npm install ${ABSENT} other`);
  });

  it('does the same for a CommonJS require', async () => {
    const err = await importOptional(async () => require(ABSENT) as unknown, [ABSENT], 'the feature').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MissingDependency);
  });

  it('passes on other failures as they are, and the module when it loads', async () => {
    const other = await importOptional(() => import(UNRELATED), [ABSENT], 'the feature').catch((e: unknown) => e);
    expect(other).not.to.be.instanceOf(MissingDependency);
    expect((other as { code?: string }).code).to.equal('ERR_MODULE_NOT_FOUND');
    const broken = new Error('boom');
    expect(await importOptional(() => Promise.reject(broken), [ABSENT], 'x').catch((e: unknown) => e)).to.equal(broken);
    const path = await importOptional(() => import('node:path'), ['node:path'], 'x');
    expect(path.posix.join('a', 'b')).to.equal('a/b');
  });
});
