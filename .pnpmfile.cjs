// pnpm hooks for the workspace. beforePacking shapes what `pnpm pack` and `pnpm publish` put in a
// published package.json: development-only fields are dropped, because a user installing
// @valve/<pkg> never runs its build/test/lint scripts and could not resolve its devDependencies
// (they name private workspace packages such as @valve/testkit at 0.0.0).
module.exports = {
  hooks: {
    beforePacking(pkg) {
      delete pkg.devDependencies;
      delete pkg.scripts;
      return pkg;
    },
  },
};
