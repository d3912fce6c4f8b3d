import { existsSync } from 'node:fs';
import path from 'node:path';

/** The repository root, found from sources (lib/) and from compiled code (dist/lib/) alike. */
export const ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
})();

export const PROTO_DIR = path.join(ROOT, 'proto');
