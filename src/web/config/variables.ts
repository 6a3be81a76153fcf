/**
 * Variables in configuration values (`$host`, `${arg_id}`, `$1`), as nginx's script compiler
 * (`ngx_http_script_compile`) reads them, and the names nginx 1.22 (Debian's build) knows.
 *
 * nginx checks every variable a configuration mentions once the `http {}` block is read, and stops
 * with `unknown "x" variable` (no file position) for a name that is neither built in, nor made by
 * `set` or `map`, nor a named capture of a regex. Names are case-insensitive.
 */

/** The variables nginx 1.22 defines (verified one by one against /usr/sbin/nginx -t). */
export const BUILTIN_VARIABLES: ReadonlySet<string> = new Set([
  'ancient_browser', 'args', 'binary_remote_addr', 'body_bytes_sent', 'bytes_sent', 'connection',
  'connection_requests', 'connection_time', 'connections_active', 'connections_reading', 'connections_waiting',
  'connections_writing', 'content_length', 'content_type', 'date_gmt', 'date_local', 'document_root',
  'document_uri', 'fastcgi_path_info', 'fastcgi_script_name', 'gzip_ratio', 'host', 'hostname', 'http2',
  'https', 'invalid_referer', 'is_args', 'limit_conn_status', 'limit_rate', 'limit_req_status',
  'modern_browser', 'msec', 'msie', 'nginx_version', 'pid', 'pipe', 'proxy_add_x_forwarded_for',
  'proxy_host', 'proxy_port', 'proxy_protocol_addr', 'proxy_protocol_port', 'proxy_protocol_server_addr',
  'proxy_protocol_server_port', 'query_string', 'realip_remote_addr', 'realip_remote_port', 'realpath_root',
  'remote_addr', 'remote_port', 'remote_user', 'request', 'request_body', 'request_body_file',
  'request_completion', 'request_filename', 'request_id', 'request_length', 'request_method', 'request_time',
  'request_uri', 'scheme', 'secure_link', 'secure_link_expires', 'server_addr', 'server_name', 'server_port',
  'server_protocol', 'slice_range', 'ssl_alpn_protocol', 'ssl_cipher', 'ssl_ciphers', 'ssl_client_cert',
  'ssl_client_escaped_cert', 'ssl_client_fingerprint', 'ssl_client_i_dn', 'ssl_client_i_dn_legacy',
  'ssl_client_raw_cert', 'ssl_client_s_dn', 'ssl_client_s_dn_legacy', 'ssl_client_serial', 'ssl_client_v_end',
  'ssl_client_v_remain', 'ssl_client_v_start', 'ssl_client_verify', 'ssl_curve', 'ssl_curves',
  'ssl_early_data', 'ssl_protocol', 'ssl_server_name', 'ssl_session_id', 'ssl_session_reused', 'status',
  'tcpinfo_rtt', 'tcpinfo_rttvar', 'tcpinfo_snd_cwnd', 'tcpinfo_rcv_space', 'time_iso8601', 'time_local',
  'uid_got', 'uid_reset', 'uid_set', 'upstream_addr', 'upstream_bytes_received', 'upstream_bytes_sent',
  'upstream_cache_status', 'upstream_connect_time', 'upstream_header_time', 'upstream_response_length',
  'upstream_response_time', 'upstream_status', 'uri',
]);

/** Families of variables named by a prefix: `$http_user_agent`, `$arg_id`... */
export const VARIABLE_PREFIXES: readonly string[] = [
  'http_', 'sent_http_', 'sent_trailer_', 'cookie_', 'arg_', 'upstream_http_', 'upstream_trailer_', 'upstream_cookie_',
];

/** Built-in variables that `set` may assign (the others are `the duplicate "x" variable`). */
export const CHANGEABLE_VARIABLES: ReadonlySet<string> = new Set([
  'ancient_browser', 'args', 'invalid_referer', 'limit_rate', 'modern_browser', 'msie', 'proxy_host', 'proxy_port',
]);

export function isBuiltinVariable(name: string): boolean {
  const lower = name.toLowerCase();
  return BUILTIN_VARIABLES.has(lower) || VARIABLE_PREFIXES.some((p) => lower.startsWith(p));
}

/** Whether `set $name` may assign a built-in variable. */
export function isChangeable(name: string): boolean {
  const lower = name.toLowerCase();
  return !BUILTIN_VARIABLES.has(lower) || CHANGEABLE_VARIABLES.has(lower) || lower.startsWith('ssl_');
}

/** `ngx_http_script_variables_count`: nginx compiles a value as a template when it has a `$`. */
export function hasVariables(value: string): boolean {
  return value.includes('$');
}

const NAME_CHAR = /[A-Za-z0-9_]/;

/**
 * The variables a template refers to, in order (captures `$1`..`$9` are not variables), or the
 * error nginx's script compiler reports for it.
 */
export function templateVariables(value: string): { names: string[] } | { error: string } {
  const names: string[] = [];
  let i = 0;
  while (i < value.length) {
    if (value[i] !== '$') {
      i += 1;
      continue;
    }
    i += 1;
    if (i === value.length) return { error: 'invalid variable name' };
    const first = value[i]!;
    if (first >= '1' && first <= '9') {
      i += 1;
      continue;
    }
    let bracket = false;
    if (first === '{') {
      bracket = true;
      i += 1;
      if (i === value.length) return { error: 'invalid variable name' };
    }
    const start = i;
    let end = i;
    while (i < value.length) {
      const ch = value[i]!;
      if (ch === '}' && bracket) {
        end = i;
        i += 1;
        bracket = false;
        break;
      }
      if (!NAME_CHAR.test(ch)) break;
      i += 1;
      end = i;
    }
    if (bracket) return { error: `the closing bracket in "${value.slice(start, i)}" variable is missing` };
    const name = value.slice(start, end);
    if (name.length === 0) return { error: 'invalid variable name' };
    names.push(name);
  }
  return { names };
}

/** Named captures of a PCRE pattern (`(?<name>`, `(?P<name>`, `(?'name'`): they become variables. */
export function namedCaptures(pattern: string): string[] {
  const names: string[] = [];
  const re = /\(\?(?:P?<([A-Za-z_][A-Za-z0-9_]*)>|'([A-Za-z_][A-Za-z0-9_]*)')/g;
  for (const match of pattern.matchAll(re)) names.push(match[1] ?? match[2]!);
  return names;
}
