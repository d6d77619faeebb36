// Render DiceBear avatars to SVG for deepexpr.data.avatars: one Node process per batch.
// Usage: node avatars_render.mjs NODE_MODULES_DIR  (requests on stdin, replies on stdout)
// Each stdin line is a JSON request {"style": "openPeeps", "options": {...}}; each stdout
// line answers the request of the same line: {"svg": "<svg ...>"} or {"error": "..."}.
// The line "meta" instead prints {"styles": {name: {license, creator, source}}, "versions"}.
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';

const modules = process.argv[2];
const load = (pkg) => import(pathToFileURL(join(modules, pkg, 'lib', 'index.js')).href);
const core = await load('@dicebear/core');
const collection = await load('@dicebear/collection');
const version = (pkg) => JSON.parse(readFileSync(join(modules, pkg, 'package.json'), 'utf8')).version;

function meta() {
  const styles = {};
  for (const [name, style] of Object.entries(collection)) {
    if (!style || !style.meta) continue;
    const m = style.meta;
    styles[name] = { license: m.license || null, creator: m.creator || null, source: m.source || null };
  }
  return { styles, versions: { '@dicebear/core': version('@dicebear/core'),
                                '@dicebear/collection': version('@dicebear/collection') } };
}

function render(line) {
  if (line.trim() === 'meta') return meta();
  const req = JSON.parse(line);
  const style = collection[req.style];
  if (!style || !style.meta) return { error: `unknown DiceBear style ${req.style}` };
  return { svg: core.createAvatar(style, req.options || {}).toString() };
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let reply;
  try { reply = render(line); } catch (err) { reply = { error: String(err && err.message || err) }; }
  process.stdout.write(JSON.stringify(reply) + '\n');
}
