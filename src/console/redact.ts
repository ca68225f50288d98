/** Option names whose values the console never shows (a user processor may take an API key or a password). */
const SECRET_NAME = /pass|secret|token|key|credential|auth/i;

/** The options with the values of secret-looking names replaced, at any depth. */
export function redactOptions(options: unknown): unknown {
  if (Array.isArray(options)) return options.map(redactOptions);
  if (options === null || typeof options !== 'object') return options;
  return Object.fromEntries(
    Object.entries(options as Record<string, unknown>).map(([name, value]) => [
      name,
      SECRET_NAME.test(name) ? '(hidden)' : redactOptions(value),
    ]),
  );
}
