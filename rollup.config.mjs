// Builds the package: two entries, `tfnz` (the SDK) and `tfnz/server` (the location server), as ESM
// and CommonJS that share chunks, so the server code an embedded Location.connect() loads on demand
// is the same module a user gets from `tfnz/server`; the `tfnz` command as ESM. Declarations are
// bundled into one file per entry (rollup-plugin-dts), written twice: `.d.ts` for ESM and `.d.cts`
// for CommonJS, as TypeScript's nodenext resolution wants. Packages and node: built-ins stay external.
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const packages = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies });
const external = (id) => id.startsWith('node:') || packages.some((d) => id === d || id.startsWith(`${d}/`));
const ts = () =>
  typescript({
    tsconfig: './tsconfig.json',
    include: ['lib/**/*.ts'],
    sourceMap: true,
    declaration: false,
    outDir: 'dist',
    noEmitOnError: true,
  });
const entries = { index: 'lib/index.ts', server: 'lib/server/index.ts' };

/** One bundled declaration file per entry, in both module flavours. */
const declarations = (name, input) => ({
  input,
  // Types from packages stay imports; every type that mentions dockerode or ssh2 must stay out of
  // the SDK's file (the consumer spec typechecks it with neither installed).
  external: (id) => external(id) || id === 'dockerode' || id.startsWith('@types/'),
  // Declaration maps lead an editor's go-to-definition to the TypeScript sources (lib/, shipped).
  plugins: [dts({ tsconfig: './tsconfig.json', sourcemap: true, compilerOptions: { paths: {} } })],
  output: [
    { file: `dist/${name}.d.ts`, format: 'es', sourcemap: true },
    { file: `dist/${name}.d.cts`, format: 'es', sourcemap: true },
  ],
});

const esm = { dir: 'dist', format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js', sourcemap: true };
const cjs = { ...esm, format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: 'chunks/[name]-[hash].cjs', exports: 'named' };

export default [
  // One compile for both flavours. The command shares the ESM chunks, so `tfnz run` loads the
  // location server only when it needs it; its CommonJS copy is left out of the package (files).
  // The front door's worker is forked by file (front-door-workers.ts looks for it beside dist/'s
  // entries): an entry of its own, in both flavours, as the location may run from either.
  { input: { ...entries, cli: 'lib/cli/main.ts', 'front-door-worker': 'lib/server/front-door-worker.ts' }, external, plugins: [ts()], output: [esm, cjs] },
  ...Object.entries(entries).map(([name, input]) => declarations(name, input)),
];
