/** The public API of the `tsgi` package. */
export * from './gateway/index.js';
export { serve, type ServeOptions, type ServerHandle, type BoundAddress } from './appserver/serve.js';
export { loadApp, detectAppKind, AppLoadError, type AppKind, type LoadedApp } from './appserver/load-app.js';
export { Logger } from './appserver/log.js';
export { TsgiError } from './errors.js';
