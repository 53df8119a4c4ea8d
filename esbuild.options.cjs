// esbuild settings shared by serverless-esbuild (serverless.yml) and scripts/build.mjs (the bench).
// CommonJS with the .cjs extension: `invoke local` loads handlers with require, and Lambda treats a
// bundled .js without its package.json as CommonJS. keepNames: readable stack traces.
module.exports = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  keepNames: true,
  minify: true,
  sourcemap: false,
  // The ESM-only import.meta is unused by the bundled code; silence the cjs warning for dependencies.
  logOverride: { 'empty-import-meta': 'silent' },
};
