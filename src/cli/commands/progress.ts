/** docker's jsonmessage.DisplayJSONMessagesStream for progress streams (pull, load, import), non-terminal style. */

export interface JsonMessage {
  id?: string;
  status?: string;
  stream?: string;
  from?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: unknown;
}

/** An error reported inside a 200 stream; `code` is the exit status docker uses when present. */
export class JsonStreamError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
  }
}

/** An error message ends the stream (thrown); an aux message goes to `onAux`. True when `m` was one of those. */
export function handledControl(m: JsonMessage, onAux?: (aux: unknown) => void): boolean {
  if (m.errorDetail || m.error) throw new JsonStreamError(m.errorDetail?.message ?? m.error ?? 'unknown error', m.errorDetail?.code);
  if (m.aux === undefined) return false;
  onAux?.(m.aux);
  return true;
}

/** Prints each message as docker does for a non-terminal; progress-bar updates are skipped. */
export async function displayJsonMessages(messages: AsyncIterable<unknown>, out: NodeJS.WritableStream, onAux?: (aux: unknown) => void): Promise<void> {
  for await (const raw of messages) {
    const m = raw as JsonMessage;
    if (handledControl(m, onAux)) continue;
    if (m.progress || (m.progressDetail && m.progressDetail.current !== undefined)) continue;
    let line = '';
    if (m.id) line += `${m.id}: `;
    if (m.from) line += `(from ${m.from}) `;
    if (m.stream) out.write(line + m.stream);
    else out.write(`${line}${m.status ?? ''}\n`);
  }
}
