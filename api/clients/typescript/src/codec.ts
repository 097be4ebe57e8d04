// Encodings of WebSocket frames: `Codec` for JSON text frames (default) and
// MessagePack binary frames (subprotocol `trove.v1.msgpack`).

import { decode as mpDecode, encode as mpEncode } from '@msgpack/msgpack';

export type Protocol = 'json' | 'msgpack';
export type Frame = string | Uint8Array;
export type Message = Record<string, unknown>;

/** The server's message size limit (1 MiB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface Codec {
  readonly protocol: Protocol;
  /** Subprotocol to offer in the upgrade, if any. */
  readonly subprotocol: string | undefined;
  encode(message: Message): Frame;
  /** Decodes a frame; null for a frame of the other kind or an unreadable one. */
  decode(frame: Frame): Message | null;
}

const jsonCodec: Codec = {
  protocol: 'json',
  subprotocol: undefined,
  encode: (message) => JSON.stringify(message),
  decode(frame) {
    if (typeof frame !== 'string') return null;
    try {
      const value = JSON.parse(frame);
      return value && typeof value === 'object' ? (value as Message) : null;
    } catch {
      return null;
    }
  },
};

const msgpackCodec: Codec = {
  protocol: 'msgpack',
  subprotocol: 'trove.v1.msgpack',
  encode: (message) => mpEncode(message, { ignoreUndefined: true }),
  decode(frame) {
    if (typeof frame === 'string') return null;
    try {
      const value = mpDecode(frame);
      return value && typeof value === 'object' ? (value as Message) : null;
    } catch {
      return null;
    }
  },
};

export function codecFor(protocol: Protocol): Codec {
  if (protocol === 'json') return jsonCodec;
  if (protocol === 'msgpack') return msgpackCodec;
  throw new TypeError(`unknown protocol ${String(protocol)}: use 'json' or 'msgpack'`);
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/** Size of an encoded frame in bytes (UTF-8 for text). */
export function frameBytes(frame: Frame): number {
  return typeof frame === 'string' ? utf8Length(frame) : frame.byteLength;
}

/** UTF-8 length of a string without allocating. */
export function utf8Length(s: string): number {
  // ASCII (the usual event) in one native scan instead of a loop per char.
  if (ASCII.test(s)) return s.length;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; }
    else n += 3;
  }
  return n;
}
