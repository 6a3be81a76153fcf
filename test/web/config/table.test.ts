/**
 * The directive table against nginx 1.22 itself (test/fixtures/nginx/directives-1.22.json, made by
 * probing /usr/sbin/nginx -t): the same names, contexts, block flags and argument counts. And the
 * table against the typed configuration: every field of every settings type is declared by a
 * directive, with one default and one merge rule.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  Context,
  DIRECTIVES,
  DIRECTIVES_BY_NAME,
  SLOTS_BY_LEVEL,
  argsAccepted,
  argsNotation,
  contextNames,
  directiveReference,
  type Level,
} from '../../../src/web/config/directives.js';
import type {
  EventsSettings,
  FastcgiSettings,
  HttpSettings,
  LocationSettings,
  MainSettings,
  ProxySettings,
  ScgiSettings,
  ServerSettings,
  UpstreamSettings,
  UwsgiSettings,
} from '../../../src/web/config/types.js';

interface Probed {
  readonly contexts: readonly string[];
  readonly block: boolean;
  readonly probedIn: string;
  readonly acceptedArgCounts: readonly number[];
}

const NGINX: Record<string, Probed> = JSON.parse(readFileSync(new URL('../../fixtures/nginx/directives-1.22.json', import.meta.url), 'utf8'));

const CONTEXT_BITS: Record<string, number> = {
  main: Context.Main,
  events: Context.Events,
  http: Context.Http,
  server: Context.Server,
  location: Context.Location,
  sif: Context.ServerIf,
  lif: Context.LocationIf,
  upstream: Context.Upstream,
  lmt: Context.LimitExcept,
};

describe('directive table vs nginx 1.22', () => {
  it('declares the same directive names', () => {
    assert.deepEqual([...DIRECTIVES_BY_NAME.keys()].sort(), Object.keys(NGINX).sort());
  });

  for (const [name, probed] of Object.entries(NGINX)) {
    it(`${name}: contexts, block, arguments`, () => {
      const specs = DIRECTIVES_BY_NAME.get(name)!;
      for (const [context, bit] of Object.entries(CONTEXT_BITS)) {
        const ours = specs.some((s) => s.contexts & bit);
        assert.equal(ours, probed.contexts.includes(context), `${name} in ${context}`);
      }
      const spec = specs.find((s) => s.contexts & CONTEXT_BITS[probed.probedIn]!)!;
      assert.equal(spec.block, probed.block, `${name} block`);
      for (let count = 0; count <= 9; count += 1) {
        assert.equal(argsAccepted(spec.args, count), probed.acceptedArgCounts.includes(count), `${name} with ${count} arguments (${argsNotation(spec.args)})`);
      }
    });
  }

  it('names contexts for the reference', () => {
    const listen = DIRECTIVES_BY_NAME.get('root')![0]!;
    assert.deepEqual(contextNames(listen.contexts), ['http', 'server', 'location', 'if in location']);
    assert.equal(argsNotation(DIRECTIVES_BY_NAME.get('error_page')![0]!.args), '2MORE');
  });
});

/** An object with exactly the keys of T: TypeScript refuses a missing or an extra one. */
const keys = <T>() => <const O extends Record<keyof T, true>>(o: O & Record<Exclude<keyof O, keyof T>, never>) => Object.keys(o).sort();

const FIELDS: Record<Level, string[]> = {
  main: keys<MainSettings>()({ daemon: true, masterProcess: true, workerProcesses: true, pid: true, lockFile: true, user: true, errorLog: true, workerRlimitNofile: true, workerRlimitCore: true, workerShutdownTimeoutMs: true, workerPriority: true, workerCpuAffinity: true, workingDirectory: true, env: true, timerResolutionMs: true, pcreJit: true, debugPoints: true, threadPools: true, loadModules: true }),
  events: keys<EventsSettings>()({ workerConnections: true, use: true, multiAccept: true, acceptMutex: true, acceptMutexDelayMs: true, debugConnection: true, workerAioRequests: true }),
  http: keys<HttpSettings>()({ serverNamesHashMaxSize: true, serverNamesHashBucketSize: true, variablesHashMaxSize: true, variablesHashBucketSize: true, logFormats: true, limitReqZones: true, limitConnZones: true, maps: true, cachePaths: true }),
  srv: keys<ServerSettings>()({ ssl: true, certificates: true, certificateKeys: true, protocols: true, ciphers: true, preferServerCiphers: true, sessionCache: true, sessionTimeoutSec: true, sessionTickets: true, dhparam: true, trustedCertificate: true, clientCertificate: true, verifyClient: true, stapling: true, staplingVerify: true, ecdhCurve: true, passwordFile: true, bufferSize: true, earlyData: true, clientHeaderTimeoutMs: true, clientHeaderBufferSize: true, largeClientHeaderBuffers: true, connectionPoolSize: true, requestPoolSize: true, ignoreInvalidHeaders: true, mergeSlashes: true, underscoresInHeaders: true, http2MaxConcurrentStreams: true }),
  loc: keys<LocationSettings>()({ root: true, index: true, tryFiles: true, autoindex: true, autoindexExactSize: true, autoindexFormat: true, autoindexLocaltime: true, types: true, defaultType: true, typesHashMaxSize: true, typesHashBucketSize: true, internal: true, disableSymlinks: true, openFileCache: true, openFileCacheValidSec: true, openFileCacheMinUses: true, openFileCacheErrors: true, openFileCacheEvents: true, clientMaxBodySize: true, clientBodyBufferSize: true, clientBodyTimeoutMs: true, clientBodyTempPath: true, clientBodyInFileOnly: true, clientBodyInSingleBuffer: true, sendfile: true, sendfileMaxChunk: true, subrequestOutputBufferSize: true, aio: true, aioWrite: true, readAhead: true, directio: true, directioAlignment: true, tcpNopush: true, tcpNodelay: true, sendTimeoutMs: true, sendLowat: true, postponeOutput: true, limitRate: true, limitRateAfter: true, maxRanges: true, chunkedTransferEncoding: true, keepaliveTimeMs: true, keepaliveTimeoutMs: true, keepaliveHeaderSec: true, keepaliveRequests: true, keepaliveDisable: true, lingeringClose: true, lingeringTimeMs: true, lingeringTimeoutMs: true, resetTimedoutConnection: true, absoluteRedirect: true, serverNameInRedirect: true, portInRedirect: true, msiePadding: true, msieRefresh: true, serverTokens: true, ifModifiedSince: true, etag: true, errorPages: true, recursiveErrorPages: true, postAction: true, expires: true, addHeaders: true, addTrailers: true, charset: true, sourceCharset: true, overrideCharset: true, charsetTypes: true, gzip: true, gzipTypes: true, gzipCompLevel: true, gzipMinLength: true, gzipBuffers: true, gzipWindow: true, gzipHash: true, gzipNoBuffer: true, gzipVary: true, gzipHttpVersion: true, gzipProxied: true, gzipDisable: true, gzipStatic: true, rewrite: true, rewriteLog: true, uninitializedVariableWarn: true, access: true, satisfy: true, authDelayMs: true, authBasic: true, authBasicUserFile: true, limitReq: true, limitReqStatus: true, limitReqLogLevel: true, limitReqDryRun: true, limitConn: true, limitConnStatus: true, limitConnLogLevel: true, limitConnDryRun: true, realIpFrom: true, realIpHeader: true, realIpRecursive: true, accessLog: true, openLogFileCache: true, errorLog: true, logNotFound: true, logSubrequest: true, stubStatus: true, resolver: true, resolverTimeoutMs: true, http2PushPreload: true }),
  proxy: keys<ProxySettings>()({ pass: true, bind: true, socketKeepalive: true, connectTimeoutMs: true, sendTimeoutMs: true, readTimeoutMs: true, buffering: true, requestBuffering: true, bufferSize: true, buffers: true, busyBuffersSize: true, tempPath: true, maxTempFileSize: true, tempFileWriteSize: true, nextUpstream: true, nextUpstreamTries: true, nextUpstreamTimeoutMs: true, passHeaders: true, hideHeaders: true, ignoreHeaders: true, interceptErrors: true, passRequestHeaders: true, passRequestBody: true, ignoreClientAbort: true, limitRate: true, forceRanges: true, store: true, storeAccess: true, cache: true, cacheKey: true, cacheValid: true, setHeaders: true, httpVersion: true, redirect: true, setBody: true, method: true, cookieDomain: true, cookiePath: true, headersHashMaxSize: true, headersHashBucketSize: true, sendLowat: true }),
  uwsgi: keys<UwsgiSettings>()({ pass: true, bind: true, socketKeepalive: true, connectTimeoutMs: true, sendTimeoutMs: true, readTimeoutMs: true, buffering: true, requestBuffering: true, bufferSize: true, buffers: true, busyBuffersSize: true, tempPath: true, maxTempFileSize: true, tempFileWriteSize: true, nextUpstream: true, nextUpstreamTries: true, nextUpstreamTimeoutMs: true, passHeaders: true, hideHeaders: true, ignoreHeaders: true, interceptErrors: true, passRequestHeaders: true, passRequestBody: true, ignoreClientAbort: true, limitRate: true, forceRanges: true, store: true, storeAccess: true, cache: true, cacheKey: true, cacheValid: true, params: true, modifier1: true, modifier2: true, string: true }),
  fastcgi: keys<FastcgiSettings>()({ pass: true, bind: true, socketKeepalive: true, connectTimeoutMs: true, sendTimeoutMs: true, readTimeoutMs: true, buffering: true, requestBuffering: true, bufferSize: true, buffers: true, busyBuffersSize: true, tempPath: true, maxTempFileSize: true, tempFileWriteSize: true, nextUpstream: true, nextUpstreamTries: true, nextUpstreamTimeoutMs: true, passHeaders: true, hideHeaders: true, ignoreHeaders: true, interceptErrors: true, passRequestHeaders: true, passRequestBody: true, ignoreClientAbort: true, limitRate: true, forceRanges: true, store: true, storeAccess: true, cache: true, cacheKey: true, cacheValid: true, params: true, index: true, splitPathInfo: true, keepConn: true, catchStderr: true, sendLowat: true }),
  scgi: keys<ScgiSettings>()({ pass: true, bind: true, socketKeepalive: true, connectTimeoutMs: true, sendTimeoutMs: true, readTimeoutMs: true, buffering: true, requestBuffering: true, bufferSize: true, buffers: true, busyBuffersSize: true, tempPath: true, maxTempFileSize: true, tempFileWriteSize: true, nextUpstream: true, nextUpstreamTries: true, nextUpstreamTimeoutMs: true, passHeaders: true, hideHeaders: true, ignoreHeaders: true, interceptErrors: true, passRequestHeaders: true, passRequestBody: true, ignoreClientAbort: true, limitRate: true, forceRanges: true, store: true, storeAccess: true, cache: true, cacheKey: true, cacheValid: true, params: true }),
  ups: keys<UpstreamSettings>()({ servers: true, balancer: true, keepalive: true, keepaliveRequests: true, keepaliveTimeMs: true, keepaliveTimeoutMs: true, zone: true }),
};

describe('directive table vs the typed configuration', () => {
  for (const [level, fields] of Object.entries(FIELDS)) {
    it(`every field of the "${level}" settings is declared once, with one default and merge rule`, () => {
      const slots = SLOTS_BY_LEVEL.get(level as Level) ?? [];
      assert.deepEqual(slots.map((s) => s.field).sort(), fields);
      const env = { prefix: '/p/', confPrefix: '/c/', isRoot: false };
      const value = (d: unknown) => (typeof d === 'function' ? d(env) : d);
      for (const spec of DIRECTIVES) {
        for (const slot of spec.slots.filter((s) => s.level === level)) {
          const first = slots.find((s) => s.field === slot.field)!;
          assert.deepEqual(value(slot.default), value(first.default), `${spec.name}: default of ${slot.field}`);
          assert.equal(slot.merge, first.merge, `${spec.name}: merge of ${slot.field}`);
        }
      }
    });
  }

  it('generates the reference from the table', () => {
    const reference = directiveReference();
    assert.equal(reference.split('\n').filter((line) => line.startsWith('| `')).length, DIRECTIVES.length);
    assert.match(reference, /\| `client_max_body_size` \| TAKE1 \| 1048576 \| http, server, location \|/);
    assert.match(reference, /\| `location` \| TAKE12 \{\.\.\.\} \| - \| server, location \|/);
  });

  it('counts the directives', () => {
    assert.equal(DIRECTIVES_BY_NAME.size, 340);
    assert.equal(DIRECTIVES.length, 345);
  });
});
