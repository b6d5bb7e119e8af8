/** Registry errors in the shape the OCI distribution spec defines: `{"errors":[{code,message,detail}]}`. */

/** Spec error codes (plus distribution's RANGE_INVALID and PAGINATION_NUMBER_INVALID) and their HTTP status. */
const STATUS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  RANGE_INVALID: 416,
  PAGINATION_NUMBER_INVALID: 400,
} as const;

export type RegistryErrorCode = keyof typeof STATUS;

export class RegistryError extends Error {
  readonly status: number;
  constructor(readonly code: RegistryErrorCode, message: string, readonly detail?: unknown, status?: number) {
    super(message);
    this.status = status ?? STATUS[code];
  }

  body(): string {
    const entry: { code: string; message: string; detail?: unknown } = { code: this.code, message: this.message };
    if (this.detail !== undefined) entry.detail = this.detail;
    return JSON.stringify({ errors: [entry] });
  }
}
