// `pnpm release` (scripts/release.mjs) against throwaway git repositories shaped like the workspace.
// `pnpm` and `npm` are stand-ins on PATH that log their calls and keep a fake registry in a JSON file,
// so each refusal can prove that nothing was built or published, and the happy path can prove what
// was published and tagged. The real publish to a real registry is CI's publish-and-install stage.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const script = new URL('../release.mjs', import.meta.url).pathname;
const made = [];
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

// Stand-in for pnpm: logs every call; `exec changeset publish` "publishes" every public package the
// fake registry lacks (as changesets does), except those named in STUB_PUBLISH_FAIL.
const PNPM_STUB = `#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const state = process.env.STUB_STATE;
const args = process.argv.slice(2).join(' ');
fs.appendFileSync(path.join(state, 'pnpm.log'), args + '\\n');
if (args.startsWith('exec changeset publish')) {
  const file = path.join(state, 'registry.json');
  const registry = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  const fail = (process.env.STUB_PUBLISH_FAIL || '').split(',').filter(Boolean);
  let failed = false;
  for (const dir of fs.readdirSync('packages')) {
    const pkg = JSON.parse(fs.readFileSync(path.join('packages', dir, 'package.json'), 'utf8'));
    const id = pkg.name + '@' + pkg.version;
    if (pkg.private || registry[id]) continue;
    if (fail.includes(pkg.name)) { failed = true; continue; }
    registry[id] = true;
    fs.appendFileSync(path.join(state, 'published.log'), id + '\\n');
  }
  fs.writeFileSync(file, JSON.stringify(registry));
  process.exit(failed ? 1 : 0);
}
`;
// Stand-in for \`npm view name@version version --json\` against the fake registry.
const NPM_STUB = `#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const file = path.join(process.env.STUB_STATE, 'registry.json');
const registry = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
const [cmd, id] = process.argv.slice(2);
if (cmd !== 'view' || !registry[id]) { console.error('npm error code E404'); process.exit(1); }
console.log(JSON.stringify(id.slice(id.lastIndexOf('@') + 1)));
`;

/** A committed repository: packages/a and packages/b public, packages/p private; no git identity. */
function fixture({ versions = { a: '0.1.0', b: '0.2.0' }, pending = [] } = {}) {
  const base = mkdtempSync(join(tmpdir(), 'valve-release-test-'));
  made.push(base);
  const repo = join(base, 'repo');
  const bin = join(base, 'bin');
  const state = join(base, 'state');
  const home = join(base, 'home');
  for (const d of [repo, bin, state, home, join(repo, '.changeset')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(bin, 'pnpm'), PNPM_STUB);
  writeFileSync(join(bin, 'npm'), NPM_STUB);
  chmodSync(join(bin, 'pnpm'), 0o755);
  chmodSync(join(bin, 'npm'), 0o755);

  writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'fixture', private: true }));
  writeFileSync(join(repo, 'pnpm-workspace.yaml'), 'packages:\n  - packages/*\n');
  writeFileSync(join(repo, '.changeset', 'README.md'), '# Changesets\n');
  for (const [name, version] of Object.entries(versions)) {
    mkdirSync(join(repo, 'packages', name), { recursive: true });
    writeFileSync(join(repo, 'packages', name, 'package.json'), JSON.stringify({ name: `@fx/${name}`, version }));
  }
  mkdirSync(join(repo, 'packages', 'p'));
  writeFileSync(
    join(repo, 'packages', 'p', 'package.json'),
    JSON.stringify({ name: '@fx/p', version: '0.0.0', private: true }),
  );
  for (const name of pending) {
    writeFileSync(join(repo, '.changeset', `${name}.md`), `---\n"@fx/a": minor\n---\n\nA change.\n`);
  }
  const env = { HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  const git = (...args) => {
    const r = spawnSync('git', args, { cwd: repo, encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('-c', 'user.name=Fixture', '-c', 'user.email=fixture@example.invalid', 'commit', '-q', '-m', 'fixture');

  /** Runs `node scripts/release.mjs` in the repository, with git's identity only if given. */
  const release = (extraEnv = {}) =>
    spawnSync(process.execPath, [script], {
      cwd: repo,
      encoding: 'utf8',
      env: { PATH: `${bin}:${process.env.PATH}`, STUB_STATE: state, ...env, ...extraEnv },
    });
  const read = (file) => (existsSync(join(state, file)) ? readFileSync(join(state, file), 'utf8') : '');
  const tags = () => git('tag', '-l').split('\n').filter(Boolean).sort();
  return { repo, git, release, read, tags };
}

const identity = { GIT_COMMITTER_NAME: 'Release Bot', GIT_COMMITTER_EMAIL: 'release@example.invalid' };

/** A refusal: exit 1, the reason on stderr, no pnpm call at all (no build, no publish), no tag. */
function expectRefusal(f, result, reason) {
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('refusing to publish');
  expect(result.stderr).toMatch(reason);
  expect(f.read('pnpm.log')).toBe('');
  expect(f.read('published.log')).toBe('');
  expect(f.tags()).toEqual([]);
}

describe('pnpm release refuses', () => {
  it('when changesets are pending (not versioned yet)', () => {
    const f = fixture({ pending: ['brave-fox'] });
    expectRefusal(
      f,
      f.release(identity),
      /1 pending changeset\(s\) not versioned yet \(brave-fox\.md\).*pnpm version-packages/,
    );
  });

  it('when a public package is at 0.0.0 (a private one at 0.0.0 is fine)', () => {
    const f = fixture({ versions: { a: '0.1.0', b: '0.0.0' } });
    const result = f.release(identity);
    expectRefusal(f, result, /@fx\/b is at 0\.0\.0/);
    expect(result.stderr).not.toMatch(/@fx\/a is at|@fx\/p is at/);
  });

  it('when a tracked file has uncommitted changes', () => {
    const f = fixture();
    writeFileSync(join(f.repo, 'packages', 'a', 'package.json'), JSON.stringify({ name: '@fx/a', version: '0.1.1' }));
    expectRefusal(
      f,
      f.release(identity),
      /work tree is not clean \(1 changed or untracked\)[\s\S]*packages\/a\/package\.json/,
    );
  });

  it('when an untracked file is present', () => {
    const f = fixture();
    writeFileSync(join(f.repo, 'notes.txt'), 'left over');
    expectRefusal(f, f.release(identity), /work tree is not clean[\s\S]*notes\.txt/);
  });

  it('when git has no identity, so the tags could not be created', () => {
    const f = fixture();
    expectRefusal(f, f.release(), /no committer identity/);
  });

  it('and names every problem at once', () => {
    const f = fixture({ versions: { a: '0.0.0', b: '0.0.0' }, pending: ['x', 'y'] });
    writeFileSync(join(f.repo, 'stray.txt'), '');
    const result = f.release();
    expectRefusal(f, result, /2 pending changeset/);
    for (const reason of [/not clean/, /@fx\/a is at 0\.0\.0/, /@fx\/b is at 0\.0\.0/, /no committer identity/]) {
      expect(result.stderr).toMatch(reason);
    }
  });
});

describe('pnpm release publishes', () => {
  it('builds, publishes without changesets tagging, then tags every published public package', () => {
    const f = fixture();
    const result = f.release(identity);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(f.read('pnpm.log')).toBe('build\nexec changeset publish --no-git-tag\n');
    expect(f.read('published.log')).toBe('@fx/a@0.1.0\n@fx/b@0.2.0\n');
    expect(f.tags()).toEqual(['@fx/a@0.1.0', '@fx/b@0.2.0']);
    expect(f.git('cat-file', '-t', '@fx/a@0.1.0').trim()).toBe('tag'); // annotated: it has an identity
    expect(result.stdout).toContain('tag created: @fx/b@0.2.0');
  });

  it('takes the identity from git config as well as from the environment', () => {
    const f = fixture();
    f.git('config', 'user.name', 'Release Bot');
    f.git('config', 'user.email', 'release@example.invalid');
    expect(f.release().status).toBe(0);
    expect(f.tags()).toEqual(['@fx/a@0.1.0', '@fx/b@0.2.0']);
  });

  it('after a half-failed publish: fails loudly, tags what was published, and a re-run publishes only the rest', () => {
    const f = fixture();
    const first = f.release({ ...identity, STUB_PUBLISH_FAIL: '@fx/b' });
    expect(first.status).toBe(1);
    expect(first.stderr).toContain('not on the registry: @fx/b@0.2.0');
    expect(first.stderr).toContain('run `pnpm release` again');
    expect(f.tags()).toEqual(['@fx/a@0.1.0']);

    const second = f.release(identity);
    expect(second.status).toBe(0);
    expect(f.read('published.log')).toBe('@fx/a@0.1.0\n@fx/b@0.2.0\n'); // a once, b once
    expect(second.stdout).toContain('tag exists: @fx/a@0.1.0');
    expect(second.stdout).toContain('tag created: @fx/b@0.2.0');
    expect(f.tags()).toEqual(['@fx/a@0.1.0', '@fx/b@0.2.0']);

    const third = f.release(identity); // nothing left: publishes nothing, still green
    expect(third.status).toBe(0);
    expect(f.read('published.log')).toBe('@fx/a@0.1.0\n@fx/b@0.2.0\n');
  });
});
