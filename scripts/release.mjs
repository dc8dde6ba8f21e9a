#!/usr/bin/env node
// `pnpm release`: publishes the versions that `pnpm version-packages` wrote, tags them, and refuses
// (exit 1, nothing built, nothing published) when the repository is not in a state to release:
//   - pending changesets: they were not versioned, so publishing would ship 0.0.0 or an old version
//     while the changes wait unused;
//   - a public package at 0.0.0: never a real release;
//   - uncommitted or untracked files: what is published must be a commit anyone can check out;
//   - no git identity: the release tags could not be created (changesets used to print "New tag"
//     and create none).
// Publishing is `changeset publish --no-git-tag`, which skips every version the registry already
// has; the tags are made here, afterwards, for every package whose version the registry has. So a
// re-run after a half-failed publish publishes only what is missing and tags what was published.
// The registry is npm's configuration (`npm_config_registry`, .npmrc); provenance is npm's
// `NPM_CONFIG_PROVENANCE=true`, which the release job sets (see CONTRIBUTING.md, "Releasing").
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.cwd();

function run(cmd, args, options = {}) {
  return spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...options });
}

/** The workspace's package directories, from pnpm-workspace.yaml's `dir/*` and `dir` entries. */
export function workspaceDirs(dir) {
  const yaml = readFileSync(join(dir, 'pnpm-workspace.yaml'), 'utf8');
  const dirs = [];
  let inPackages = false;
  for (const line of yaml.split('\n')) {
    if (/^packages:\s*$/.test(line)) {
      inPackages = true;
      continue;
    }
    if (inPackages && /^\S/.test(line)) inPackages = false;
    const entry = inPackages && /^\s*-\s*['"]?([^'"#\s]+)['"]?/.exec(line);
    if (!entry) continue;
    const pattern = entry[1];
    if (pattern.endsWith('/*')) {
      const base = join(dir, pattern.slice(0, -2));
      if (!existsSync(base)) continue;
      for (const d of readdirSync(base).sort()) dirs.push(join(base, d));
    } else {
      dirs.push(join(dir, pattern));
    }
  }
  return dirs.filter((d) => existsSync(join(d, 'package.json')));
}

/** Public (publishable) packages: { name, version, dir }. */
export function publicPackages(dir) {
  return workspaceDirs(dir)
    .map((d) => ({ dir: d, pkg: JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) }))
    .filter(({ pkg }) => !pkg.private)
    .map(({ dir: d, pkg }) => ({ name: pkg.name, version: pkg.version, dir: d }));
}

/** Every reason the repository in `dir` cannot be released now (empty when it can). */
export function releaseProblems(dir) {
  const problems = [];
  const git = (...args) => spawnSync('git', args, { cwd: dir, encoding: 'utf8' });

  const status = git('status', '--porcelain');
  if (status.status !== 0) {
    problems.push(`not a git work tree: ${status.stderr.trim()}`);
  } else if (status.stdout.trim() !== '') {
    const files = status.stdout.trimEnd().split('\n');
    problems.push(
      `the work tree is not clean (${files.length} changed or untracked): commit or remove them first\n` +
        files
          .slice(0, 10)
          .map((f) => `      ${f}`)
          .join('\n'),
    );
  }

  const changesetDir = join(dir, '.changeset');
  const pending = existsSync(changesetDir)
    ? readdirSync(changesetDir).filter((f) => f.endsWith('.md') && f !== 'README.md')
    : [];
  if (pending.length > 0) {
    problems.push(
      `${pending.length} pending changeset(s) not versioned yet (${pending.slice(0, 5).join(', ')}${pending.length > 5 ? ', …' : ''}): ` +
        'run `pnpm version-packages`, review the CHANGELOGs, commit, then release',
    );
  }

  for (const p of publicPackages(dir)) {
    if (!p.version || p.version === '0.0.0') {
      problems.push(
        `${p.name} is at ${p.version ?? 'no version'}: run \`pnpm version-packages\` (a changeset names it)`,
      );
    }
  }

  // useConfigOnly: git must not guess an identity from the host name; a release tag needs a real one.
  const ident = git('-c', 'user.useConfigOnly=true', 'var', 'GIT_COMMITTER_IDENT');
  if (ident.status !== 0) {
    problems.push(
      'git has no committer identity, so the release tags cannot be created: set user.name and user.email ' +
        '(git config) or GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL',
    );
  }
  return problems;
}

/** Whether the registry npm is configured for has `name@version`. */
function isPublished(name, version) {
  const r = run('npm', ['view', `${name}@${version}`, 'version', '--json']);
  if (r.status !== 0) return false;
  try {
    const v = JSON.parse(r.stdout || 'null');
    return v === version || (Array.isArray(v) && v.includes(version));
  } catch {
    return false;
  }
}

function main() {
  const problems = releaseProblems(root);
  if (problems.length > 0) {
    console.error('pnpm release: refusing to publish, nothing was built or published:');
    for (const p of problems) console.error(`  - ${p}`);
    process.exit(1);
  }
  const packages = publicPackages(root);
  console.log(`pnpm release: ${packages.map((p) => `${p.name}@${p.version}`).join(', ')}`);

  const step = (label, cmd, args) => {
    console.log(`--- ${label}`);
    return run(cmd, args, { stdio: 'inherit' }).status;
  };
  if (step('build', 'pnpm', ['build']) !== 0) {
    console.error('pnpm release: the build failed, nothing was published');
    process.exit(1);
  }
  // Skips the versions the registry already has, so a re-run publishes only what is missing.
  const publishStatus = step('changeset publish', 'pnpm', ['exec', 'changeset', 'publish', '--no-git-tag']);

  console.log('--- tags');
  const missing = [];
  let tagFailures = 0;
  for (const p of packages) {
    if (!isPublished(p.name, p.version)) {
      missing.push(`${p.name}@${p.version}`);
      continue;
    }
    const tag = `${p.name}@${p.version}`;
    if (run('git', ['rev-parse', '-q', '--verify', `refs/tags/${tag}`]).status === 0) {
      console.log(`tag exists: ${tag}`);
      continue;
    }
    const made = run('git', ['tag', '-a', tag, '-m', tag]);
    if (made.status === 0 && run('git', ['rev-parse', '-q', '--verify', `refs/tags/${tag}`]).status === 0) {
      console.log(`tag created: ${tag}`);
    } else {
      tagFailures++;
      console.error(`FAILED to create tag ${tag}: ${made.stderr.trim()}`);
    }
  }
  if (missing.length > 0 || publishStatus !== 0 || tagFailures > 0) {
    if (missing.length > 0) console.error(`pnpm release: not on the registry: ${missing.join(', ')}`);
    console.error(
      'pnpm release: incomplete. Fix the cause and run `pnpm release` again: it publishes only what is missing ' +
        'and tags what was published.',
    );
    process.exit(1);
  }
  console.log('pnpm release: every package is published and tagged; push the tags: git push --follow-tags');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
