// Bundles the compiled CLI (dist/src/cli/main.js) into dist/cli/: one entry file plus the chunks
// its commands load on demand. Start-up then reads a few large files instead of resolving and
// linking hundreds of small ES modules (about 0.25 s of every run). ssh2 stays outside: it loads
// its native crypto binding from its own folder.
import { build } from 'esbuild';

await build({
  entryPoints: { furrow: 'dist/src/cli/main.js' },
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ssh2', 'cpu-features'],
  // CommonJS dependencies inside an ES module bundle still call require and read __dirname.
  banner: {
    js: [
      "import { createRequire as __furrowRequire } from 'node:module';",
      "import { fileURLToPath as __furrowPath } from 'node:url';",
      'const require = __furrowRequire(import.meta.url);',
      'const __filename = __furrowPath(import.meta.url);',
      "const __dirname = __furrowPath(new URL('.', import.meta.url));",
    ].join('\n'),
  },
  logLevel: 'warning',
});
