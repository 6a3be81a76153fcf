/**
 * Generates docs/options.md from the option table, so the docs cannot drift from the parser:
 * `node --import tsx scripts/gen-docs.ts` rewrites it; test/docs.test.ts fails when it is stale.
 * The preface is written here by hand; its example error messages are produced by running the
 * loader, so they are always the messages tsgi prints.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { groupBySection, type OptionSpec } from '../src/cli/options.js';
import { SERVE_OPTIONS } from '../src/appserver/options.js';
import { loadOptions } from '../src/appserver/config/load.js';

/** The message tsgi prints for a config, loaded from in-memory files under /etc/tsgi. */
function errorFor(argv: string[], files: Record<string, string>): string {
  try {
    loadOptions(SERVE_OPTIONS, argv, {
      env: {},
      cwd: '/etc/tsgi',
      readFile: (path) => {
        const text = files[path];
        if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
        return text;
      },
    });
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'none';
    return `tsgi: ${error instanceof Error ? error.message : String(error)}   [${code}]`;
  }
  throw new Error(`gen-docs: ${argv.join(' ')} was expected to fail`);
}

function errorExamples(): string {
  return [
    errorFor(['--ini', 'site.ini'], { '/etc/tsgi/site.ini': '[uwsgi]\nhttp-socket = :8000\nlisne = 1024\n' }),
    errorFor(['--ini', 'site.ini'], { '/etc/tsgi/site.ini': '[uwsgi]\nhttp-socket = :8000\n\n; queue\nlisten = lots\n' }),
    errorFor(['--ini', 'site.ini'], { '/etc/tsgi/site.ini': '[uwsgi]\nhttp-socket = :8000\noffload-threads = 2\n' }),
    errorFor(['--ini', 'site.ini'], { '/etc/tsgi/site.ini': '[uwsgi]\nhttp-socket = :8000\nxml = %dextra.xml\n' }),
    errorFor(['--xml', 'site.xml'], { '/etc/tsgi/site.xml': '<uwsgi>\n  <listen>64</listen>\n  <app>app.ts</ap>\n</uwsgi>\n' }),
    errorFor(['--ini', 'a.ini'], { '/etc/tsgi/a.ini': '[uwsgi]\nini = b.ini\n', '/etc/tsgi/b.ini': '[uwsgi]\nini = a.ini\n' }),
    errorFor(['--lisen', '64'], {}),
  ].join('\n');
}

const PREFACE = `# \`tsgi serve\` options

\`tsgi serve\` reads uWSGI's option names, on the command line and in uWSGI's config files (ini,
xml, json, yaml), so that \`uwsgi --ini site.ini\` becomes \`tsgi serve --ini site.ini\`. The tables
at the end list every option tsgi knows. An option uWSGI has and tsgi does not (yet) is refused
with an error naming the file and line, never dropped in silence; a few that mean nothing in tsgi
are accepted and ignored, with the reason. How the server behaves is in [serve.md](serve.md).

## On the command line

\`\`\`sh
tsgi serve --http-socket :8000 --app app.ts
tsgi serve --http-socket=:8000 -l 1024 --app=app.ts
tsgi --http-socket :8000 --http-socket /run/app.sock --app app.ts   # options only: "tsgi serve"
\`\`\`

- \`--name value\` or \`--name=value\`; \`-l 1024\` where the table gives a short form.
- A boolean is given bare (\`--enable-threads\`) or as \`--name=VALUE\` with true, 1, yes, on, y or
  false, 0, no, off, n.
- A *repeatable* option collects every value, in order. For any other option the last value wins.
- \`--\` ends the options.

## Config files

| format | load with | options are read from | with \`:NAME\` |
|---|---|---|---|
| ini | \`--ini FILE[:NAME]\` | the \`[uwsgi]\` and \`[tsgi]\` sections | the \`[NAME]\` section |
| xml | \`--xml FILE[:NAME]\`, \`-x\` | the root \`<uwsgi>\` (or \`<tsgi>\`), else the first \`<uwsgi>\` inside the root | the \`<uwsgi id="NAME">\` element |
| json | \`--json FILE[:NAME]\`, \`-j\` | the \`"uwsgi"\` and \`"tsgi"\` objects | the \`"NAME"\` object |
| yaml | \`--yaml FILE[:NAME]\`, \`-y\` | the \`uwsgi:\` and \`tsgi:\` mappings | the \`NAME:\` mapping |

\`--include FILE[:NAME]\` reads a file in the format its extension names (.ini, .xml, .json, .yaml,
.yml), and so does a bare argument with one of those extensions: \`tsgi serve site.ini\`. Every
loading option may be repeated, and a file may load others (\`ini = other.ini\` inside it).

The same configuration in the four formats:

\`\`\`ini
[uwsgi]
; a comment: ; or # at the start of a line
http-socket = :8000
http-socket = /run/app.sock
app = %dapp.ts
enable-threads
\`\`\`

\`\`\`xml
<uwsgi>
  <http-socket>:8000</http-socket>
  <http-socket>/run/app.sock</http-socket>
  <app>%dapp.ts</app>
  <enable-threads/>
</uwsgi>
\`\`\`

\`\`\`json
{"uwsgi": {"http-socket": [":8000", "/run/app.sock"], "app": "%dapp.ts", "enable-threads": true}}
\`\`\`

\`\`\`yaml
uwsgi:
  http-socket:
    - ":8000"
    - /run/app.sock
  app: "%dapp.ts"
  enable-threads: true
\`\`\`

- **ini** (uWSGI's core/ini.c): each line is trimmed; \`;\` and \`#\` start a comment only at the
  start of a line, so \`listen = 64 ; queue\` has the value \`64 ; queue\`; the first \`=\` splits
  key from value; a key alone (\`enable-threads\`) has an empty value, which a boolean reads as true;
  a key may repeat. A \`[section]\` header must be alone on its line.
- **xml** (core/xmlconf.c): each child element is an option; an empty one (\`<enable-threads/>\`)
  has the value 1; values are trimmed and entities decoded; \`<app mountpoint="/x">f</app>\` is
  uWSGI's shorthand for \`mount = /x=f\` (a plain \`<app>f</app>\` is tsgi's \`app\` option); with
  \`:NAME\`, child elements whose \`id\` differs are skipped.
- **json** (core/json.c): a string is taken as is, \`true\` is 1, \`false\` and \`null\` are 0, a
  number is its decimal text, an array gives one value per item.
- **yaml** (core/yaml.c): plain, 'single' or "double" quoted values; a key may repeat (as in
  uWSGI's own example), and a block (\`- item\`) or flow (\`[a, b]\`) list gives one value per item;
  \`#\` after a blank starts a comment. Nested mappings, \`|\` and \`>\` blocks, anchors and tags are
  errors.

A relative path (of a config file, or in \`@(file)\`) is relative to the working directory, not to
the file that names it, as in uWSGI. To name a file next to the current one, write \`%d\`:
\`ini = %dbase.ini\`.

## Order and precedence

uWSGI's rule is "top-bottom and expand asap", and tsgi follows it exactly:

1. The command line is read left to right. A loading option (\`--ini\`, \`--xml\`, \`--json\`,
   \`--yaml\`, \`--include\`) reads its file at once, and the file's options take the place of the
   flag. Inside a file, \`ini = other.ini\` (or \`xml =\`, ...) does the same.
2. Bare config-file arguments are read after all the options, wherever they stand: uWSGI's getopt
   moves them to the end, so \`tsgi serve site.ini --listen 64\` means
   \`tsgi serve --listen 64 --ini site.ini\`.
3. In the resulting list, the last value of a single-valued option wins; a repeatable option keeps
   every value in list order.

With \`base.ini\` holding \`listen = 1024\` and \`http-socket = :8000\`, and \`site.ini\`:

\`\`\`ini
[uwsgi]
http-socket = :9000
ini = %dbase.ini
listen = 128
\`\`\`

\`tsgi serve --listen 64 --ini site.ini --http-keepalive 5\` is read as \`--listen 64\`,
\`http-socket = :9000\`, \`listen = 1024\`, \`http-socket = :8000\`, \`listen = 128\`,
\`--http-keepalive 5\`: it listens on :9000 and :8000 with a queue of 128. To let the command line
override a file, put the option after the \`--ini\`. Options are not read from the environment
(uWSGI's \`UWSGI_LISTEN=...\` variables are not supported); use \`$(VAR)\` in a value instead.

## Placeholders and magic variables

**Magic variables** are \`%\` and one character in a value read from a config file; they describe
that file, even when it was included from another. They are expanded as the file is read, and are
not expanded on the command line. For \`/srv/site/conf/app.ini\` loaded as \`--ini conf/app.ini\`
from \`/srv/site\`:

| variable | meaning | here |
|---|---|---|
| \`%d\` | the directory of the file, with a trailing slash | \`/srv/site/conf/\` |
| \`%p\` | the absolute path of the file | \`/srv/site/conf/app.ini\` |
| \`%s\` | the file name | \`app.ini\` |
| \`%n\` | the file name without its extension | \`app\` |
| \`%e\` | the extension | \`ini\` |
| \`%c\` | the name of the directory of the file | \`conf\` |
| \`%o\` | the path as it was given | \`conf/app.ini\` |
| \`%x\` | the path as given, a colon, and the section read | \`conf/app.ini:uwsgi\` |
| \`%0\`...\`%9\` | the components of the directory | \`%0\` = \`srv\`, \`%2\` = \`conf\` |
| \`%D %P %S %N %E %C %O %X\` | the same for the first config file read | |
| \`%v\` | the working directory | \`/srv/site\` |
| \`%h\` \`%k\` | the host name; the number of CPUs | |
| \`%u\` \`%U\` \`%g\` \`%G\` | user id, user name, group id, group id again (no group names) | |
| \`%t\` \`%T\` | the start time in seconds; in microseconds | |
| \`%V\` | tsgi's version | |
| \`%[\` | the ESC character, for colours | |
| \`%%\` | a literal \`%\` | |

Any other \`%\` followed by a character is an error: write \`%%\` for a percent sign.

Once every file is read, three passes run over every value in list order, command line included:

1. \`$(NAME)\` is the environment variable NAME; \`$(NAME:-default)\` gives \`default\` when NAME is
   unset or empty, \`$(NAME-default)\` only when it is unset.
2. \`@(path)\` is the content of a file, without its final newline: \`app = @(/etc/tsgi/app-path)\`.
3. \`%(name)\` is the **first** value given for the option or placeholder \`name\` anywhere in the
   list (uWSGI's rule), by name or alias. With spaces it is uWSGI's placeholder math, applied left
   to right with no precedence: \`%(workers * 2 + 1)\` with \`workers = 4\` is 9, \`%(port ++)\`
   adds one, and two names with no operator are joined: \`%(a b)\`.

A \`$(...)\` or \`%(...)\` that names nothing is left as written (uWSGI does the same: log formats
such as \`%(method)\` and shell commands such as \`$(date)\` depend on it). An \`@(file)\` that
cannot be read is an error, and so is a placeholder that never stops expanding (\`a = %(a)x\`). The path of a file to load is expanded when the
loading option is met, against the values read so far: \`ini = $(CONF_DIR)/site.ini\` works.

**Placeholders** are names that are not options. Define one with \`set-placeholder = name=value\`
(or \`set-ph\`), or, in a file, as a plain \`name = value\` that some \`%(name)\` uses:

\`\`\`ini
[uwsgi]
project = shop
base = /srv/%(project)
http-socket = %(base)/app.sock
app = %(base)/app.ts
\`\`\`

uWSGI accepts any unknown key in a file as a placeholder; tsgi accepts it only when a \`%(name)\`
uses it, so that a misspelt option is an error instead of a setting that quietly does nothing.

## Error messages

Every error names the option or file at fault and ends with where it was written: \`in FILE:LINE\`
or \`on the command line\`. Command-line mistakes exit with status 2, config errors with status 1.
These are real messages (the code in brackets is the error's stable \`code\`):

\`\`\`
${'%ERRORS%'}
\`\`\`

## Differences from uWSGI

Each of these turns something uWSGI does silently into an error, or adds a convenience:

- An unknown key in a file is an error unless a \`%(name)\` uses it (see Placeholders).
- A missing section is an error (uWSGI logs a warning and loads nothing), and so is a \`[section]\`
  header with text after it (uWSGI would read the rest of the line as part of the section name).
- An unknown magic variable (\`%z\`) is an error (uWSGI deletes it), and so is an \`@(file)\` that
  cannot be read (uWSGI logs it and inserts nothing).
- A boolean must be one of the words above (uWSGI reads any other word as true).
- In json, a nested object is an error (uWSGI skips it), and a key written twice counts twice.
- xml values are trimmed, and a plain \`<app>\` element is tsgi's \`app\` option.
- The path of a file to load may use \`$(VAR)\`, \`@(file)\` and \`%(name)\`, and \`%(name)\` also
  finds an option given under one of its aliases (\`%(workers)\` for \`processes\`).
- A placeholder loop is an error (uWSGI loops forever), and so is a config file that includes
  itself.
- Not supported: options from \`UWSGI_*\` environment variables, \`inherit\`, \`set\`, the
  \`for\`/\`if-*\` config logic, and config sources other than files (\`http://\`, \`exec://\`,
  \`fd://\`, \`-\` for stdin).

## Options

Options marked **ignored** are accepted so that uWSGI configs load unchanged; they have no effect.
`;

function optionRow(spec: OptionSpec): string {
  const value = spec.type === 'boolean' ? '' : ` ${spec.metavar ?? spec.type.toUpperCase()}`;
  const names = [`--${spec.name}`, ...(spec.aliases ?? []).map((alias) => `--${alias}`), ...(spec.short ? [`-${spec.short}`] : [])].map(
    (name) => `${name}${value}`,
  );
  const notes = [spec.choices ? `one of ${spec.choices.map((c) => `\`${c}\``).join(', ')}` : '', spec.repeatable ? 'repeatable' : ''].filter(Boolean);
  // Help text is plain text for --help; in markdown a bare <uwsgi> would be read as an html tag.
  const escape = (text: string): string => text.replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  const meaning =
    spec.status === 'ignored'
      ? `**ignored**: ${escape(spec.ignoredReason ?? '')}. (In uWSGI: ${escape(spec.help)}.)`
      : `${escape(spec.help)}${notes.length ? ` (${notes.join('; ')})` : ''}`;
  const defaultText = spec.default === undefined ? '' : `\`${String(spec.default)}\``;
  return `| ${names.map((name) => `\`${name}\``).join('<br>')} | ${meaning} | ${defaultText} |`;
}

export function optionsPage(table: readonly OptionSpec[]): string {
  const sections = groupBySection(table).map(
    ({ section, options }) => `### ${section}\n\n| option | meaning | default |\n|---|---|---|\n${options.map(optionRow).join('\n')}\n`,
  );
  const preface = PREFACE.replace('%ERRORS%', errorExamples());
  return `<!-- generated by scripts/gen-docs.ts from the option table (src/appserver/options.ts); do not edit by hand -->\n${preface}\n${sections.join('\n')}`;
}

export const GENERATED: Record<string, () => string> = {
  'docs/options.md': () => optionsPage(SERVE_OPTIONS),
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [path, render] of Object.entries(GENERATED)) {
    writeFileSync(new URL(`../${path}`, import.meta.url), render());
    console.log(`wrote ${path}`);
  }
}
