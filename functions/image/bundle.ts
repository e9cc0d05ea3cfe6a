/**
 * Bundles the function image's entry points with esbuild (issue 7): run in the image's build stage, or locally
 * to inspect what ships: `node functions/image/bundle.ts [--outdir dir]` (default dist/image).
 *
 * - ESM with code splitting: main.mjs holds the runtime server only, and each role's handler becomes its own
 *   chunk loaded by main.ts's `import()`, so the port is open before the SDKs are parsed (fast start to ready).
 * - CommonJS dependencies (ali-oss, @alicloud/fc2, ssh2) expect `require`/`__dirname`; the banner provides them.
 * - Externals are only things their importers already guard with try/catch, so the image needs no node_modules:
 *   `*.node` (ssh2's optional sshcrypto binding → JS crypto fallback), `cpu-features` (ssh2, optional), and
 *   `proxy-agent` (urllib, only with URLLIB_ENABLE_PROXY, which ossferry never sets). The ISA-L addon is
 *   loaded by path from OSSFERRY_NATIVE_PATH (shared/crc64/loader.ts), not bundled.
 */
import { build, type Metafile } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const IMAGE_ENTRIES: Readonly<Record<string, string>> = Object.freeze({
  main: 'functions/main.ts',
  'self-check': 'functions/image/self-check.ts',
});

const BANNER = [
  "import { createRequire as __ofCreateRequire } from 'node:module';",
  "import { fileURLToPath as __ofToPath } from 'node:url';",
  'const require = __ofCreateRequire(import.meta.url);',
  'const __filename = __ofToPath(import.meta.url);',
  "const __dirname = __ofToPath(new URL('.', import.meta.url));",
].join(' ');

export async function bundleImage(outdir: string): Promise<Metafile> {
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: Object.entries(IMAGE_ENTRIES).map(([out, input]) => ({ in: input, out })),
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    external: ['*.node', 'cpu-features', 'proxy-agent'],
    banner: { js: BANNER },
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'none',
    sourcemap: false,
    metafile: true,
    logLevel: 'warning',
    // Dependencies' own "process.env.NODE_ENV" checks pick their production paths.
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return result.metafile;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { outdir: { type: 'string', default: path.join(root, 'dist/image') } } });
  const outdir = path.resolve(values.outdir ?? 'dist/image');
  const meta = await bundleImage(outdir);
  let total = 0;
  for (const [file, out] of Object.entries(meta.outputs)) {
    total += out.bytes;
    console.log(`${(out.bytes / 1024).toFixed(0).padStart(7)} KiB  ${path.relative(outdir, path.resolve(root, file))}`);
  }
  console.log(`${(total / 1024).toFixed(0).padStart(7)} KiB  total in ${outdir}`);
}
