import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { promisify } from 'node:util';
import { REPO } from './paths.js';

const run = promisify(execFile);
let binary: Promise<string> | undefined;

/**
 * promtool of the Prometheus that `make cluster-build` builds (hack/cluster/build.sh), at
 * hack/cluster/env.sh's PROMTOOL_BIN: the scripts' own settings, overrides included. Fails, saying
 * how to get it, when it is not built yet: the tests never build it themselves (about 5 minutes).
 */
export function promtoolBinary(): Promise<string> {
  binary ??= (async () => {
    const script = 'source hack/lib/common.sh && source hack/cluster/env.sh && printf %s "$PROMTOOL_BIN"';
    const { stdout: bin } = await run('bash', ['-c', script], { cwd: REPO });
    try {
      await access(bin, constants.X_OK);
    } catch {
      throw new Error(`promtool is not built at ${bin}: run make cluster-build`);
    }
    return bin;
  })();
  return binary;
}

/** Runs promtool; resolves to its output when it exits 0, else rejects with everything it printed. */
export async function promtool(args: string[], cwd?: string): Promise<string> {
  const bin = await promtoolBinary();
  try {
    const { stdout, stderr } = await run(bin, args, { cwd, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout + stderr;
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? String(err)}`);
  }
}
