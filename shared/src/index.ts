/**
 * @packageDocumentation
 * Burrow wire protocol v1: frame types, close codes and the codecs for WebSocket and HTTP. Pure
 * functions with no I/O and no Node built-ins, so the same module runs in browsers and in Node.
 */
export * from './frames.js';
export * from './result.js';
export * from './close-codes.js';
export * from './base64.js';
export * from './json-codec.js';
export * from './ws-codec.js';
export * from './http-bodies.js';
export * from './downstream.js';
export * from './paths.js';
