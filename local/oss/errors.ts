/**
 * OSS error responses. Every rejection the local server makes is an OssError carrying the HTTP
 * status, the OSS error code and any extra XML fields (ali-oss reads
 * Code/Message/RequestId/HostId/EC from the body, and `x-oss-err` for bodiless HEAD errors).
 */
import { OssferryError } from '../../shared/errors.ts';

export class OssError extends OssferryError {
  readonly status: number;
  /** Extra elements appended to <Error> after Code/Message/RequestId/HostId, in order. */
  readonly fields: Record<string, string>;
  /** Extra response headers (e.g. x-oss-next-append-position on 409 PositionNotEqualToLength). */
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    code: string,
    message: string,
    fields: Record<string, string> = {},
    headers: Record<string, string> = {},
  ) {
    super(code, message);
    this.status = status;
    this.fields = fields;
    this.headers = headers;
  }
}

export const noSuchBucket = (bucket: string) =>
  new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: bucket });
export const noSuchKey = (key: string) => new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
export const noSuchUpload = (uploadId: string) =>
  new OssError(404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', {
    UploadId: uploadId,
  });
export const invalidArgument = (message: string, name: string, value: string) =>
  new OssError(400, 'InvalidArgument', message, { ArgumentName: name, ArgumentValue: value });
export const malformedXml = () =>
  new OssError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
export const preconditionFailed = (condition: string) =>
  new OssError(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold.', { Condition: condition });
export const fileAlreadyExists = () =>
  new OssError(409, 'FileAlreadyExists', 'The object you specified already exists and can not be overwritten.');
export const notImplemented = (what: string) =>
  new OssError(501, 'NotImplemented', `A header or query you provided requested a function that is not implemented: ${what}`, {
    Method: what,
  });
