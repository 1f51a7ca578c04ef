/** The bounds of CEL's `int` (a signed 64-bit integer), shared by every library that checks range. */
export const INT64_MAX = (1n << 63n) - 1n;
export const INT64_MIN = -(1n << 63n);
