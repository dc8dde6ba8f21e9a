// Internal ranges under 0.x (issue 15, "the 0.x ranges done right"). Under 0.x a minor bump is
// breaking, so a published range on a sibling must exclude the next minor (`^0.1.0`, what pnpm writes
// for `workspace:^`), and every dependent must be re-released with the new range when a dependency
// leaves it. Internal peerDependencies are not used: changesets bumps a dependent *major* (0.x -> 1.0.0)
// when a peer leaves its range. Checked on the real manifests, then with the real `changeset status`
// and `changeset version` on a temporary copy of the workspace's manifests and changesets config.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { publicPackages, workspaceDirs } from '../release.mjs';

const root = new URL('../..', import.meta.url).pathname;
const changesetBin = join(root, 'node_modules', '@changesets', 'cli', 'bin.js');
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const internal = (deps = {}) => Object.entries(deps).filter(([name]) => name.startsWith('@valve/'));
const publicNames = new Set(publicPackages(root).map((p) => p.name));

describe('internal dependency ranges in the manifests', () => {
  for (const { dir, name } of publicPackages(root)) {
    const pkg = readJson(join(dir, 'package.json'));
    it(`${name}: runtime dependencies on siblings use workspace:^ (published as ^x.y.z)`, () => {
      for (const [dep, range] of [...internal(pkg.dependencies), ...internal(pkg.optionalDependencies)]) {
        expect(publicNames.has(dep), `${dep} is published`).toBe(true);
        expect(range, `${name} -> ${dep}`).toBe('workspace:^');
      }
    });
    it(`${name}: no sibling as a peer dependency (changesets would bump ${name} to 1.0.0)`, () => {
      expect(internal(pkg.peerDependencies)).toEqual([]);
    });
  }
});

describe('changeset status / version on a copy of the workspace', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'valve-ranges-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  // The manifests (public ones at 0.1.0, as after a first release), the workspace file and the
  // changesets config: everything changesets reads.
  for (const file of ['package.json', 'pnpm-workspace.yaml', '.changeset/config.json']) {
    mkdirSync(join(tmp, file, '..'), { recursive: true });
    cpSync(join(root, file), join(tmp, file));
  }
  for (const dir of workspaceDirs(root)) {
    const pkg = readJson(join(dir, 'package.json'));
    if (!pkg.private) pkg.version = '0.1.0';
    mkdirSync(join(tmp, relative(root, dir)), { recursive: true });
    writeFileSync(join(tmp, relative(root, dir), 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  }
  const sh = (cmd, args) => {
    const r = spawnSync(cmd, args, {
      cwd: tmp,
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
    });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  sh('git', ['init', '-q', '-b', 'main']);
  sh('git', ['add', '-A']);
  sh('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '-m', 'copy']);

  // Every public package that depends on @valve/core at run time.
  const dependents = publicPackages(tmp)
    .filter((p) => readJson(join(p.dir, 'package.json')).dependencies?.['@valve/core'])
    .map((p) => p.name)
    .sort();

  it('a breaking 0.x bump of @valve/core (minor) re-releases every dependent, none at 1.0.0', () => {
    expect(dependents.length).toBeGreaterThanOrEqual(5);
    writeFileSync(join(tmp, '.changeset', 'core-breaking.md'), '---\n"@valve/core": minor\n---\n\nBreaking.\n');
    sh(process.execPath, [changesetBin, 'status', '--output=plan.json']);
    const plan = readJson(join(tmp, 'plan.json'));
    const releases = Object.fromEntries(plan.releases.map((r) => [r.name, r]));
    expect(releases['@valve/core'].newVersion).toBe('0.2.0');
    for (const name of dependents) {
      expect(releases[name], `${name} is re-released`).toBeDefined();
      expect(releases[name].newVersion, name).toBe('0.1.1');
    }
    for (const r of plan.releases) expect(r.newVersion.startsWith('0.'), `${r.name} ${r.newVersion}`).toBe(true);
  });

  it('after changeset version, each dependent is bumped and its range still reads workspace:^ (^0.2.0)', () => {
    rmSync(join(tmp, 'plan.json'));
    sh(process.execPath, [changesetBin, 'version']);
    expect(readJson(join(tmp, 'packages', 'core', 'package.json')).version).toBe('0.2.0');
    for (const p of publicPackages(tmp)) {
      if (!dependents.includes(p.name)) continue;
      const pkg = readJson(join(p.dir, 'package.json'));
      expect(pkg.version, p.name).toBe('0.1.1');
      expect(pkg.dependencies['@valve/core'], p.name).toBe('workspace:^');
      expect(readFileSync(join(p.dir, 'CHANGELOG.md'), 'utf8'), p.name).toContain('@valve/core@0.2.0');
    }
  });
});
