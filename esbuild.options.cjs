// esbuild settings shared by serverless-esbuild (serverless.yml) and scripts/build.mjs (the bench).
// CommonJS with the .cjs extension: `invoke local` loads handlers with require, and Lambda treats a
// bundled .js without its package.json as CommonJS. keepNames off: with it, esbuild wraps every function
// and class in a `__name(…)` call run at load (327 in intake alone), to keep `.name` for stack traces;
// nothing in the code or its libraries reads a function's name for behaviour (errors set `name`
// themselves), and without it a cold start does less (measured with bench/cold-start.ts's CPU figure:
// 2–3 ms of intake's ~60 ms, 2–7 ms of the worker's on EKS). Stack traces then show minified names, as
// they already show minified positions.
//
// Lazy chunks. esbuild's `splitting` is ESM-only, so in cjs every dynamic import() is inlined: the
// Kubernetes target (client-node, 3+ MB) and the ECR client were parsed by every cold start, even on
// the directory target. The `lazyChunks` plugin below builds each of them into its own file beside the
// handler (`kfm-kubernetes.cjs`, `kfm-aws-ecr.cjs`, …) and turns the import() into a require() of that
// file, run only when the code path needs it. The intake function's own cold start on Lambda loads
// neither the in-process queue and worker (`kfm-local-runtime.cjs`, local runs only: it holds the
// deployer, the charm, the registry client) nor the SQS client (`kfm-aws-sqs.cjs`, on the first send).
// `src/errors.ts` becomes a shared `kfm-errors.cjs` that every bundle and chunk requires: its classes
// are tested with instanceof across the chunk boundary (ConflictError, TargetError, QueueError), so
// there must be one copy. The other src modules a chunk shares with the handler (compare.ts, the
// settings types) are pure functions or data; duplicating them is harmless.
// serverless-esbuild packages every file of its build folder except the other functions' bundles, so
// each function's zip carries the chunks.
const { build } = require('esbuild');
const { mkdirSync, renameSync, writeFileSync } = require('node:fs');
const { dirname, join, resolve, sep } = require('node:path');

const root = __dirname;
const ERRORS = join(root, 'src', 'errors.ts');
/**
 * The AWS SDK's packages are built from their ES modules (`module` before `main`): their CommonJS
 * builds require whole @smithy/core submodules, which esbuild cannot tree-shake (the EKS chunk was
 * 172 KB, 24 KB from the ES build; the ECR client 516 KB, 392 KB).
 */
const AWS_ESM = { mainFields: ['module', 'main'] };
/**
 * import() specifier (from the importing files) → chunk file and its entry; a chunk's own import()s may
 * be chunks too. Several specifiers may name one chunk (`kfm-aws-sqs.cjs`: the client and the adapter
 * that imports its SendMessageCommand, one copy of the SDK). `entry` is a file, a package, or, with
 * `contents`, a module of its own (resolved from the repository root). Each import() below is checked
 * against its importer's source at every build (`checkChunkImports`): a renamed one would silently put
 * the chunk back into the bundle.
 */
const SQS_CHUNK = { file: 'kfm-aws-sqs.cjs', entry: 'kfm-aws-sqs', options: AWS_ESM,
  contents: `export { SQSClient } from '@aws-sdk/client-sqs';\nexport { createSqsQueue } from './src/queue/sqs.ts';` };
const CHUNKS = [
  { specifier: './kubernetes-adapters.js', importers: [join('src', 'app', 'runtime.ts')], file: 'kfm-kubernetes.cjs', entry: join(root, 'src', 'app', 'kubernetes-adapters.ts'), plugins: () => [kubeConfigOnly()] },
  // The embedded default (no KFM_QUEUE_URL): the in-process queue, the worker and the deployer behind it.
  // On Lambda intake never loads it; status reads through its deployer only when intake started it in
  // the same process (src/app/runtime.ts's localDeployerOf), and never loads it.
  { specifier: '../src/app/local-runtime.js', importers: [join('handlers', 'intake.ts')], file: 'kfm-local-runtime.cjs', entry: join(root, 'src', 'app', 'local-runtime.ts') },
  // The SQS adapter (KFM_QUEUE_URL set), built on intake's first send.
  { ...SQS_CHUNK, specifier: '@aws-sdk/client-sqs', importers: [join('src', 'app', 'runtime.ts')] },
  { ...SQS_CHUNK, specifier: '../queue/sqs.js', importers: [join('src', 'app', 'runtime.ts')] },
  { specifier: '@aws-sdk/client-ecr', importers: [join('src', 'resource', 'credentials', 'ecr.ts')], file: 'kfm-aws-ecr.cjs', entry: '@aws-sdk/client-ecr', options: AWS_ESM },
  // A function's secrets from a store (KFM_SECRETS_FROM=ssm:… or secretsmanager:…), read at cold start;
  // with the default `env` neither is loaded. Powertools' ES build (its `import` export), with the SDK's.
  { specifier: '@aws-lambda-powertools/parameters/ssm', importers: [join('src', 'settings', 'secrets.ts')], file: 'kfm-aws-ssm.cjs', entry: 'kfm-aws-ssm', options: AWS_ESM,
    contents: "export * from '@aws-lambda-powertools/parameters/ssm';" },
  { specifier: '@aws-lambda-powertools/parameters/secrets', importers: [join('src', 'settings', 'secrets.ts')], file: 'kfm-aws-secrets.cjs', entry: 'kfm-aws-secrets', options: AWS_ESM,
    contents: "export * from '@aws-lambda-powertools/parameters/secrets';" },
  // Powertools Metrics (EMF; on Lambda only) and Tracer with the X-Ray SDK (KFM_TRACING=true only).
  { specifier: '@aws-lambda-powertools/metrics', importers: [join('src', 'observability', 'metrics.ts')], file: 'kfm-metrics.cjs', entry: 'kfm-metrics', options: AWS_ESM,
    contents: "export * from '@aws-lambda-powertools/metrics';" },
  { specifier: '@aws-lambda-powertools/tracer', importers: [join('src', 'observability', 'tracing.ts')], file: 'kfm-tracer.cjs', entry: 'kfm-tracer', options: AWS_ESM,
    contents: "export * from '@aws-lambda-powertools/tracer';" },
  // Inside the Kubernetes chunk: EKS only (token signing, the AWS credential chain, DescribeCluster), so a
  // kubeconfig or in-cluster connection does not compile the AWS SDK.
  { specifier: './eks.js', importers: [join('src', 'targets', 'kubernetes', 'connection.ts')], file: 'kfm-eks.cjs', entry: join(root, 'src', 'targets', 'kubernetes', 'eks.ts'), options: AWS_ESM, plugins: () => [sdkCoreWithoutSideEffects()] },
  // Inside the EKS chunk: the env credential provider; the AWS SDK's default chain (only without
  // credentials in the environment, i.e. not on Lambda); the EKS client (only without KFM_EKS_ENDPOINT
  // and KFM_EKS_CA).
  { specifier: '@aws-sdk/credential-provider-env', importers: [join('src', 'targets', 'kubernetes', 'eks.ts')], file: 'kfm-aws-credentials-env.cjs', entry: '@aws-sdk/credential-provider-env', options: AWS_ESM, plugins: () => [sdkCoreWithoutSideEffects()] },
  { specifier: '@aws-sdk/credential-provider-node', importers: [join('src', 'targets', 'kubernetes', 'eks.ts')], file: 'kfm-aws-credentials.cjs', entry: '@aws-sdk/credential-provider-node', options: AWS_ESM },
  { specifier: '@aws-sdk/client-eks', importers: [join('src', 'targets', 'kubernetes', 'eks.ts')], file: 'kfm-aws-eks.cjs', entry: '@aws-sdk/client-eks', options: AWS_ESM },
];
/** One build per chunk file (several CHUNKS entries may share one). */
const chunkFiles = () => [...new Map(CHUNKS.map((c) => [c.file, c])).values()];

/**
 * Each CHUNKS entry's `import('<specifier>')` must still be in each of its importers: esbuild resolves
 * an import() it no longer finds nowhere, so a renamed file or specifier would inline the chunk again
 * without a word. Returns what is missing (`[]`: all found); the build warns, test/bundles.test.ts fails.
 */
function checkChunkImports() {
  const { readFileSync } = require('node:fs');
  const missing = [];
  for (const chunk of CHUNKS) {
    for (const importer of chunk.importers) {
      let source = '';
      try {
        source = readFileSync(join(root, importer), 'utf8');
      } catch {
        missing.push(`${importer}: file not found (chunk ${chunk.file})`);
        continue;
      }
      if (!new RegExp(`\\bimport\\(\\s*['"]${escape(chunk.specifier)}['"]\\s*\\)`).test(source)) {
        missing.push(`${importer}: no import('${chunk.specifier}') (chunk ${chunk.file})`);
      }
    }
  }
  return missing;
}

/**
 * Packages many cold starts never call, required from their own chunk on first use, so the calling
 * code stays synchronous: the import gets a stand-in whose property reads (`default`) or calls
 * (`named`: functions and classes) require the chunk. semver serves only `semver:` tag policies
 * (building its ~120 regular expressions cost every cold start a few milliseconds); js-yaml only the
 * directory target and kubeconfig files. Inside the Kubernetes chunk, client-node's proxy, OIDC and
 * cloud-CLI auth support (socks with ip-address, openid-client, jsonpath-plus: 170 KB) serve only
 * kubeconfigs that ask for them; an EKS or in-cluster connection never loads them.
 */
const ON_USE = [
  { specifier: 'semver', file: 'kfm-semver.cjs', default: true },
  { specifier: 'js-yaml', file: 'kfm-js-yaml.cjs', default: true, named: ['dump', 'load'] },
  { specifier: 'socks-proxy-agent', file: 'kfm-socks-proxy-agent.cjs', named: ['SocksProxyAgent'] },
  { specifier: 'openid-client', file: 'kfm-openid-client.cjs', named: ['discovery', 'refreshTokenGrant'] },
  { specifier: 'jsonpath-plus', file: 'kfm-jsonpath-plus.cjs', named: ['JSONPath'] },
];
const SHARED = [{ path: ERRORS, file: 'kfm-errors.cjs' }];

const base = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  keepNames: false,
  minify: true,
  sourcemap: false,
  // The ESM-only import.meta is unused by the bundled code; silence the cjs warning for dependencies.
  logOverride: { 'empty-import-meta': 'silent' },
};

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Imports that resolve to a shared module become a require() of its file. */
function sharedModules() {
  return {
    name: 'kfm-shared-modules',
    setup(b) {
      b.onResolve({ filter: /errors\.js$/ }, async (args) => {
        if (args.pluginData === 'kfm') return undefined;
        const found = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'kfm' });
        const shared = SHARED.find((s) => s.path === found.path);
        return shared ? { path: `./${shared.file}`, external: true } : undefined;
      });
    },
  };
}

/**
 * The project's own modules do nothing when imported (handlers are built on their first call, schemas
 * on first use), so a module none of whose exports a bundle uses is left out whole. Without this,
 * esbuild keeps every top-level statement it cannot prove pure: intake imports two helpers of
 * src/app/runtime.ts, whose static import of the deployer brought the charm's rule tables (arrays
 * built by calls), the pod defaults and the deployer's imports into a function that never plans.
 */
function sourceWithoutSideEffects() {
  const source = [join(root, 'src') + sep, join(root, 'handlers') + sep];
  const inSource = (file) => source.some((folder) => file.startsWith(folder));
  return markedWithoutSideEffects('kfm-source-without-side-effects', {
    filter: /^\.\.?\//, kinds: ['import-statement', 'dynamic-import'], importer: inSource, resolved: inSource,
  });
}

/**
 * The one mechanism of the two plugins above and below: an import from an `importer` file (of one of
 * `kinds`, when given) that resolves to a `resolved` file is marked free of side effects, so esbuild
 * leaves the module out when nothing it exports is used.
 */
function markedWithoutSideEffects(name, { filter, kinds, importer, resolved }) {
  return {
    name,
    setup(b) {
      b.onResolve({ filter }, async (args) => {
        if (typeof args.pluginData === 'string' && args.pluginData.startsWith('kfm')) return undefined; // our own b.resolve()s
        if (!importer(args.importer) || (kinds && !kinds.includes(args.kind))) return undefined;
        const found = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: name });
        return found.errors.length === 0 && !found.external && resolved(found.path) ? { ...found, sideEffects: false } : undefined;
      });
    },
  };
}

/** Writes via a temporary file and a rename: concurrent handler builds may write the same chunk. */
function writeAtomically(file, contents) {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, file);
}

async function buildChunks(outdir, logLevel) {
  const entries = [
    ...chunkFiles().map((c) => ({ file: c.file, entry: c.entry, contents: c.contents })),
    ...ON_USE.map((c) => ({ file: c.file, entry: c.specifier })),
    ...SHARED.map((s) => ({ file: s.file, entry: s.path })),
  ];
  await Promise.all(entries.map(async ({ file, entry, contents }) => {
    const isShared = SHARED.some((s) => s.file === file);
    const chunk = CHUNKS.find((c) => c.file === file);
    const input = contents !== undefined ? { stdin: { contents, sourcefile: `${entry}.js`, resolveDir: root, loader: 'js' } }
      : entry.startsWith(root) ? { entryPoints: [entry] }
        : { stdin: { contents: `module.exports = require(${JSON.stringify(entry)});`, resolveDir: root, loader: 'js' } };
    const result = await build({
      ...base,
      absWorkingDir: root,
      ...input,
      outfile: join(outdir, file),
      write: false,
      logLevel,
      plugins: isShared ? [] : [sharedModules(), withoutZodLocales(), middyStreamsOnUse(), splitImports(), ...(chunk?.plugins?.() ?? []), sourceWithoutSideEffects()],
      ...(chunk?.options ?? {}),
    });
    for (const output of result.outputFiles) writeAtomically(output.path, output.contents);
  }));
}

/** The stand-in module for an ON_USE package. */
function onUseModule(chunk) {
  const lines = [`let loaded;\nconst chunk = () => (loaded ??= require("./${chunk.file}"));`];
  // A function, not an arrow: it forwards `new` (classes) as well as calls.
  for (const name of chunk.named ?? []) {
    lines.push(`export function ${name}(...args) { const target = chunk().${name}; return new.target ? new target(...args) : target(...args); }`);
  }
  if (chunk.default) lines.push('export default new Proxy({}, { get: (_target, key) => (chunk().default ?? chunk())[key], has: (_target, key) => key in (chunk().default ?? chunk()) });');
  return lines.join('\n');
}

/** import() of a CHUNKS specifier and static imports of an ON_USE package become require()s of their chunk files. */
function splitImports() {
  return {
    name: 'kfm-split-imports',
    setup(b) {
      for (const chunk of CHUNKS) {
        b.onResolve({ filter: new RegExp(`^${escape(chunk.specifier)}$`) }, (args) => {
          if (args.kind !== 'dynamic-import' || !chunk.importers.some((importer) => args.importer.endsWith(sep + importer))) return undefined;
          return { path: chunk.file, namespace: 'kfm-chunk' };
        });
      }
      // Evaluated on the first import(), not at load: the require() runs only on that code path.
      b.onLoad({ filter: /.*/, namespace: 'kfm-chunk' }, (args) => ({ contents: `module.exports = require("./${args.path}");`, loader: 'js' }));
      for (const chunk of ON_USE) {
        // Static imports only: the chunk's own entry require()s the package itself.
        b.onResolve({ filter: new RegExp(`^${escape(chunk.specifier)}$`) }, (args) =>
          (args.kind === 'import-statement' ? { path: chunk.file, namespace: 'kfm-on-use' } : undefined));
      }
      b.onLoad({ filter: /.*/, namespace: 'kfm-on-use' }, (args) => ({ contents: onUseModule(ON_USE.find((c) => c.file === args.path)), loader: 'js' }));
      b.onResolve({ filter: /^\.\/kfm-[\w-]+\.cjs$/, namespace: 'kfm-chunk' }, (args) => ({ path: args.path, external: true }));
      b.onResolve({ filter: /^\.\/kfm-[\w-]+\.cjs$/, namespace: 'kfm-on-use' }, (args) => ({ path: args.path, external: true }));
    },
  };
}

const pending = new Map();
function lazyChunks() {
  return {
    name: 'kfm-lazy-chunks',
    setup(b) {
      splitImports().setup(b);
      b.onEnd(async (result) => {
        if (result.errors.length > 0) return;
        // A renamed import() would silently put the chunk back into the bundle: say so.
        for (const missing of checkChunkImports()) console.warn(`kfm-lazy-chunks: ${missing}: that chunk is inlined instead`);
        const { outdir, outfile } = b.initialOptions;
        const folder = resolve(root, outdir ?? dirname(outfile));
        if (!pending.has(folder)) pending.set(folder, buildChunks(folder, b.initialOptions.logLevel ?? 'warning').finally(() => pending.delete(folder)));
        await pending.get(folder);
      });
    },
  };
}

/**
 * The Kubernetes target uses client-node's KubeConfig only (src/targets/kubernetes/transport.ts), but
 * its config module imports the generated API's index for makeApiClient (every model class: 350 KB
 * minified, kept because their static fields count as side effects) and node-fetch for the Headers of
 * applyToFetchOptions (whatwg-url and tr46's Unicode tables: 280 KB). Neither method is called: the
 * first becomes a stub that says so, the second gets Node's own Headers. node:child_process serves only
 * kubeconfigs with exec, gcp or azure auth (and WSL paths); its four default imports, each copied into
 * an ES namespace at load, and the module itself cost an EKS cold start ~1 ms: it is required on use.
 */
function kubeConfigOnly() {
  const config = /[\\/]node_modules[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]config\.js$/;
  const stubs = {
    './gen/index.js': 'const missing = () => { throw new Error("client-node API classes are not bundled: use KubeConfig and plain requests"); };\n'
      + 'export const createConfiguration = missing;\nexport class ServerConfiguration { constructor() { missing(); } }',
    // Looked up on use: reading globalThis.Headers loads Node's fetch (undici), 6 ms at cold start.
    'node-fetch': 'export class Headers { constructor(init) { return new globalThis.Headers(init); } }',
    'node:child_process': 'const cp = () => require("node:child_process");\n'
      + 'export default { spawn: (...a) => cp().spawn(...a), spawnSync: (...a) => cp().spawnSync(...a), execSync: (...a) => cp().execSync(...a) };',
  };
  const dist = /[\\/]node_modules[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]/;
  return {
    name: 'kfm-kube-config-only',
    setup(b) {
      b.onResolve({ filter: /^(\.\/gen\/index\.js|node-fetch)$/ }, (args) =>
        (config.test(args.importer) ? { path: args.path, namespace: 'kfm-kube-stub' } : undefined));
      b.onResolve({ filter: /^node:child_process$/ }, (args) =>
        (dist.test(args.importer) ? { path: args.path, namespace: 'kfm-kube-stub' } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'kfm-kube-stub' }, (args) => ({ contents: stubs[args.path], loader: 'js' }));
    },
  };
}

/**
 * The EKS chunks (the signer, the env credential provider: on the worker's cold path on Lambda) import a
 * few functions through the barrels of @aws-sdk/core and @smithy/core (`@aws-sdk/core/client`,
 * `@smithy/core/config`), whose packages do not declare themselves free of side effects, so esbuild
 * kept every module of those barrels: the env provider's chunk was 19 KB (partition tables, endpoint
 * middleware, INI parsing, node:fs/promises) for 2 KB of its own. Their modules only define and
 * export; marked so, what nothing imports is left out. Only for these chunks: the clients (SQS, ECR,
 * EKS, SSM) are built as they come.
 */
function sdkCoreWithoutSideEffects() {
  const core = /[\\/]node_modules[\\/]@(aws-sdk|smithy)[\\/]core[\\/]/;
  return markedWithoutSideEffects('kfm-sdk-core-without-side-effects', {
    filter: /.*/, importer: (file) => file.includes(`${sep}node_modules${sep}`), resolved: (file) => core.test(file),
  });
}

/**
 * zod's namespace object re-exports its ~50 message locales (`z.locales`, `z.core.locales`: 260 KB
 * minified, 40% of a handler bundle), so a bundler cannot drop them. The code never uses them
 * (English, the default, is imported by zod's schemas directly and stays): they are left out.
 */
function withoutZodLocales() {
  return {
    name: 'kfm-without-zod-locales',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
        if (!/[\\/]node_modules[\\/]zod[\\/]v4[\\/](classic|core|mini)[\\/]/.test(args.importer)) return undefined;
        return { path: 'zod-locales', namespace: 'kfm-empty' };
      });
      b.onLoad({ filter: /.*/, namespace: 'kfm-empty' }, () => ({ contents: 'export {};', loader: 'js' }));
    },
  };
}

/**
 * @middy/core imports node:stream/web (ReadableStream), node:stream and node:stream/promises for
 * streamed responses only (`streamifyResponse`, not used here). node:stream/web loads Node's web
 * streams and zlib at every cold start; these stand-ins require the modules when a streamed response
 * first needs them.
 */
function middyStreamsOnUse() {
  const shim = [
    'export class ReadableStream { static [Symbol.hasInstance](value) { return value instanceof require("node:stream/web").ReadableStream; } }',
    'export const Readable = { from: (...args) => require("node:stream").Readable.from(...args) };',
    'export const pipeline = (...args) => require("node:stream/promises").pipeline(...args);',
  ].join('\n');
  return {
    name: 'kfm-middy-streams-on-use',
    setup(b) {
      b.onResolve({ filter: /^node:stream(\/web|\/promises)?$/ }, (args) =>
        (/[\\/]node_modules[\\/]@middy[\\/]core[\\/]/.test(args.importer) ? { path: 'streams', namespace: 'kfm-middy-streams' } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'kfm-middy-streams' }, () => ({ contents: shim, loader: 'js' }));
    },
  };
}

module.exports = { ...base, plugins: [sharedModules(), withoutZodLocales(), middyStreamsOnUse(), lazyChunks(), sourceWithoutSideEffects()] };
// For test/bundles.test.ts, not enumerable so that neither esbuild nor serverless-esbuild sees them as options.
Object.defineProperties(module.exports, {
  chunks: { value: CHUNKS.map(({ specifier, importers, file }) => ({ specifier, importers, file })) },
  checkChunkImports: { value: checkChunkImports },
});
