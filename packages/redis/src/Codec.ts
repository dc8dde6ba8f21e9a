/** Turns values into strings for Redis and back. Must round-trip every value a fetcher returns. */
export interface Codec<T> {
  encode(value: T): string;
  decode(text: string): T;
}

/**
 * The default codec: JSON. `undefined` (not JSON) travels as a marker, so a fetcher may return
 * it; Dates become strings and Maps empty objects, as with any JSON (pass your own codec).
 */
export const jsonCodec: Codec<unknown> = Object.freeze({
  encode: (value: unknown) => (value === undefined ? 'u' : `j${JSON.stringify(value)}`),
  decode: (text: string) => (text === 'u' ? undefined : JSON.parse(text.slice(1))),
});
