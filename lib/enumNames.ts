/**
 * The lower-case names the API shows for protobuf enum values, from ts-proto's generated
 * `*ToJSON` / `*FromJSON` (BOOKING_STATUS_ACTIVE ↔ "active"), so no hand-written map can
 * drift from the proto.
 */
export function enumName<E>(toJSON: (value: E) => string, prefix: string, value: E): string {
  return toJSON(value).replace(prefix, '').toLowerCase();
}

/** The enum value of a lower-case name; `fallback` for a name the proto does not have. */
export function enumValue<E>(fromJSON: (name: unknown) => E, prefix: string, name: string, fallback: E): E {
  const value = fromJSON(`${prefix}${name.toUpperCase()}`);
  return typeof value === 'number' && value < 0 ? fallback : value;
}
