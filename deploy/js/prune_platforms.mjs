// Run by ./course after `npm ci`: onnxruntime-node ships its native library for every platform (macOS, Windows,
// Linux; x64 and arm64: about 300 MB). Keep this machine's own, delete the others, and drop the source maps of
// onnxruntime-web (debugging aids no page loads). Prints what it removed.
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const bin = join(here, "node_modules", "onnxruntime-node", "bin", "napi-v6");
let removed = 0;
const size = (p) => (statSync(p).isDirectory() ? readdirSync(p).reduce((s, f) => s + size(join(p, f)), 0) : statSync(p).size);
const drop = (p) => { removed += size(p); rmSync(p, { recursive: true, force: true }); };
if (existsSync(bin)) {
  for (const platform of readdirSync(bin)) {
    for (const arch of readdirSync(join(bin, platform))) {
      if (platform !== process.platform || arch !== process.arch) drop(join(bin, platform, arch));
    }
  }
}
const dist = join(here, "node_modules", "onnxruntime-web", "dist");
if (existsSync(dist)) for (const f of readdirSync(dist)) if (f.endsWith(".map")) drop(join(dist, f));
console.log(`removed ${(removed / 2 ** 20).toFixed(0)} MiB of other platforms' binaries and source maps`);
