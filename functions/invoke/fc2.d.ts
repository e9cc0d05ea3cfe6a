/**
 * Types for the parts of @alicloud/fc2@2.6.6 ossferry uses; the package ships none
 * (read from node_modules/@alicloud/fc2/lib/client.js).
 */
declare module '@alicloud/fc2' {
  import type { IncomingHttpHeaders } from 'node:http';

  interface FCClientConfig {
    accessKeyID: string;
    accessKeySecret: string;
    /** Only sent when accessKeyID starts with "STS" (client.js constructor); otherwise ignored. */
    securityToken?: string;
    region: string;
    secure?: boolean;
    internal?: boolean;
    endpoint?: string;
    /** Total per-call deadline in ms, default 60000, connect to end of body. */
    timeout?: number;
    /** Merged into every request before signing. */
    headers?: Record<string, string>;
  }

  interface FCResponse {
    headers: IncomingHttpHeaders;
    /** JSON-parsed when content-type is application/json, else a utf8 string (or Buffer with rawBuf). */
    data: unknown;
  }

  class FCClient {
    constructor(accountID: string, config: FCClientConfig);
    invokeFunction(
      serviceName: string,
      functionName: string,
      event: string | Buffer | null | undefined,
      headers?: Record<string, string>,
      qualifier?: string,
      opts?: { rawBuf?: boolean },
    ): Promise<FCResponse>;
    static getSignature(
      accessKeyID: string,
      accessKeySecret: string,
      method: string,
      path: string,
      headers: Record<string, unknown>,
      queries?: Record<string, unknown> | null,
    ): string;
  }

  export = FCClient;
}
