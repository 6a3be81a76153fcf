/**
 * Names of uWSGI options that tsgi's table does not have (yet), so that an "unknown option" error
 * can tell a uWSGI user "uWSGI has it, tsgi does not support it yet" instead of suggesting a typo.
 * Only names, taken from `uwsgi_base_options` (core/uwsgi.c) and the python plugin's options; no
 * behaviour or defaults live here. Names that enter the option table can stay: the table wins.
 */
export const UWSGI_OPTION_NAMES: ReadonlySet<string> = new Set([
  // core/uwsgi.c, uwsgi_base_options (the ones deployments use)
  'socket', 'uwsgi-socket', 'http-socket', 'http11-socket', 'https-socket', 'fastcgi-socket', 'scgi-socket',
  'raw-socket', 'shared-socket', 'protocol', 'socket-protocol', 'processes', 'workers', 'thunder-lock',
  'harakiri', 'harakiri-verbose', 'config', 'strict', 'set', 'inherit', 'daemonize', 'daemonize2', 'stop',
  'reload', 'pause', 'suspend', 'resume', 'listen', 'max-vars', 'max-apps', 'buffer-size', 'memory-report',
  'profiler', 'cgi-mode', 'abstract-socket', 'chmod-socket', 'chmod', 'chown-socket', 'umask', 'freebind',
  'map-socket', 'enable-threads', 'no-threads-wait', 'auto-procname', 'procname-prefix', 'procname-prefix-spaced',
  'procname-append', 'procname', 'procname-master', 'single-interpreter', 'need-app', 'master', 'honour-stdin',
  'emperor', 'reload-mercy', 'worker-reload-mercy', 'exit-on-reload', 'die-on-term', 'force-gateway', 'help',
  'usage', 'reaper', 'max-requests', 'max-requests-delta', 'min-worker-lifetime', 'max-worker-lifetime',
  'socket-timeout', 'no-fd-passing', 'locks', 'lock-engine', 'ftok', 'persistent-ipcsem', 'safe-fd',
  'cache', 'cache2', 'spooler', 'mule', 'signal', 'disable-logging', 'log-date', 'logdate', 'log-format',
  'logformat', 'logformat-strftime', 'log-x-forwarded-for', 'log-master', 'log-reopen', 'logto', 'logto2',
  'log-maxsize', 'log-backupname', 'logfile-chown', 'logfile-chmod', 'req-logger', 'logger', 'threaded-logger',
  'pidfile', 'pidfile2', 'chroot', 'uid', 'gid', 'add-gid', 'immediate-uid', 'immediate-gid', 'cap', 'unshare',
  'exec-pre-jail', 'exec-as-root', 'exec-as-user', 'exec-pre-app', 'exec-post-app', 'hook-pre-app', 'hook-post-app',
  'touch-reload', 'touch-chain-reload', 'touch-workers-reload', 'touch-logrotate', 'touch-logreopen', 'fs-reload',
  'propagate-touch', 'limit-as', 'limit-nproc', 'reload-on-as', 'reload-on-rss', 'evil-reload-on-as',
  'evil-reload-on-rss', 'mem-collector-freq', 'limit-post', 'no-orphans', 'prio', 'cpu-affinity', 'post-buffering',
  'post-buffering-bufsize', 'body-read-warning', 'upload-progress', 'no-default-app', 'manage-script-name',
  'ignore-script-name', 'catch-exceptions', 'reload-on-exception', 'udp', 'stats', 'stats-server', 'stats-http',
  'stats-minified', 'stats-push', 'multicast', 'cluster', 'subscribe-to', 'subscribe2', 'vacuum', 'cheaper',
  'cheaper-initial', 'cheaper-algo', 'cheaper-step', 'cheaper-overload', 'cheaper-rss-limit-soft',
  'cheaper-rss-limit-hard', 'idle', 'die-on-idle', 'mount', 'worker-mount', 'threads', 'thread-stacksize',
  'vhost', 'vhost-host', 'route', 'route-host', 'route-uri', 'add-header', 'check-static', 'static-map',
  'static-map2', 'static-skip-ext', 'static-index', 'static-expires', 'offload-threads', 'file-serve-mode',
  'check-cache', 'close-on-exec', 'mode', 'env', 'unenv', 'lazy', 'lazy-apps', 'cheap', 'chdir',
  'chdir2', 'http', 'http-to', 'http-timeout', 'http-keepalive', 'http-auto-chunked', 'http-websockets',
  'http-processes', 'http-workers', 'https', 'route-run', 'hook-accepting', 'log-5xx', 'log-4xx', 'log-slow',
  'log-big', 'log-sendfile', 'log-micros', 'ignore-sigpipe', 'ignore-write-errors', 'disable-write-exception',
  'wsgi-disable-file-wrapper', 'attach-daemon', 'smart-attach-daemon', 'plugins-dir', 'plugin-dir', 'autoload',
  'dlopen', 'allowed-modifiers', 'remap-modifier', 'dump-options', 'show-config', 'binary-path', 'print',
  'version', 'enable-metrics', 'metrics-dir', 'carbon', 'master-fifo', 'skip-atexit', 'emperor-tyrant',
  // plugins/python (the options WSGI deployments use)
  'wsgi-file', 'file', 'module', 'wsgi', 'callable', 'pythonpath', 'python-path', 'pp', 'virtualenv', 'venv',
  'home', 'pyhome', 'py-programname', 'pyargv', 'optimize', 'pecan', 'paste', 'paste-logger', 'web3', 'pump',
  'wsgi-env-behaviour', 'py-tracebacker', 'py-auto-reload', 'py-autoreload', 'python-autoreload',
  'py-auto-reload-ignore', 'import', 'pyimport', 'py-import', 'python-import', 'shared-import', 'spooler-import',
  'pymodule-alias', 'eval', 'wsgi-strict', 'wsgi-accept-buffer', 'py-sharedarea', 'py-call-osafterfork',
  'py-executable', 'python-worker-override', 'no-site',
]);
