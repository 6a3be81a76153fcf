/** The public gateway API: the TSGI contract, the server-side runner, adapters, mount and compose. */
export * from './types.js';
export { BodyInput, type InputDemand } from './input.js';
export { runApp, StartResponseError, type ResponseSink, type HandlerLog } from './handler.js';
export { fromFetch, toFetch, type FetchHandler, type FromFetchOptions, type ToFetchOptions } from './adapters/fetch.js';
export { fromNode, type NodeHandler } from './adapters/node.js';
export { mount, type MountOptions } from './mount.js';
export { compose } from './compose.js';
export { validator, ValidationError } from './validator.js';
