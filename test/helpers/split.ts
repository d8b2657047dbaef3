/**
 * The three-way parser test rule (h11): feed the input whole, split at every offset, and byte by byte.
 * `splits(bytes)` yields each way as a list of chunks, with a label for failure messages.
 */
export function* splits(bytes: Uint8Array): Generator<{ label: string; chunks: Uint8Array[] }> {
  yield { label: 'whole', chunks: [bytes] };
  for (let at = 1; at < bytes.length; at++) {
    yield { label: `split at ${at}`, chunks: [bytes.subarray(0, at), bytes.subarray(at)] };
  }
  if (bytes.length > 1) {
    const single: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
    yield { label: 'byte by byte', chunks: single };
  }
}

export const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
