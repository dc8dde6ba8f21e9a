/** What the dead-letter log lines print of an item. */
/**
 * A JSON rendering of `value` for a log line that can never throw: at most `maxChars`
 * characters, and a placeholder for what `JSON.stringify` refuses (too deep, cyclic, BigInt).
 * A log line about a failure must not become a second failure.
 */
export function previewJson(value: unknown, maxChars = 200): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch (error) {
    let why = 'unknown';
    try {
      why = error instanceof Error ? error.message : String(error);
    } catch {}
    return `(not serializable: ${why})`;
  }
  return text.length > maxChars ? `${text.slice(0, maxChars)}… (${text.length} chars)` : text;
}
