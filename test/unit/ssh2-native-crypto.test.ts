/**
 * `npm install` builds ssh2's native decipher for the running Node (scripts/build-ssh2-crypto.mjs): without it ssh2
 * silently uses its JavaScript decipher and the SFTP reader spends about twice OpenSSH's CPU per byte.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

describe('ssh2 native crypto', () => {
  it('is loaded by ssh2 under the Node that runs the project', () => {
    // Prepare
    const require = createRequire(import.meta.url);
    // Act
    const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean };
    // Assess
    expect(crypto.bindingAvailable, 'rebuild with: npm run build:native').toBe(true);
  });
});
