/** Tests that drive Debian's Redis tools fail, naming the package, when the tool is missing. */
import { spawnSync } from 'node:child_process';

export function requireBinary(binary: string, debianPackage: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
  if (!found) throw new Error(`${binary} is missing: install the Debian package ${debianPackage} (apt-get install -y ${debianPackage}); .ci/run does this`);
}
