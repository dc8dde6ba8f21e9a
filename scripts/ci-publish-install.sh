#!/usr/bin/env bash
# CI's publish-and-install stage (issue 15): proves that what `pnpm release` publishes installs and
# runs for a user. Starts a throwaway verdaccio (root devDependency) on a free loopback port with
# its storage in a temp dir, clones the committed HEAD of this repository, checks that `pnpm release`
# refuses there before versioning, versions it with `pnpm version-packages` plus a test changeset,
# publishes every package through `pnpm release`, checks each version and tag and that a re-run
# publishes nothing, then runs scripts/ci-consumers.mjs: fresh projects outside the workspace
# that install each package from the registry and run its README's quick start as ESM TypeScript
# (tsc, nodenext, strict), as CommonJS (require) and as an esbuild bundle.
# Bounded: every step has a timeout, generous for a machine shared with builds (a release with its
# cold build took 4-10 min at load 40); the whole stage takes about 5 min on an idle machine. Fails loudly.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/valve-publish.XXXXXX")"
REGISTRY_PID=""

fail() {
  echo "FAIL publish-install: $*" >&2
  exit 1
}
cleanup() {
  local rc=$?
  if [ -n "$REGISTRY_PID" ]; then kill "$REGISTRY_PID" 2>/dev/null || true; wait "$REGISTRY_PID" 2>/dev/null || true; fi
  if [ "$rc" -ne 0 ] && [ -f "$WORK/verdaccio.log" ]; then
    echo "--- verdaccio log (last 30 lines)" >&2
    tail -n 30 "$WORK/verdaccio.log" >&2 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
REGISTRY="http://127.0.0.1:$PORT/"

echo "--- publish-install: verdaccio on $REGISTRY (storage in $WORK/storage)"
mkdir -p "$WORK/storage"
cat >"$WORK/verdaccio.yaml" <<EOF
storage: $WORK/storage
auth:
  htpasswd:
    file: $WORK/htpasswd
uplinks: {}
packages:
  '@valve/*':
    access: \$all
    publish: \$authenticated
  '**':
    access: \$all
security:
  api:
    legacy: false
    jwt:
      sign:
        expiresIn: 1h
server:
  keepAliveTimeout: 5
listen: 127.0.0.1:$PORT
log: { type: stdout, format: pretty, level: error }
EOF
"$REPO/node_modules/.bin/verdaccio" --config "$WORK/verdaccio.yaml" >"$WORK/verdaccio.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 1 60); do
  curl -fsS "${REGISTRY}-/ping" >/dev/null 2>&1 && break
  kill -0 "$REGISTRY_PID" 2>/dev/null || fail "verdaccio exited at start-up"
  sleep 0.5
done
curl -fsS "${REGISTRY}-/ping" >/dev/null || fail "verdaccio did not answer on $REGISTRY within 30 s"

# A user for publishing (verdaccio's htpasswd creates it on first login) and its token.
TOKEN="$(curl -fsS -X PUT -H 'content-type: application/json' \
  -d '{"name":"ci","password":"ci-publish-test","type":"user"}' \
  "${REGISTRY}-/user/org.couchdb.user:ci" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).token))")"
[ -n "$TOKEN" ] && [ "$TOKEN" != undefined ] || fail "could not create a registry user"

# `"${ON_REGISTRY[@]}" CMD...` runs CMD with npm's and pnpm's configuration pointing at the throwaway
# registry and its token (publish, view); installs in the copy keep the machine's registry.
# Provenance is off: it needs a CI OIDC token that a local registry run does not have.
cat >"$WORK/npmrc" <<EOF
registry=$REGISTRY
//127.0.0.1:$PORT/:_authToken=$TOKEN
EOF
ON_REGISTRY=(env NPM_CONFIG_USERCONFIG="$WORK/npmrc" npm_config_registry="$REGISTRY" NPM_CONFIG_PROVENANCE=false)

echo "--- publish-install: a copy of the repository (committed HEAD)"
git clone -q "$REPO" "$WORK/repo"
export RELEASE_MJS="$WORK/repo/scripts/release.mjs"
cd "$WORK/repo"
git config user.name "valve CI"
git config user.email "ci@valve.invalid"
# The copy installs from the same pnpm store, never from the throwaway registry.
timeout 900 pnpm install --frozen-lockfile --prefer-offline >"$WORK/install.log" 2>&1 ||
  { tail -n 30 "$WORK/install.log"; fail "pnpm install in the copy"; }

echo "--- publish-install: pnpm release must refuse before versioning"
if "${ON_REGISTRY[@]}" pnpm release >"$WORK/refusal.log" 2>&1; then
  cat "$WORK/refusal.log"
  fail "pnpm release published an unversioned repository"
fi
grep -q "refusing to publish" "$WORK/refusal.log" || { cat "$WORK/refusal.log"; fail "pnpm release failed without refusing"; }
grep -E '^ *(pnpm release|- )' "$WORK/refusal.log" | sed 's/^ */    /' || true
if "${ON_REGISTRY[@]}" npm view @valve/core version >/dev/null 2>&1; then fail "the refused release published @valve/core"; fi

echo "--- publish-install: pnpm version-packages with a test changeset"
node --input-type=module -e '
import { writeFileSync } from "node:fs";
const { publicPackages } = await import(process.env.RELEASE_MJS);
const names = publicPackages(".").map((p) => `"${p.name}": patch`).join("\n");
writeFileSync(".changeset/ci-publish-test.md", `---\n${names}\n---\n\nCI publish test.\n`);
'
timeout 600 pnpm version-packages >"$WORK/version.log" 2>&1 || { cat "$WORK/version.log"; fail "pnpm version-packages"; }
git add -A
git commit -qm "release: version packages (CI publish test)"
node --input-type=module -e '
const { publicPackages } = await import(process.env.RELEASE_MJS);
for (const p of publicPackages(".")) console.log(`    ${p.name}@${p.version}`);
'

echo "--- publish-install: pnpm release to $REGISTRY"
timeout 1800 "${ON_REGISTRY[@]}" pnpm release >"$WORK/release.log" 2>&1 || { cat "$WORK/release.log"; fail "pnpm release"; }
grep -E '^(tag |pnpm release:)' "$WORK/release.log" | sed 's/^/    /'
PACKAGES="$(node --input-type=module -e '
const { publicPackages } = await import(process.env.RELEASE_MJS);
console.log(publicPackages(".").map((p) => `${p.name}@${p.version}`).join(" "));
')"
for id in $PACKAGES; do
  [ "$("${ON_REGISTRY[@]}" npm view "$id" version 2>/dev/null)" = "${id##*@}" ] || fail "$id is not on the registry"
  git rev-parse -q --verify "refs/tags/$id" >/dev/null || fail "no tag $id"
done

echo "--- publish-install: a second pnpm release publishes nothing and succeeds"
timeout 900 "${ON_REGISTRY[@]}" pnpm release >"$WORK/rerun.log" 2>&1 || { cat "$WORK/rerun.log"; fail "the second pnpm release"; }
[ "$(grep -c '^tag exists' "$WORK/rerun.log")" = "$(echo "$PACKAGES" | wc -w)" ] || { cat "$WORK/rerun.log"; fail "the second release did not find every tag"; }
if grep -q 'tag created' "$WORK/rerun.log"; then fail "the second release created tags"; fi

echo "--- publish-install: consumers (each package alone: ESM TypeScript, CommonJS, esbuild bundle)"
cd "$WORK"
timeout 1800 node "$REPO/scripts/ci-consumers.mjs" --registry "$REGISTRY" --repo "$WORK/repo" --work "$WORK/consumers" ||
  fail "consumer projects"
echo "--- publish-install: ok"
