#!/usr/bin/env node
// npm records, for a package with platform-specific optional dependencies (@swc/core, nx, msgpackr…),
// only the binaries the registry served. The registry this project installs from serves the binaries of
// its own platform only, so the others are missing from package-lock.json and `npm ci` refuses the lock
// ("Missing: @swc/core-darwin-arm64@ from lock file"). This adds each missing optional dependency as an
// optional entry with its version and no tarball: `npm ci` then accepts the lock and skips it.
// Run after `npm install` changes the lock: `node scripts/complete-lockfile.js`.
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const file = join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;
let added = 0;

const platformOf = (name) => {
  const os = ['darwin', 'linux', 'win32', 'freebsd', 'android', 'openbsd', 'sunos', 'aix'].find((o) =>
    name.includes(o),
  );
  const cpu = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'wasm32'].find((c) =>
    new RegExp(`[-_]${c}([-_]|$)`).test(name),
  );
  return { ...(os ? { os: [os] } : {}), ...(cpu ? { cpu: [cpu] } : {}) };
};

for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    // Resolved the way Node resolves: beside the dependent, then up to the root node_modules.
    const base = path === '' ? '' : `${path}/`;
    const candidates = [`${base}node_modules/${name}`, `node_modules/${name}`];
    if (candidates.some((candidate) => packages[candidate] !== undefined)) continue;
    packages[`node_modules/${name}`] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...platformOf(name),
    };
    added++;
  }
}

const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
lock.packages = sorted;
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`package-lock.json: added ${added} platform-specific optional entries\n`);
