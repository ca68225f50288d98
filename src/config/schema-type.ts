/**
 * The TypeScript type of a value that passed a JSON Schema and had its defaults filled in, for the subset of JSON
 * Schema the configuration uses (object, array, enum, integer, number, string, boolean). Deriving it keeps the type
 * from drifting away from what validation lets through.
 */
export type Resolved<S> = S extends { enum: readonly (infer E)[] }
  ? E
  : S extends { type: 'object'; properties: infer P }
    ? ResolvedObject<P, S extends { required: readonly (infer R)[] } ? R : never>
    : S extends { type: 'object' }
      ? Record<string, unknown>
      : S extends { type: 'array'; items: infer I }
        ? Resolved<I>[]
        : S extends { type: 'integer' | 'number' }
          ? number
          : S extends { type: 'string' }
            ? string
            : S extends { type: 'boolean' }
              ? boolean
              : unknown;

/** A property is always present when it is required, has a default, or is an object (built from its defaults). */
type Present<S> = S extends { default: unknown }
  ? true
  : S extends { type: 'object'; properties: unknown }
    ? true
    : false;

type ResolvedObject<P, R> = Flatten<
  { -readonly [K in keyof P as K extends R ? K : Present<P[K]> extends true ? K : never]: Resolved<P[K]> } & {
    -readonly [K in keyof P as K extends R ? never : Present<P[K]> extends true ? never : K]?: Resolved<P[K]>;
  }
>;

type Flatten<T> = { [K in keyof T]: T[K] } & {};
