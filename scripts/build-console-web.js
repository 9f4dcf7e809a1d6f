#!/usr/bin/env node
// Builds the console's web UI when its build is missing or older than its sources, so that `npm start` serves
// /console on a fresh clone. Quiet when there is nothing to do.
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { dirname, join } = require('node:path');

const app = join(__dirname, '..', 'apps', 'console-web');
const built = join(app, 'dist', 'index.html');

function newestSource(folder) {
  let newest = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue;
    const path = join(folder, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

if (existsSync(built) && statSync(built).mtimeMs >= newestSource(app)) process.exit(0);
process.stderr.write('building the console web UI (vite)…\n');
execFileSync(
  process.execPath,
  [
    join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js'),
    'build',
    '--config',
    join(app, 'vite.config.ts'),
    '--logLevel',
    'warn',
  ],
  {
    stdio: 'inherit',
    cwd: join(__dirname, '..'),
  },
);
