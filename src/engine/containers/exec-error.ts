/**
 * Why a process could not be started (a container's first process or an exec), from crun's message to runc's
 * wording, which Docker passes on and its CLI reads: "executable file not found" / "no such file or directory" →
 * 127, "permission denied" (lower case, as Go's errno strings; Docker 24 appends it to "is a directory" too) → 126.
 */
export interface ExecFailure {
  /** runc's words: `exec: "<cmd>": permission denied` … */
  reason: string;
  /** The exit code Docker reports: 127 not found, 126 cannot run, `other` for any other failure. */
  exitCode: number;
}

export function execFailure(msg: string, cmd: string, other: number): ExecFailure {
  const missing = /executable file [`'"]?([^`'"]+)[`'"]? not found/.exec(msg);
  if (missing) return { reason: `exec: "${missing[1]}": executable file not found in $PATH`, exitCode: 127 };
  if (/no such file or directory/i.test(msg)) return { reason: `exec: "${cmd}": stat ${cmd}: no such file or directory`, exitCode: 127 };
  // crun: "open executable: Permission denied", or "Operation not permitted" for a directory
  if (/permission denied|open executable: operation not permitted/i.test(msg)) return { reason: `exec: "${cmd}": permission denied`, exitCode: 126 };
  if (/is a directory/i.test(msg)) return { reason: `exec: "${cmd}": is a directory: permission denied`, exitCode: 126 };
  return { reason: msg, exitCode: other };
}
