/**
 * Test support (not a test): run one of the overhead benchmark's scripts with this Node.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

/** `node src/overhead/<script> ...args`: its stdout, or an error carrying its stderr. */
export function runScript(script: string, args: string[], timeoutMs: number): Promise<string> {
  const path = join(__dirname, '..', 'src', 'overhead', script);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
