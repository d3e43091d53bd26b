// Bundles the compiled consumer (dist/main.js, the kit and its npm dependencies) into one file,
// dist/main.bundle.mjs: the file every consumer process runs (lab.json's consumerEntry, the image's
// CMD). A scale-up starts several consumers at once and waits until all of them have joined the
// group; before it joins, a consumer loads its modules. Loaded as 727 separate files, they took
// 360 ms of CPU from start to listening (mean of 5); as one file, 225 ms. With 5 consumers started
// at once beside a busy one on 2 cores, spawn to all 6 consuming went from 1.28-1.41 s to
// 0.93-1.05 s (5-6 rounds each; `make bench` measures the whole scale-up).
// Run after tsc (make build, the Dockerfile). The unit tests import the sources; every test that
// runs a consumer process runs this bundle.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

await build({
  entryPoints: [join(here, 'dist/main.js')],
  outfile: join(here, 'dist/main.bundle.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Loaded only when traces are exported (the kit's startTelemetry imports them then); resolved
  // from node_modules at run time like any package.
  external: ['@opentelemetry/*'],
  // The bundled CommonJS packages (express, kafkajs, prom-client) call require(); in an ES module
  // that needs one made for this file.
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  // Without comments the file is ASCII (esbuild escapes the rest), so V8 holds its source at one
  // byte a character. Five non-ASCII characters in comments made the 2.9 MB source two bytes a
  // character: 6.3 MB of heap, and the consumer's peak RSS in make bench 102-107 MiB (unbundled,
  // 96-102). Minified whitespace: 2.2 MB of source and of heap; identifiers are kept for readable
  // stack traces.
  minifyWhitespace: true,
  logLevel: 'warning',
});
