import { expect } from 'chai';
import { BadRequest } from '../../lib/protocol';
import { planBuild } from '../../lib/server/build-dockerfile';

/**
 * What the location takes from a Dockerfile before building it: the images it needs (its own
 * stages and scratch are not images), with build args applied as Docker applies them, and the
 * same text with each image pinned to what the location resolved it to.
 */
/** `work` rejects with a BadRequest whose message matches `message`. */
async function rejects(work: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await work.then(() => undefined, (e: unknown) => e);
  expect(err).to.be.instanceOf(BadRequest);
  expect((err as Error).message).to.match(message);
}

describe('build plan: the images a Dockerfile needs, and the Dockerfile pinned to them', async () => {
  it('finds FROM and COPY --from images, leaving out its own stages, stage indexes and scratch', async () => {
    const plan = await planBuild([
      'FROM busybox AS base',
      'FROM base AS again',
      'FROM scratch',
      'COPY --from=base /a /a',
      'COPY --from=0 /b /b',
      'COPY --from=nginx:latest /c /c',
      '',
    ].join('\n'));
    expect(plan.bases).to.deep.equal(['busybox', 'nginx:latest']);
  });

  it('reads instructions and stage names in any case, and FROM flags, as Docker does', async () => {
    expect((await planBuild('from busybox as One\ncopy --from=nginx /a /b\nFROM one\nFROM --platform=linux/amd64 busybox:1\n')).bases)
      .to.deep.equal(['busybox', 'busybox:1', 'nginx']);
  });

  it('applies build args and the defaults of ARGs declared before the first FROM', async () => {
    const text = 'ARG BASE=busybox\nARG TAG\nFROM ${BASE}:${TAG:-latest}\nFROM $BASE\n';
    expect((await planBuild(text)).bases).to.deep.equal(['busybox:latest', 'busybox']);
    expect((await planBuild(text, { BASE: 'team/app', TAG: '2' })).bases).to.deep.equal(['team/app:2', 'team/app']);
  });

  it('refuses a FROM whose variable nothing sets, and variables in COPY --from, with what to do', async () => {
    await rejects(planBuild('FROM $NOWHERE\n'), /ARG NOWHERE=default/);
    await rejects(planBuild('FROM busybox\nCOPY --from=$X /a /a\n'), /variables are not allowed in COPY --from/);
    await rejects(planBuild('# only a comment\n'), /no FROM/);
  });

  it('rewrites every mention, continuations and other instructions left as they were', async () => {
    const text = 'ARG B=busybox\nFROM \\\n  ${B} AS one\nRUN echo ${B}\nFROM nginx\nCOPY --from=busybox /bin/sh /sh\n';
    const plan = await planBuild(text);
    const pinned = plan.rewrite(new Map([['busybox', 'sha256:aaa'], ['nginx', 'nginx']]));
    expect(pinned).to.equal('ARG B=busybox\nFROM \\\n  sha256:aaa AS one\nRUN echo ${B}\nFROM nginx\nCOPY --from=sha256:aaa /bin/sh /sh\n');
  });

  it('keeps CRLF line ends', async () => {
    const plan = await planBuild('FROM busybox\r\nRUN true\r\n');
    expect(plan.rewrite(new Map([['busybox', 'sha256:bbb']]))).to.equal('FROM sha256:bbb\r\nRUN true\r\n');
  });
});
