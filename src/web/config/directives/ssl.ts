/**
 * ngx_http_ssl_module and ngx_http_v2_module settings. tsgi does not terminate TLS or speak HTTP/2
 * yet: these are read, checked and stored so that configurations using them load, and the
 * listener layer can refuse `listen ... ssl` with a clear message.
 */
import { HTTP_SRV, HTTP_SRV_LOC, FLAG, ONE_OR_MORE, TAKE1, TAKE12, slot, type DirectiveSpec } from './spec.js';
import { addStr, allArgs, arg, setBitmask, setEnum, setFlag, setNum, setSec, setSize, setStr } from './setters.js';

const PROTOCOLS = ['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;

export const SSL_DIRECTIVES: readonly DirectiveSpec[] = [
  slot('ssl', HTTP_SRV, FLAG, 'srv', 'ssl', setFlag, { default: false, help: 'obsolete: use "listen ... ssl"' }),
  slot('ssl_certificate', HTTP_SRV, TAKE1, 'srv', 'certificates', addStr, { default: [], accumulate: true, help: 'certificate file' }),
  slot('ssl_certificate_key', HTTP_SRV, TAKE1, 'srv', 'certificateKeys', addStr, { default: [], accumulate: true, help: 'private key file' }),
  slot('ssl_protocols', HTTP_SRV, ONE_OR_MORE, 'srv', 'protocols', setBitmask(PROTOCOLS), {
    default: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'],
    accumulate: true,
    help: 'enabled protocols',
  }),
  slot('ssl_ciphers', HTTP_SRV, TAKE1, 'srv', 'ciphers', setStr, { default: 'HIGH:!aNULL:!MD5', help: 'OpenSSL cipher list' }),
  slot('ssl_prefer_server_ciphers', HTTP_SRV, FLAG, 'srv', 'preferServerCiphers', setFlag, { default: false, help: 'server cipher order' }),
  slot('ssl_session_cache', HTTP_SRV, TAKE12, 'srv', 'sessionCache', allArgs, { default: ['none'], help: 'session cache' }),
  slot('ssl_session_timeout', HTTP_SRV, TAKE1, 'srv', 'sessionTimeoutSec', setSec, { default: 300, help: 'session reuse time' }),
  slot('ssl_session_tickets', HTTP_SRV, FLAG, 'srv', 'sessionTickets', setFlag, { default: true, help: 'TLS session tickets' }),
  slot('ssl_dhparam', HTTP_SRV, TAKE1, 'srv', 'dhparam', (d) => arg(d), { default: null, help: 'DH parameters file' }),
  slot('ssl_trusted_certificate', HTTP_SRV, TAKE1, 'srv', 'trustedCertificate', (d) => arg(d), { default: null, help: 'CA certificates for stapling' }),
  slot('ssl_client_certificate', HTTP_SRV, TAKE1, 'srv', 'clientCertificate', (d) => arg(d), { default: null, help: 'CA certificates for clients' }),
  slot('ssl_verify_client', HTTP_SRV, TAKE1, 'srv', 'verifyClient', setEnum(['off', 'on', 'optional', 'optional_no_ca']), {
    default: 'off',
    help: 'client certificate verification',
  }),
  slot('ssl_stapling', HTTP_SRV, FLAG, 'srv', 'stapling', setFlag, { default: false, help: 'OCSP stapling' }),
  slot('ssl_stapling_verify', HTTP_SRV, FLAG, 'srv', 'staplingVerify', setFlag, { default: false, help: 'verify OCSP responses' }),
  slot('ssl_ecdh_curve', HTTP_SRV, TAKE1, 'srv', 'ecdhCurve', setStr, { default: 'auto', help: 'ECDH curves' }),
  slot('ssl_password_file', HTTP_SRV, TAKE1, 'srv', 'passwordFile', (d) => arg(d), { default: null, help: 'key passphrases' }),
  slot('ssl_buffer_size', HTTP_SRV, TAKE1, 'srv', 'bufferSize', setSize, { default: 16 * 1024, help: 'TLS record buffer' }),
  slot('ssl_early_data', HTTP_SRV, FLAG, 'srv', 'earlyData', setFlag, { default: false, help: 'TLS 1.3 early data' }),
  slot('http2_max_concurrent_streams', HTTP_SRV, TAKE1, 'srv', 'http2MaxConcurrentStreams', setNum, { default: 128, help: 'HTTP/2 streams per connection' }),
  slot('http2_push_preload', HTTP_SRV_LOC, FLAG, 'loc', 'http2PushPreload', setFlag, { default: false, help: 'HTTP/2 push from Link headers' }),
];
