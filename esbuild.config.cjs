// serverless-esbuild reads its esbuild options from here (custom.esbuild.config).
module.exports = () => require('./esbuild.options.cjs');
