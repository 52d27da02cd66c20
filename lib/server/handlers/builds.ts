/** Dockerfile builds on a node (#19): the context comes from the client, the image becomes the user's. */
import { randomBytes } from 'node:crypto';
import { BadRequest, EngineError, QuotaExceeded, errorToWire } from '../../protocol';
import { FileWriter } from '../file-transfer';
import { planBuild } from '../build-dockerfile';
import { buildContext } from '../build-context';
import { keepBuiltImage } from '../build-result';
import type { Session } from '../session';
import type { CommandHandlers } from './handler';

/** An image name as Docker writes one: lower-case path components, an optional registry and tag. */
const IMAGE_NAME = /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;

/** Builds one session may run at once: each holds a build on a node engine, which is heavy. */
const MAX_BUILDS_PER_SESSION = 4;

/** Builds running, per session, by build id (each names one stream of build events): cancel_build stops one. */
const building = new WeakMap<Session, Map<string, AbortController>>();

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

export const buildCommands = {
  async build_bases(_s, p) {
    return { images: (await planBuild(text(p.dockerfile), Object.fromEntries(p.buildArgs ?? []))).bases };
  },

  async build_image(s, p) {
    const { build, transfer, size } = p;
    const ids = building.get(s) ?? new Map<string, AbortController>();
    building.set(s, ids);
    if (ids.has(build)) throw new BadRequest(`build id '${build}' is already in use; generate a fresh one`);
    if (ids.size >= MAX_BUILDS_PER_SESSION) throw new QuotaExceeded(`this session runs ${ids.size} builds already, the most it may; wait for one to end`);
    if (s.uploads.has(transfer)) throw new BadRequest(`transfer id '${transfer}' is already in use`);
    if (p.tag.length > 255 || !IMAGE_NAME.test(p.tag)) {
      throw new BadRequest(`'${p.tag.slice(0, 100)}' is not an image name; use lower-case words like team/app or team/app:1.2`);
    }
    const node = s.ctx.nodes.get(p.node);
    const engine = node.engine;
    if (!engine.build || !engine.saveImage) throw new BadRequest(`node ${node.info.name} cannot build images; build on another node`);
    s.ctx.quotas.transferSize(size);
    const buildArgs = Object.fromEntries(p.buildArgs ?? []);
    const plan = await planBuild(text(p.dockerfile), buildArgs);
    // Every base as a spawn would see it: the node's own image, or this user's from the cache
    // (loaded onto the node); ImageNotFound here, before any context is sent.
    const local = new Map(p.localImages ?? []);
    const resolved = new Map<string, string>();
    // A base found nowhere is pulled by the node, with the credentials sent for it (#19).
    const auth = new Map(p.registryAuth ?? []);
    for (const base of plan.bases) {
      resolved.set(base, await s.ctx.imageResolver.resolve(engine, s.user, base, local.get(base), { policy: 'missing', auth: auth.get(base) }));
    }
    // A step line shows the user's names for the bases, not the ids they were pinned to.
    const pinned = [...resolved].filter(([name, ref]) => name !== ref);
    const named = (line: string) => pinned.reduce((text, [name, ref]) => text.split(ref).join(name), line);
    const dockerfile = `.tfnz-dockerfile-${randomBytes(8).toString('hex')}`;
    const context = buildContext(dockerfile, plan.rewrite(resolved));
    const writer = new FileWriter(
      transfer, context.sink, size,
      { ack: (bytes) => s.emit('file_ack', { transfer, bytes }), end: (error) => s.emit('file_end', { transfer, error }) },
      () => s.uploads.delete(transfer),
    );
    s.uploads.set(transfer, writer);
    const stop = new AbortController();
    ids.set(build, stop);
    if (size === 0) setImmediate(() => writer.complete());
    void (async () => {
      try {
        const id = await engine.build!(context.archive, { dockerfile, buildArgs, target: p.target, signal: stop.signal }, (out) => {
          s.emit('build_output', { build, text: out.step ? named(out.text) : out.text, step: out.step });
        });
        await keepBuiltImage(s.ctx.images, engine, s.user, p.tag, id);
        s.emit('build_end', { build, image: id });
      } catch (err) {
        // A build that ends early takes the rest of its context with it.
        writer.cancel(errorToWire(new EngineError('the build ended before its context was sent')));
        s.emit('build_end', { build, error: errorToWire(err) });
      } finally {
        ids.delete(build);
      }
    })();
    return {};
  },

  async cancel_build(s, p) {
    building.get(s)?.get(p.build)?.abort();
    return {};
  },
} satisfies Partial<CommandHandlers>;
