/**
 * What a Dockerfile asks of the node before it is built there: the images it starts from (`FROM`)
 * and copies from (`COPY --from=`), other than its own stages and `scratch`. The location resolves
 * each for the user as a spawn would (image-resolver.ts) and writes the result back into the
 * Dockerfile it gives the engine, so a build can only start from images the user could spawn: the
 * node's own ones, or the user's from the location's cache, never another user's by id or prefix.
 */
import { BadRequest } from '../protocol';
import { commonJsExports, importOptional } from '../shared/optional-dependency';

/** One place the Dockerfile names an image: its text span (0-based offsets) and the reference it means. */
interface ImageMention {
  start: number;
  end: number;
  ref: string;
}

/** A parsed Dockerfile: the images it needs, and how to write it with each replaced. */
export interface BuildPlan {
  /** Distinct image references the build starts or copies from (build args applied). */
  bases: string[];
  /** The Dockerfile with each base written as `resolved` gives it. */
  rewrite(resolved: ReadonlyMap<string, string>): string;
}

/** Parse `text` with the build's args; BadRequest when a base cannot be known before the build. */
export async function planBuild(text: string, buildArgs: Record<string, string> = {}): Promise<BuildPlan> {
  // Loaded on the first build: a location that never builds does not need the package.
  const { DockerfileParser } = commonJsExports(await importOptional(() => import('dockerfile-ast'), ['dockerfile-ast'], 'building images at a location'));
  const doc = DockerfileParser.parse(text);
  const froms = doc.getFROMs();
  if (froms.length === 0) throw new BadRequest('the Dockerfile has no FROM instruction; start it with e.g. FROM busybox');
  // Only ARGs declared before the first FROM may appear in a FROM; a build arg overrides the default.
  const args = new Map<string, string>();
  for (const arg of doc.getInitialARGs()) {
    const property = arg.getProperty();
    const name = property?.getName();
    if (!name) continue;
    const value = Object.hasOwn(buildArgs, name) ? buildArgs[name] : property?.getValue();
    if (value !== null && value !== undefined) args.set(name, value);
  }
  // Ranges are (line, character); the rewrite works on offsets into the text.
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const offset = (pos: { line: number; character: number }) => lineStarts[pos.line] + pos.character;
  const stages = new Set<string>();
  const mentions: ImageMention[] = [];
  froms.forEach((from, index) => {
    const range = from.getImageRange();
    const raw = from.getImage();
    if (!range || !raw) throw new BadRequest(`FROM number ${index + 1} names no image`);
    const ref = substitute(raw, args, 'FROM');
    // A FROM naming an earlier stage builds on that stage, not on an image.
    if (!stages.has(ref.toLowerCase()) && ref.toLowerCase() !== 'scratch') {
      mentions.push({ start: offset(range.start), end: offset(range.end), ref });
    }
    const stage = from.getBuildStage();
    if (stage) stages.add(stage.toLowerCase());
  });
  for (const copy of doc.getCOPYs()) {
    const flag = copy.getFromFlag();
    const range = flag?.getValueRange();
    const raw = flag?.getValue();
    if (!flag || !range || !raw) continue;
    // `--from=0` is a stage by index; a stage by name may be any stage (COPY comes after it).
    if (/^\d+$/.test(raw) || stages.has(raw.toLowerCase())) continue;
    if (raw.includes('$')) throw new BadRequest(`COPY --from=${raw.slice(0, 100)}: variables are not allowed in COPY --from; name the stage or image`);
    mentions.push({ start: offset(range.start), end: offset(range.end), ref: raw });
  }
  return {
    bases: [...new Set(mentions.map((m) => m.ref))],
    rewrite(resolved) {
      let out = '';
      let at = 0;
      for (const m of [...mentions].sort((a, b) => a.start - b.start)) {
        out += text.slice(at, m.start) + (resolved.get(m.ref) ?? m.ref);
        at = m.end;
      }
      return out + text.slice(at);
    },
  };
}

/** `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}` from `args`, as Docker expands them. */
function substitute(raw: string, args: ReadonlyMap<string, string>, where: string): string {
  const out = raw.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, braced: string | undefined, op: string | undefined, word: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const value = args.get(name);
    if (op === '-') return value ? value : word ?? '';
    if (op === '+') return value ? word ?? '' : '';
    if (value === undefined) {
      throw new BadRequest(`${where} ${raw.slice(0, 100)} uses \$${name}, which no ARG before the first FROM sets; declare it (ARG ${name}=default) or pass it in buildArgs`);
    }
    return value;
  });
  if (out === '' || out.includes('$')) throw new BadRequest(`${where} ${raw.slice(0, 100)} does not name an image once its variables are expanded`);
  return out;
}
