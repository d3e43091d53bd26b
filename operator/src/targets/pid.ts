import { readFileSync } from 'node:fs';

/**
 * Whether a process is running. A zombie counts as gone: where PID 1 does not reap orphans
 * (some containers), an exited consumer started by another process stays a zombie, and
 * `kill(pid, 0)` alone would still succeed. Linux's /proc tells; elsewhere kill(0) decides.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, but another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
