/** Control characters (C0 and DEL): never part of a name, key or identifier. */
export const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Control characters except newline, carriage return and tab: free text may break lines. */
export const CONTROL_CHARS_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
