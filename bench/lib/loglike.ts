/**
 * Deterministic log-like text for compression benchmarks and tests: a mix of nginx-style access lines and
 * JSON application logs with 16–32-hex request/trace ids, like real service logs — hence
 * ratios of ~4–5.5x rather than the 10x of repetitive toy data. Same (bytes, seed) → same bytes.
 */

/** xorshift128+-style 32-bit PRNG (fast, deterministic; not cryptographic). */
function prng(seed: number): () => number {
  let a = (seed ^ 0x9e3779b9) | 0;
  let b = (seed * 0x85ebca6b) ^ 0xc2b2ae35 | 0;
  let c = 0x27d4eb2f ^ (seed << 7);
  let d = 0x165667b1;
  return () => {
    const t = b << 9;
    let r = a * 5;
    r = ((r << 7) | (r >>> 25)) * 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    return r >>> 0;
  };
}

const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD'];
const PATHS = ['/api/v1/orders', '/api/v1/users', '/static/app.js', '/static/style.css', '/healthz', '/api/v2/search', '/upload', '/api/v1/items'];
const STATUS = [200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500, 503];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'curl/8.5.0',
  'Go-http-client/1.1',
  'aliyun-sdk-java/3.17.4(Linux/5.10/amd64;17)',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15',
];
const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];
const SERVICES = ['checkout', 'inventory', 'auth', 'gateway', 'billing'];
const MESSAGES = ['request completed', 'cache miss', 'retrying upstream call', 'user authenticated', 'payment authorised', 'slow query detected'];
const HEX = '0123456789abcdef';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `bytes` of newline-terminated log lines (the last line is cut to fit exactly). */
export function generateLogLike(bytes: number, seed = 1): Buffer {
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) {
    throw new RangeError(`bytes must be a non-negative safe integer, got ${String(bytes)}`);
  }
  if (typeof seed !== 'number' || !Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${String(seed)}`);
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rnd() % xs.length]!;
  const hex = (n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += HEX[rnd() & 15];
    return s;
  };
  const out = Buffer.allocUnsafe(bytes);
  let off = 0;
  let t = 1_700_000_000_000 + (seed % 1000) * 1000;
  while (off < bytes) {
    t += rnd() % 50;
    const d = new Date(t);
    let line: string;
    if (rnd() % 3 !== 0) {
      const ip = `${10 + (rnd() % 200)}.${rnd() % 256}.${rnd() % 256}.${rnd() % 256}`;
      const stamp = `${String(d.getUTCDate()).padStart(2, '0')}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${d.toISOString().slice(11, 19)} +0000`;
      line = `${ip} - - [${stamp}] "${pick(METHODS)} ${pick(PATHS)}?id=${rnd() % 100000} HTTP/1.1" ${pick(STATUS)} ${rnd() % 50000} "-" "${pick(AGENTS)}" rt=${(rnd() % 3000) / 1000} req_id=${hex(16)}\n`;
    } else {
      line =
        JSON.stringify({
          ts: d.toISOString(),
          level: pick(LEVELS),
          service: pick(SERVICES),
          msg: pick(MESSAGES),
          trace_id: hex(32),
          span_id: hex(16),
          user_id: rnd() % 1_000_000,
          duration_ms: rnd() % 2000,
        }) + '\n';
    }
    off += out.write(line, off, 'latin1');
  }
  return out;
}
