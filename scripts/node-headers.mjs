// The environment for a node-gyp build from a script: this Node's own headers, so that
// node-gyp never downloads any (these machines have no way out but the npm registry). npm
// passes its nodedir setting to the scripts it runs (npm_config_nodedir); a script run without
// npm (.ci/run runs some directly) gets the headers installed beside this node, when there.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** `env` with npm_config_nodedir set to this Node's headers unless it is set already. */
export function withOwnHeaders(env) {
  const ownHeaders = resolve(process.execPath, '..', '..');
  if (env.npm_config_nodedir || !existsSync(join(ownHeaders, 'include', 'node', 'node_api.h'))) return env;
  return { ...env, npm_config_nodedir: ownHeaders };
}
