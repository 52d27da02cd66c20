/**
 * The layers of lib/, checked on every import (static, type-only and dynamic) as TypeScript parses
 * them: the protocol imports neither side; the server never imports the SDK; the SDK reaches the
 * server only through the on-demand embedded loader and the local engine only through
 * local-engine.ts; code both sides need is in lib/shared; `import 'tfnz'` loads no dockerode,
 * ssh2, tar-stream or ws (their imports in the SDK are dynamic or type-only).
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import ts from 'typescript';

type Layer = 'protocol' | 'shared' | 'engines' | 'server' | 'client' | 'cli';

/** What each layer may import from lib/ (beside itself). cli is the top and may import anything. */
const MAY_IMPORT: Record<Layer, Layer[]> = {
  protocol: [],
  shared: ['protocol'],
  engines: ['protocol', 'shared'],
  server: ['protocol', 'shared', 'engines'],
  client: ['protocol', 'shared'],
  cli: ['protocol', 'shared', 'engines', 'server', 'client'],
};
/** The SDK's only doors to other layers: loaded on demand (dynamic import) from one module each. */
const DOORS: Array<{ from: string; to: Layer }> = [
  { from: 'lib/client/embedded.ts', to: 'server' },
  { from: 'lib/client/local-engine.ts', to: 'engines' },
];
/** Packages that `import 'tfnz'` must not load: the SDK imports them on demand or for types only. */
const ON_DEMAND_PACKAGES = ['dockerode', 'ssh2', 'tar-stream', 'ws'];

interface Import {
  specifier: string;
  kind: 'static' | 'type' | 'dynamic';
}

/** Every import of one source file. */
function importsOf(file: string, source: string): Import[] {
  const found: Import[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = ts.isImportDeclaration(node)
        ? !!node.importClause?.isTypeOnly || (!!node.importClause && !node.importClause.name && !!node.importClause.namedBindings
            && ts.isNamedImports(node.importClause.namedBindings) && node.importClause.namedBindings.elements.every((e) => e.isTypeOnly))
        : node.isTypeOnly;
      found.push({ specifier: node.moduleSpecifier.text, kind: typeOnly ? 'type' : 'static' });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      found.push({ specifier: node.arguments[0].text, kind: 'dynamic' });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ specifier: node.argument.literal.text, kind: 'type' });
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true));
  return found;
}

/** The layer of a file or an import target under lib/ (`lib/protocol` is the protocol's index). */
function layerOf(path: string): Layer {
  const layer = path.split('/')[1].replace(/\.ts$/, '');
  if (layer === 'index') return 'client';
  if (!(layer in MAY_IMPORT)) throw new Error(`${path} is in no known layer of lib/`);
  return layer as Layer;
}

/** The rules broken by a set of files (paths relative to the repo, `lib/…`). */
function layeringViolations(files: Map<string, string>): string[] {
  const broken: string[] = [];
  for (const [path, source] of files) {
    const from = layerOf(path);
    for (const { specifier, kind } of importsOf(path, source)) {
      if (!specifier.startsWith('.')) continue;
      const to = layerOf(target(path, specifier));
      if (to === from || MAY_IMPORT[from].includes(to)) continue;
      const door = DOORS.some((d) => d.from === path && d.to === to);
      if (door && kind === 'dynamic') continue;
      broken.push(`${path}: ${kind} import of ${specifier} (${from} -> ${to})${door ? ': only a dynamic import may cross here' : ''}`);
    }
  }
  // What `import 'tfnz'` loads: lib/index.ts and everything it reaches by static value imports.
  const eager = new Set<string>();
  const visit = (path: string) => {
    if (eager.has(path) || !files.has(path)) return;
    eager.add(path);
    for (const { specifier, kind } of importsOf(path, files.get(path)!)) {
      if (kind !== 'static') continue;
      if (specifier.startsWith('.')) {
        const to = target(path, specifier);
        visit(files.has(`${to}.ts`) ? `${to}.ts` : `${to}/index.ts`);
      } else if (ON_DEMAND_PACKAGES.includes(specifier.split('/')[0])) {
        broken.push(`${path}: static import of ${specifier}, which import 'tfnz' would then load`);
      }
    }
  };
  visit('lib/index.ts');
  return broken;
}

function target(from: string, specifier: string): string {
  return posix.normalize(posix.join(posix.dirname(from), specifier));
}

function sourcesUnder(dir: string, repo: string, into = new Map<string, string>()): Map<string, string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) sourcesUnder(full, repo, into);
    else if (entry.name.endsWith('.ts')) into.set(relative(repo, full).split('\\').join('/'), readFileSync(full, 'utf8'));
  }
  return into;
}

describe('layering of lib/', () => {
  const repo = join(import.meta.dirname, '../..');

  it('holds for every import in the tree', () => {
    const files = sourcesUnder(join(repo, 'lib'), repo);
    expect(files.size).to.be.greaterThan(50);
    expect(layeringViolations(files)).to.deep.equal([]);
  });

  it('catches each kind of break', () => {
    const broken = layeringViolations(new Map([
      ['lib/index.ts', "export { Location } from './client/location';\nexport { SshServer } from './client/ssh-server';"],
      ['lib/server/volume-store.ts', "import { TaggedCollection } from '../client/tagged-collection';"],
      ['lib/protocol/codec.ts', "import type { Location } from '../client/location';"],
      ['lib/client/location.ts', "import { LocationServer } from '../server/location-server';\nconst e = () => import('../server/index');"],
      ['lib/client/embedded.ts', "import { LocationServer } from '../server/location-server';\nconst ok = () => import('../server/index');"],
      ['lib/client/ssh-server.ts', "import ssh2 from 'ssh2';\nimport type { Server } from 'ssh2';\nconst ok = () => import('./sftp-server');"],
      ['lib/client/sftp-server.ts', "import ssh2 from 'ssh2';"],
      ['lib/shared/home.ts', "import { accountsDir } from '../client/accounts';"],
    ]));
    expect(broken).to.deep.equal([
      'lib/server/volume-store.ts: static import of ../client/tagged-collection (server -> client)',
      'lib/protocol/codec.ts: type import of ../client/location (protocol -> client)',
      'lib/client/location.ts: static import of ../server/location-server (client -> server)',
      'lib/client/location.ts: dynamic import of ../server/index (client -> server)',
      'lib/client/embedded.ts: static import of ../server/location-server (client -> server): only a dynamic import may cross here',
      'lib/shared/home.ts: static import of ../client/accounts (shared -> client)',
      "lib/client/ssh-server.ts: static import of ssh2, which import 'tfnz' would then load",
    ]);
  });
});
