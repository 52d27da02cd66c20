// Builds the package: ESM and CommonJS for the library, ESM for the `tfnz` command, with type
// declarations. Dependencies stay external; node: built-ins too.
import typescript from '@rollup/plugin-typescript';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const external = (id) => id.startsWith('node:') || Object.keys(pkg.dependencies).some((d) => id === d || id.startsWith(`${d}/`));
const ts = (declarations) =>
  typescript({
    tsconfig: './tsconfig.json',
    include: ['lib/**/*.ts'],
    sourceMap: true,
    declaration: declarations,
    declarationDir: declarations ? 'dist/types' : undefined,
    outDir: 'dist',
    noEmitOnError: true,
  });

export default [
  {
    input: 'lib/index.ts',
    external,
    plugins: [ts(true)],
    output: [{ dir: 'dist', format: 'es', entryFileNames: 'index.js', sourcemap: true }],
  },
  {
    input: 'lib/index.ts',
    external,
    plugins: [ts(false)],
    output: [{ file: 'dist/index.cjs', format: 'cjs', sourcemap: true, exports: 'named' }],
  },
  {
    input: 'lib/cli/main.ts',
    external,
    plugins: [ts(false)],
    output: [{ file: 'dist/cli.js', format: 'es', sourcemap: true, banner: '' }],
  },
];
