/**
 * Real peers (curl, nginx, uWSGI...). On a developer's machine a missing peer skips its test with
 * the reason printed; with CI=true a missing peer fails the test, because CI installs them.
 */
import { spawnSync } from 'node:child_process';

export function findPeer(command: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

/** Returns the peer's path, or a skip reason. Throws under CI=true. */
export function requirePeer(command: string, debianPackage = command): { path: string } | { skip: string } {
  const path = findPeer(command);
  if (path) return { path };
  const reason = `${command} not installed (Debian package ${debianPackage}; .ci/run installs it)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and a required peer is missing: ${reason}`);
  return { skip: reason };
}
