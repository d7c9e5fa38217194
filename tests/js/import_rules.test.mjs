// The import rule for page modules (ARCHITECTURE.md): a module in static/<app>/ imports only
// static/realtime/ and files of its own app, never another app's; static/realtime/ imports
// nothing outside itself. Static imports and dynamic import() with a literal both count.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const STATIC = resolve(dirname(fileURLToPath(import.meta.url)), '../../static');
const SPECIFIER = /(?:\bimport\s*(?:[^'"()]*?\bfrom\s*)?|\bimport\s*\(\s*)['"]([^'"]+)['"]/g;

function modules(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return modules(path);
    return name.endsWith('.js') ? [path] : [];
  });
}

/** The app folder under static/ that a path belongs to ("realtime", "chat", ...). */
function appOf(path) {
  return relative(STATIC, path).split(sep)[0];
}

function target(file, specifier) {
  if (specifier.startsWith('/static/')) return join(STATIC, specifier.slice('/static/'.length));
  if (specifier.startsWith('.')) return resolve(dirname(file), specifier);
  return null; // a bare or absolute URL: not a file of ours
}

/** Whether `file` may import `specifier`: its own app's files, and static/realtime/ from an app. */
function allowed(file, specifier) {
  const imported = target(file, specifier);
  if (imported === null) return false;
  const app = appOf(file);
  return appOf(imported) === app || (app !== 'realtime' && appOf(imported) === 'realtime');
}

function violations() {
  const found = [];
  for (const file of modules(STATIC)) {
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      if (!allowed(file, specifier)) found.push(`${relative(STATIC, file)} imports ${specifier}`);
    }
  }
  return found;
}

test('page modules import only static/realtime/ and their own app', () => {
  assert.deepEqual(violations(), []);
});

test('the rule refuses another app, a bare package, and an app from the core', () => {
  const shares = join(STATIC, 'shares', 'index.js');
  const specifiers = ['../chat/index.js', '/static/chat/dom.js', 'left-pad', '../realtime/client.js', './x.js'];
  assert.deepEqual(
    specifiers.filter((specifier) => !allowed(shares, specifier)),
    ['../chat/index.js', '/static/chat/dom.js', 'left-pad'],
  );
  assert.equal(allowed(join(STATIC, 'realtime', 'page.js'), '../chat/index.js'), false);
  assert.deepEqual([...'import { a } from "./a.js"; await import(\'../b.js\');'.matchAll(SPECIFIER)].map((m) => m[1]), [
    './a.js',
    '../b.js',
  ]);
});
