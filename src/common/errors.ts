/** Errors that carry the HTTP status the Docker Engine API uses for them. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}
export const notFound = (msg: string): ApiError => new ApiError(404, msg);
export const conflict = (msg: string): ApiError => new ApiError(409, msg);
export const badRequest = (msg: string): ApiError => new ApiError(400, msg);
export const notModified = (): ApiError => new ApiError(304, '');
