// Generator for tests/redirect-corpus/corpus.tsv, the open-redirect corpus checked by
// tests/integration/redirect_corpus.rs against `AllowList::check`.
//
//   node tests/redirect-corpus/gen_corpus.mjs          # rewrite corpus.tsv
//   node tests/redirect-corpus/gen_corpus.mjs --check  # cross-check every verdict with an
//                                                      # independent oracle (node's WHATWG
//                                                      # `URL` + the rules below); no write
//
// Every verdict below is written by hand (or by a loop whose verdict is argued in the comment
// next to it) from the rules and from WHATWG URL parsing. It is never taken from the Rust
// implementation. `--check` is a second opinion: node's `URL` is WHATWG-compliant, so a
// disagreement means either a wrong hand verdict or a WHATWG subtlety worth a note.
//
// The rules (the contract of `src/return_urls.rs`):
//   * the candidate is non-empty and at most 2048 bytes long, both as given and once
//     re-serialised by the parser (percent-encoding can lengthen it);
//   * it parses as an absolute URL with the WHATWG parser (no base URL);
//   * scheme http or https; no username, no password; no fragment (not even an empty `#`);
//   * its query has no `userId`, `secret`, `error` or `state` parameter (the names the gateway
//     adds; compared after application/x-www-form-urlencoded decoding, case-sensitively);
//   * scheme, host and port (or the scheme's default) equal one entry's exactly, and the path
//     starts with that entry's path (entry path ending in `/`: plain prefix; otherwise the
//     path equals it or continues with `/`);
//   * no segment of the path hides a separator or a dot segment behind percent-encoding: each
//     segment is percent-decoded again and again (invalid escapes kept as they are) until it
//     stops changing, at most 8 times (a segment still changing after 8 decodings is refused);
//     no result may hold `/` or `\`, or be `.` or `..`, alone or before a `;` (servers that
//     decode the path, or strip `;parameters` as Tomcat does, would otherwise resolve them and
//     leave the entry's path). This applies on every entry, even one whose path is `/`.
// Everything is judged on the parsed URL, which is also what the browser is sent to.

import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ALLOW_LIST = [
  'https://app.example.com/auth/',
  'https://app.example.com:8443/cb',
  'http://127.0.0.1:3000/app/',
  'https://xn--bcher-kva.example/',
];

const cases = [];
const ALLOW = 'allow';
const DENY = 'deny';
function c(cls, verdict, url, note = '') {
  if (verdict !== ALLOW && verdict !== DENY) throw new Error(`bad verdict ${verdict}`);
  cases.push({ cls, verdict, url, note });
}

// The four entries, split into the parts the systematic loops vary.
const A = { id: 'A', scheme: 'https', host: 'app.example.com', port: '', path: '/auth/', deeper: '/auth/done' };
const B = { id: 'B', scheme: 'https', host: 'app.example.com', port: ':8443', path: '/cb', deeper: '/cb/x' };
const C = { id: 'C', scheme: 'http', host: '127.0.0.1', port: ':3000', path: '/app/', deeper: '/app/page' };
const D = { id: 'D', scheme: 'https', host: 'xn--bcher-kva.example', port: '', path: '/', deeper: '/x/y' };
const ENTRIES = [A, B, C, D];
const NAMED = [A, B, D]; // entries with a domain name (C is an IPv4 literal)
const u = (e, { scheme = e.scheme, sep = '://', userinfo = '', host = e.host, port = e.port, path = e.deeper, rest = '' } = {}) =>
  `${scheme}${sep}${userinfo}${host}${port}${path}${rest}`;

// ---------------------------------------------------------------------------------------------
// baseline: plain URLs on and off the list
for (const e of ENTRIES) {
  c('baseline', ALLOW, u(e, { path: e.path }), `entry ${e.id} itself`);
  c('baseline', ALLOW, u(e), `below entry ${e.id}`);
  c('baseline', ALLOW, u(e, { rest: '?next=%2Fhome&lang=en' }), 'query of the app kept');
}
c('baseline', ALLOW, 'https://app.example.com/auth/a/b/c/d', 'deep path');
c('baseline', ALLOW, 'https://app.example.com/auth/?', 'empty query is no reserved param');
c('baseline', ALLOW, 'https://app.example.com:8443/cb/', '/cb/ continues /cb with a slash');
c('baseline', ALLOW, 'https://xn--bcher-kva.example', 'empty path serialises as /');
c('baseline', ALLOW, 'https://xn--bcher-kva.example/any/thing?x=1', 'entry D allows every path');
c('baseline', ALLOW, 'http://127.0.0.1:3000/app/index.html', '');
for (const x of [
  'https://evil.com/', 'https://evil.com/auth/', 'https://example.com/auth/', 'https://www.app.example.com/auth/',
  'https://app.example.org/auth/', 'https://app.example.com/', 'https://app.example.com', 'https://app.example.com:8443/',
  'https://app.example.com:8443', 'http://127.0.0.1:3000/', 'http://127.0.0.1:3000', 'https://google.com/',
  'https://example.com/', 'https://bucher.example/', 'https://app.example.com/login', 'http://127.0.0.1:3000/admin/',
]) c('baseline', DENY, x, 'origin or path not on the list');

// ---------------------------------------------------------------------------------------------
// path_prefix: where the entry path ends
for (const [x, v, n] of [
  ['https://app.example.com/auth', DENY, 'entry /auth/ needs the slash'],
  ['https://app.example.com/authx', DENY, ''],
  ['https://app.example.com/auth-x/', DENY, ''],
  ['https://app.example.com/auth./', DENY, ''],
  ['https://app.example.com/auth_/', DENY, ''],
  ['https://app.example.com/Auth/', DENY, 'paths are case-sensitive'],
  ['https://app.example.com/AUTH/', DENY, 'paths are case-sensitive'],
  ['https://app.example.com//auth/', DENY, 'path is //auth/'],
  ['https://app.example.com/x/auth/', DENY, ''],
  ['https://app.example.com/auth//', ALLOW, 'path /auth// starts with /auth/'],
  ['https://app.example.com/auth//evil.com', ALLOW, 'same origin; //evil.com is only a path here'],
  ['https://app.example.com/auth/evil.com', ALLOW, ''],
  ['https://app.example.com/auth/https://evil.com/', ALLOW, 'same origin; the text is a path'],
  ['https://app.example.com/auth/;x', ALLOW, ''],
  ['https://app.example.com/auth;/', DENY, ''],
  ['https://app.example.com:8443/cb', ALLOW, 'exact'],
  ['https://app.example.com:8443/cb/', ALLOW, ''],
  ['https://app.example.com:8443/cb/x/y', ALLOW, ''],
  ['https://app.example.com:8443/cbx', DENY, '/cb must be followed by / or end'],
  ['https://app.example.com:8443/cb.x', DENY, ''],
  ['https://app.example.com:8443/cb-x', DENY, ''],
  ['https://app.example.com:8443/cb;x', DENY, ''],
  ['https://app.example.com:8443/cb%20', DENY, 'path /cb%20'],
  ['https://app.example.com:8443/CB', DENY, ''],
  ['https://app.example.com:8443/c', DENY, ''],
  ['https://app.example.com:8443/', DENY, ''],
  ['https://app.example.com:8443/x/cb', DENY, ''],
  ['https://app.example.com:8443//cb', DENY, ''],
  ['https://app.example.com:8443/cb?x=1', ALLOW, ''],
  ['https://app.example.com:8443/cb/?x=1', ALLOW, ''],
  ['https://app.example.com:8443/cb?', ALLOW, ''],
  ['http://127.0.0.1:3000/app', DENY, 'entry /app/ needs the slash'],
  ['http://127.0.0.1:3000/apps/', DENY, ''],
  ['http://127.0.0.1:3000/APP/', DENY, ''],
  ['http://127.0.0.1:3000/app/x/y/z', ALLOW, ''],
  ['http://127.0.0.1:3000//app/', DENY, ''],
  ['https://xn--bcher-kva.example/anything', ALLOW, 'entry path / is a prefix of every path'],
  ['https://xn--bcher-kva.example//evil.com', ALLOW, 'same origin; path //evil.com'],
  ['https://xn--bcher-kva.example/?q', ALLOW, ''],
]) c('path_prefix', v, x, n);

// ---------------------------------------------------------------------------------------------
// dot_segments: WHATWG resolves ".", "..", "%2e", ".%2e", "%2e.", "%2e%2e" (any case) and the
// result is what is compared.
for (const [x, v, n] of [
  ['https://app.example.com/auth/../admin', DENY, 'resolves to /admin'],
  ['https://app.example.com/auth/./x', ALLOW, 'resolves to /auth/x'],
  ['https://app.example.com/auth/x/../y', ALLOW, 'resolves to /auth/y'],
  ['https://app.example.com/auth/x/../../', DENY, 'resolves to /'],
  ['https://app.example.com/auth/..', DENY, 'resolves to /'],
  ['https://app.example.com/auth/.', ALLOW, 'resolves to /auth/'],
  ['https://app.example.com/auth/x/..', ALLOW, 'resolves to /auth/'],
  ['https://app.example.com/auth/%2e%2e/admin', DENY, '%2e%2e is ..'],
  ['https://app.example.com/auth/%2E%2E/admin', DENY, '%2E%2E is ..'],
  ['https://app.example.com/auth/.%2e/admin', DENY, '.%2e is ..'],
  ['https://app.example.com/auth/%2e./admin', DENY, '%2e. is ..'],
  ['https://app.example.com/auth/%2E./admin', DENY, ''],
  ['https://app.example.com/auth/%2e%2e', DENY, 'resolves to /'],
  ['https://app.example.com/auth/%2e/x', ALLOW, '%2e is .'],
  ['https://app.example.com/auth/%2e', ALLOW, 'resolves to /auth/'],
  ['https://app.example.com/auth/%2e%2e%2fadmin', DENY, 'one segment that decodes to ../admin: hidden separator'],
  ['https://app.example.com/auth/..%2fadmin', DENY, 'one segment ..%2fadmin that decodes to ../admin'],
  ['https://app.example.com/auth/..%5cadmin', DENY, 'decodes to ..\\admin: a backslash is a separator to many servers'],
  ['https://app.example.com/auth/...', ALLOW, '... is not a dot segment'],
  ['https://app.example.com/auth/..../x', ALLOW, ''],
  ['https://app.example.com/auth/..;/admin', DENY, '..; is .. to servers that strip ;parameters (Tomcat)'],
  ['https://app.example.com/auth/..\\admin', DENY, 'backslash is a separator: /auth/../admin'],
  ['https://app.example.com/auth\\..\\admin', DENY, 'resolves to /admin'],
  ['https://app.example.com/auth/.\t./admin', DENY, 'tab removed: ..'],
  ['https://app.example.com/auth/.\n./admin', DENY, 'newline removed: ..'],
  ['https://app.example.com/auth/%252e%252e/admin', DENY, 'decodes twice to ..'],
  ['https://app.example.com/auth/;/../../x', DENY, 'resolves to /x'],
  ['https://app.example.com/./auth/', ALLOW, 'resolves to /auth/'],
  ['https://app.example.com/../auth/', ALLOW, 'cannot go above the root: /auth/'],
  ['https://app.example.com/../../../auth/x', ALLOW, ''],
  ['https://app.example.com/x/../auth/', ALLOW, ''],
  ['https://app.example.com/authx/../auth/', ALLOW, ''],
  ['https://app.example.com/auth/../auth/', ALLOW, ''],
  ['https://app.example.com/%2e%2e/auth/', ALLOW, ''],
  ['https://app.example.com/auth/../auth', DENY, 'resolves to /auth'],
  ['https://app.example.com/auth/x/./../../admin', DENY, ''],
  ['https://app.example.com:8443/cb/..', DENY, 'resolves to /'],
  ['https://app.example.com:8443/cb/../cb', ALLOW, ''],
  ['https://app.example.com:8443/cb/.', ALLOW, 'resolves to /cb/'],
  ['https://app.example.com:8443/cb/./x', ALLOW, ''],
  ['https://app.example.com:8443/x/../cb', ALLOW, ''],
  ['https://app.example.com:8443/cb/%2e%2e', DENY, ''],
  ['https://app.example.com:8443/cb/%2e%2e/cbx', DENY, 'resolves to /cbx'],
  ['https://app.example.com:8443/cb%2f..%2fadmin', DENY, 'path /cb%2f..%2fadmin: /cb not followed by /'],
  ['https://app.example.com:8443/cb/..%2f', DENY, 'decodes to ../'],
  ['https://app.example.com:8443/cb..', DENY, ''],
  ['https://app.example.com:8443/cb/.../x', ALLOW, ''],
  ['http://127.0.0.1:3000/app/../', DENY, ''],
  ['http://127.0.0.1:3000/app/./', ALLOW, ''],
  ['http://127.0.0.1:3000/app/%2e%2e/x', DENY, ''],
  ['http://127.0.0.1:3000/x/../app/y', ALLOW, ''],
  ['http://127.0.0.1:3000/app/x/%2E%2e/', ALLOW, 'resolves to /app/'],
  ['https://xn--bcher-kva.example/../', ALLOW, 'still /'],
  ['https://xn--bcher-kva.example/a/../../b', ALLOW, ''],
  ['https://xn--bcher-kva.example/%2e%2e/%2e%2e/etc', ALLOW, 'any path of entry D'],
]) c('dot_segments', v, x, n);
// ".." pushed below the entry path by N segments: deny when the result leaves the entry path.
for (const e of [A, C]) {
  for (const dots of ['..', '.%2e', '%2e.', '%2e%2e', '%2E%2E', '.%2E']) {
    c('dot_segments', DENY, u(e, { path: `${e.path}${dots}/secret` }), `${dots} leaves ${e.path}`);
    c('dot_segments', ALLOW, u(e, { path: `${e.path}sub/${dots}/ok` }), `${dots} stays in ${e.path}`);
  }
}

// ---------------------------------------------------------------------------------------------
// slashes: protocol-relative //, /\ and backslashes (WHATWG treats \ as / in special URLs)
for (const [x, v, n] of [
  ['//evil.com', DENY, 'relative: no base URL'],
  ['//evil.com/auth/', DENY, ''],
  ['/\\evil.com', DENY, ''],
  ['\\\\evil.com', DENY, ''],
  ['\\/evil.com', DENY, ''],
  ['///evil.com', DENY, ''],
  ['/auth/', DENY, 'relative'],
  ['auth/', DENY, 'relative'],
  ['app.example.com/auth/', DENY, 'no scheme'],
  ['https://evil.com\\@app.example.com/auth/', DENY, 'host evil.com, path /@app.example.com/auth/'],
  ['https://app.example.com\\@evil.com/auth/', DENY, 'host app.example.com, path /@evil.com/auth/'],
  ['https://app.example.com\\auth\\x', ALLOW, 'becomes /auth/x'],
  ['https://app.example.com\\auth\\', ALLOW, 'becomes /auth/'],
  ['https:\\\\app.example.com\\auth\\', ALLOW, 'becomes https://app.example.com/auth/'],
  ['https:/\\app.example.com/auth/', ALLOW, ''],
  ['https:\\/app.example.com/auth/', ALLOW, ''],
  ['https://\\app.example.com/auth/', ALLOW, 'extra slashes skipped before the host'],
  ['https:////app.example.com/auth/', ALLOW, 'extra slashes skipped before the host'],
  ['https:\\\\\\app.example.com/auth/', ALLOW, ''],
  ['https:////evil.com/auth/', DENY, ''],
  ['https:\\\\evil.com\\auth\\', DENY, ''],
  ['https://app.example.com/auth/\\\\evil.com', ALLOW, 'path /auth///evil.com, same origin'],
  ['https://app.example.com//evil.com', DENY, 'path //evil.com'],
  ['https://app.example.com/\\evil.com', DENY, 'path //evil.com'],
  ['https://app.example.com\\\\evil.com', DENY, 'path //evil.com'],
  ['https://evil.com/\\app.example.com/auth/', DENY, ''],
  ['https://evil.com\\app.example.com/auth/', DENY, 'host evil.com'],
  ['https://evil.com\\.app.example.com/auth/', DENY, 'host evil.com'],
  ['https://app.example.com:8443\\cb', ALLOW, 'becomes /cb'],
  ['https://app.example.com:8443\\cb\\x', ALLOW, ''],
  ['https://app.example.com:8443/cb\\..\\x', DENY, 'resolves to /x'],
  ['http:\\\\127.0.0.1:3000\\app\\', ALLOW, ''],
  ['http://127.0.0.1\\@evil.com:3000/app/', DENY, 'host 127.0.0.1 port 80, path /@evil.com:3000/app/'],
  ['http://127.0.0.1:3000\\app\\x', ALLOW, ''],
  ['https:xn--bcher-kva.example\\x', ALLOW, ''],
]) c('slashes', v, x, n);
// Relative forms of every entry: never absolute, so never parsed without a base.
for (const e of ENTRIES) {
  const rest = `${e.host}${e.port}${e.path}`;
  for (const p of ['//', '\\\\', '/\\', '\\/', '///', '/', '\\']) c('slashes', DENY, `${p}${rest}`, 'relative, no scheme');
}
// Special schemes ignore any mix of / and \ (and their absence) before the host.
for (const e of ENTRIES) {
  const rest = `${e.host}${e.port}${e.path}`;
  for (const p of ['', '/', '\\', '\\\\', '/\\', '\\/', '///', '\\\\\\\\']) c('slashes', ALLOW, `${e.scheme}:${p}${rest}`, 'slashes after the scheme are ignored');
}

// ---------------------------------------------------------------------------------------------
// whitespace_control: WHATWG strips leading/trailing C0 controls and spaces, and removes tab,
// LF and CR everywhere; any other control or space inside the host fails the parse; in the path
// and query they are percent-encoded (the re-serialised URL never contains them raw).
for (const [x, v, n] of [
  [' https://app.example.com/auth/', ALLOW, 'leading space stripped'],
  ['https://app.example.com/auth/ ', ALLOW, 'trailing space stripped'],
  ['\t https://app.example.com/auth/', ALLOW, ''],
  ['\x7fhttps://app.example.com/auth/', DENY, 'DEL is not a C0 control: not stripped, no scheme'],
  ['\u00a0https://app.example.com/auth/', DENY, 'NBSP not stripped'],
  ['\u2028https://app.example.com/auth/', DENY, 'LINE SEPARATOR not stripped'],
  ['\ufeffhttps://app.example.com/auth/', DENY, 'BOM not stripped'],
  ['ht\ttps://app.example.com/auth/', ALLOW, 'tab removed'],
  ['h\nt\rt\tp\ts://app.example.com/auth/', ALLOW, ''],
  ['https://app.exa\nmple.com/auth/', ALLOW, 'newline removed'],
  ['https://app.example.com/au\rth/', ALLOW, 'CR removed'],
  ['https://app.example.com\t/auth/', ALLOW, ''],
  ['https://\tapp.example.com/auth/', ALLOW, ''],
  ['https://app.example.com\n.evil.com/auth/', DENY, 'newline removed: app.example.com.evil.com'],
  ['https://evil.com\t@app.example.com/auth/', DENY, 'credentials evil.com'],
  ['https://app.example.com /auth/', DENY, 'space in host'],
  [' https:// app.example.com/auth/', DENY, 'space in host'],
  ['https://app.example.com%20/auth/', DENY, 'encoded space in host'],
  ['https://app.example.com%09/auth/', DENY, ''],
  ['https://app.example.com%0a/auth/', DENY, ''],
  ['https://app.example.com%0d/auth/', DENY, ''],
  ['https://app.example.com%00/auth/', DENY, ''],
  ['https://app.exam\x00ple.com/auth/', DENY, 'NUL in host'],
  ['https://app.example.com\x0b/auth/', DENY, 'VT in host'],
  ['https://app.example.com\x0c/auth/', DENY, 'FF in host'],
  ['https://app.example.com\x7f/auth/', DENY, 'DEL in host'],
  ['https://app.example.com\u3000/auth/', DENY, 'ideographic space maps to space'],
  ['https://app.example.com\u00a0/auth/', DENY, 'NBSP maps to space'],
  ['https://app.example.com/auth/%09', ALLOW, 'encoded in the path'],
  ['https://app.example.com/auth/%0a', ALLOW, ''],
  ['https://app.example.com/auth/%0d%0aLocation:%20https://evil.com', ALLOW, 'header injection stays encoded'],
  ['https://app.example.com/auth/\r\nLocation: https://evil.com', ALLOW, 'CR LF removed, space encoded'],
  ['https://app.example.com/auth/%00', ALLOW, ''],
  ['https://app.example.com/auth/\x00x', ALLOW, 'NUL in path is percent-encoded'],
  ['https://app.example.com/auth/\x01', ALLOW, 'trailing C0 stripped'],
  ['https://app.example.com/auth/x\x7f', ALLOW, 'DEL in path encoded'],
  ['https://app.example.com/auth/x\u2028y', ALLOW, 'encoded in path'],
  ['https://app.example.com/auth/ /', ALLOW, 'space encoded in path'],
  ['https://app.example.com/au th/', DENY, 'path /au%20th/'],
  ['https://app.example.com/auth%20/', DENY, ''],
  ['https://app.example.com/%20auth/', DENY, ''],
  ['https://app.example.com/auth/?x=\x00', ALLOW, 'trailing NUL stripped'],
  ['https://app.example.com/auth/?x=\x00y', ALLOW, 'NUL in query encoded'],
  ['https://app.example.com:8443\t/cb', ALLOW, ''],
  ['https://app.example.com:84\n43/cb', ALLOW, 'newline removed: port 8443'],
  ['https://app.example.com:8443 /cb', DENY, 'space in port'],
  ['https://app.example.com:8443%20/cb', DENY, ''],
  ['http://127.0.0.1\t:3000/app/', ALLOW, ''],
  ['http://127.0.0.1 :3000/app/', DENY, 'space in host'],
  ['http://127.0.0.1%20:3000/app/', DENY, ''],
  ['https://xn--bcher-kva.exam\tple/', ALLOW, ''],
  ['https://xn--bcher-kva.example/\x00', ALLOW, 'trailing NUL stripped'],
  ['java\nscript:alert(1)', DENY, 'javascript scheme after removal'],
  ['\x00\x01\x02https://app.example.com/auth/\x1e\x1f', ALLOW, 'C0 stripped at both ends'],
]) c('whitespace_control', v, x, n);
// Tab, LF, CR anywhere (scheme, host, port, path) are removed: still the same URL.
for (const e of ENTRIES) {
  for (const ws of ['\t', '\n', '\r', '\r\n']) {
    const s = u(e);
    const at = [2, e.scheme.length + 3 + 3, s.length - 2];
    for (const i of at) c('whitespace_control', ALLOW, s.slice(0, i) + ws + s.slice(i), 'tab/LF/CR removed by the parser');
  }
}
// Leading/trailing C0 controls and spaces are stripped.
for (const e of ENTRIES) {
  for (const cc of ['\x00', '\x01', '\x08', '\x0b', '\x0c', '\x1b', '\x1f', ' ']) {
    c('whitespace_control', ALLOW, cc + u(e), 'leading C0/space stripped');
  }
  c('whitespace_control', ALLOW, u(e) + '\x00\x0c ', 'trailing C0/space stripped');
}
// Encoded controls and spaces glued to a domain name: the decoded host is invalid.
for (const e of NAMED) {
  for (const enc of ['%00', '%09', '%0a', '%0D', '%20', '%7f', '%1f', '%0b']) {
    c('whitespace_control', DENY, u(e, { host: e.host + enc }), 'encoded control in host');
  }
}

// ---------------------------------------------------------------------------------------------
// userinfo: anything before @ in the authority is a credential; empty credentials vanish
for (const [x, v, n] of [
  ['https://@app.example.com/auth/', ALLOW, 'empty userinfo is dropped by the parser'],
  ['https://:@app.example.com/auth/', ALLOW, 'empty user and password are dropped'],
  ['https://@@app.example.com/auth/', DENY, 'second @ makes username %40'],
  ['https://app.example.com@evil.com/auth/', DENY, 'host evil.com'],
  ['https://app.example.com:443@evil.com/auth/', DENY, 'host evil.com'],
  ['https://app.example.com:8443@evil.com/cb', DENY, 'host evil.com'],
  ['https://evil.com#@app.example.com/auth/', DENY, 'host evil.com, fragment'],
  ['https://evil.com?@app.example.com/auth/', DENY, 'host evil.com'],
  ['https://evil.com/@app.example.com/auth/', DENY, 'host evil.com'],
  ['https://app.example.com%40evil.com/auth/', DENY, '@ decoded in host: invalid'],
  ['https://app.example.com%2540evil.com/auth/', DENY, '% in host after decoding: invalid'],
  ['https://evil.com%40app.example.com/auth/', DENY, ''],
  ['https://evil.com%2f@app.example.com/auth/', DENY, 'credentials'],
  ['https://evil.com%2F%2F@app.example.com/auth/', DENY, 'credentials'],
  ['https://a@b@app.example.com/auth/', DENY, ''],
  ['https://app.example.com&@evil.com/auth/', DENY, ''],
  ['https://app.example.com;@evil.com/auth/', DENY, ''],
  ['https://app.example.com%5c@evil.com/auth/', DENY, ''],
  ['https://%00@app.example.com/auth/', DENY, 'username %00'],
  ['https://%20@app.example.com/auth/', DENY, ''],
  ['https://%@app.example.com/auth/', DENY, ''],
  ['https:// @app.example.com/auth/', DENY, 'username %20'],
  ['https://app.example.com/auth/@evil.com', ALLOW, '@ in the path is just a path'],
  ['https://app.example.com/auth/?u=@evil.com', ALLOW, ''],
  ['https://app.example.com/auth/?u=a@b:c@evil.com', ALLOW, ''],
  ['https://user@bücher.example/', DENY, ''],
  ['https://xn--bcher-kva.example@evil.com/', DENY, ''],
  ['http://127.0.0.1:3000@evil.com/app/', DENY, 'host evil.com'],
  ['http://evil.com@127.0.0.1:3000/app/', DENY, 'credentials'],
  ['http://127.0.0.1:3000@127.0.0.1:3000/app/', DENY, 'credentials'],
]) c('userinfo', v, x, n);
for (const e of ENTRIES) {
  for (const ui of ['u@', 'u:p@', ':p@', 'u:@', '%40@', 'evil.com@', 'evil.com:443@', `${e.host}@`, 'user%3Apass@', '\u00fc@']) {
    c('userinfo', DENY, u(e, { userinfo: ui }), 'credentials present');
  }
  for (const ui of ['@', ':@']) c('userinfo', ALLOW, u(e, { userinfo: ui }), 'empty credentials dropped');
  c('userinfo', DENY, `${e.scheme}://${e.host}${e.port}@evil.com${e.path}`, 'entry authority as credentials for evil.com');
}

// ---------------------------------------------------------------------------------------------
// host_case: scheme and host are case-insensitive (lowercased by the parser); paths are not
for (const [x, v, n] of [
  ['https://APP.EXAMPLE.COM/auth/', ALLOW, ''],
  ['https://App.Example.Com/auth/', ALLOW, ''],
  ['https://aPp.ExAmPlE.cOm:8443/cb', ALLOW, ''],
  ['HTTPS://APP.EXAMPLE.COM/auth/', ALLOW, ''],
  ['HtTpS://app.example.com/auth/', ALLOW, ''],
  ['https://APP.EXAMPLE.COM/AUTH/', DENY, 'path case differs'],
  ['https://app.example.com/Auth/x', DENY, ''],
  ['https://XN--BCHER-KVA.EXAMPLE/', ALLOW, ''],
  ['https://Xn--Bcher-Kva.Example/', ALLOW, ''],
  ['HTTP://127.0.0.1:3000/app/', ALLOW, ''],
  ['https://APP.EXAMPLE.COM./auth/', DENY, 'trailing dot'],
  ['https://APP.EXAMPLE.COM.EVIL.COM/auth/', DENY, ''],
  ['https://app.examplE.com:8443/CB', DENY, 'path case differs'],
  ['https://app.example.com/auth/X', ALLOW, ''],
]) c('host_case', v, x, n);
function mixCase(s, k) {
  let out = '';
  for (let i = 0; i < s.length; i++) out += ((i + k) % (k + 2) === 0) ? s[i].toUpperCase() : s[i];
  return out;
}
for (const e of NAMED) {
  for (let k = 0; k < 5; k++) {
    c('host_case', ALLOW, u(e, { host: mixCase(e.host, k) }), 'mixed-case host');
    c('host_case', ALLOW, u(e, { scheme: mixCase(e.scheme, k + 1) }), 'mixed-case scheme');
  }
  if (e.path !== '/') c('host_case', DENY, u(e, { path: e.path.toUpperCase() }), 'upper-case path');
}

// ---------------------------------------------------------------------------------------------
// idn: hosts go through UTS #46 (mapping, NFC, punycode); the comparison is on the ASCII form
for (const [x, v, n] of [
  ['https://bücher.example/', ALLOW, 'punycoded to xn--bcher-kva.example'],
  ['https://BÜCHER.example/', ALLOW, 'mapped to lower case'],
  ['https://bÜcher.example/x', ALLOW, ''],
  ['https://BÜCHER.EXAMPLE/', ALLOW, ''],
  ['https://bu\u0308cher.example/', ALLOW, 'NFC: u + combining diaeresis'],
  ['https://bücher.example:443/', ALLOW, ''],
  ['https://b%C3%BCcher.example/', ALLOW, 'percent-decoded then IDNA'],
  ['https://ｂüｃｈｅｒ.example/', ALLOW, 'fullwidth letters mapped'],
  ['https://bücher\u3002example/', ALLOW, 'ideographic full stop is a label separator'],
  ['https://bücher\uff0eexample/', ALLOW, 'fullwidth full stop'],
  ['https://bücher\uff61example/', ALLOW, 'halfwidth ideographic full stop'],
  ['https://xn--Bcher-kva.example/', ALLOW, ''],
  ['https://xn--bcher-kva.example/xn--', ALLOW, 'path'],
  ['https://bücher.example/ü', ALLOW, 'path encoded'],
  ['http://bücher.example/', DENY, 'http'],
  ['https://bucher.example/', DENY, 'different name'],
  ['https://bücher.example./', DENY, 'trailing dot'],
  ['https://bücher.example.evil.com/', DENY, ''],
  ['https://xn--bcher-kva.example.evil.com/', DENY, ''],
  ['https://evil.xn--bcher-kva.example/', DENY, ''],
  ['https://büc her.example/', DENY, 'space'],
  ['https://xn--bcher-kva.example:8443/', DENY, ''],
  ['https://bücher.example@evil.com/', DENY, ''],
  ['https://evil.com@bücher.example/', DENY, 'credentials'],
  ['https://xn--bcher-kvb.example/', DENY, 'invalid punycode'],
  ['https://xn--bcher-kva.examplé/', DENY, 'different TLD'],
  ['https://ａｐｐ.example.com/auth/', ALLOW, 'fullwidth letters mapped to app'],
  ['https://ａｐｐ．ｅｘａｍｐｌｅ．ｃｏｍ/auth/', ALLOW, ''],
  ['https://app\uff0eexample.com/auth/', ALLOW, 'fullwidth full stop'],
  ['https://app\u3002example\u3002com/auth/', ALLOW, ''],
  ['https://app.example.\u2102om/auth/', ALLOW, 'DOUBLE-STRUCK C maps to c'],
  ['https://app.\u212fxample.com/auth/', ALLOW, 'SCRIPT SMALL E maps to e'],
  ['https://app.exa\u00admple.com/auth/', ALLOW, 'soft hyphen is ignored'],
  ['https://app.exa\u200bmple.com/auth/', ALLOW, 'zero width space is ignored (UTS46 maps it to nothing)'],
  ['https://app.exa\u200dmple.com/auth/', DENY, 'ZWJ fails CONTEXTJ'],
  ['https://\u0430pp.example.com/auth/', DENY, 'Cyrillic a: homoglyph'],
  ['https://app.ex\u0430mple.com/auth/', DENY, 'Cyrillic a: homoglyph'],
  ['https://\u0430pp.example.com:8443/cb', DENY, ''],
  ['https://app.example.c\u043em/auth/', DENY, 'Cyrillic o'],
  ['https://a\u0301pp.example.com/auth/', DENY, 'combining accent changes the label'],
  ['https://app.example.com\u202e/auth/', DENY, 'RLO disallowed'],
  ['https://xn--app.example.com/auth/', DENY, 'invalid punycode'],
  ['https://app.example.com\uff0fauth/', DENY, 'fullwidth solidus maps to / inside the host'],
  ['https://app.example.com\uff1a8443/cb', DENY, 'fullwidth colon maps to : inside the host'],
  ['https://evil.com\uff20app.example.com/auth/', DENY, 'fullwidth @ maps to @ inside the host'],
  ['https://app.example.com\u2024/auth/', DENY, 'ONE DOT LEADER is disallowed'],
  ['http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:3000/app/', ALLOW, 'fullwidth digits map to 127.0.0.1'],
  ['http://127\u30020\u30020\u30021:3000/app/', ALLOW, 'ideographic full stops'],
  ['https://app.example.ćom/auth/', DENY, ''],
  ['https://bücher.example\u3002/', DENY, 'ideographic full stop at the end is a trailing dot'],
]) c('idn', v, x, n);
// Each label of entry D's host spelled in Unicode or ASCII, with case: all map to one host.
for (const h of ['bücher.example', 'BÜCHER.example', 'Bücher.Example', 'xn--bcher-kva.EXAMPLE', 'XN--bcher-KVA.example', 'bÜcher.exAmple']) {
  for (const p of ['/', '/a', '/a/b?c=d']) c('idn', ALLOW, `https://${h}${p}`, 'same host after UTS46');
}
// Homoglyph/lookalike hosts for entries A and D.
for (const h of ['bücher.examp1e', 'bùcher.example', 'büch\u0435r.example', 'bücher.exampIe', 'b\u00fccher-example', 'bücherexample']) {
  c('idn', DENY, `https://${h}/`, 'lookalike host');
}
for (const h of ['app.examp1e.com', 'app.exampIe.com', '\u0430pp.ex\u0430mple.com', 'app.ex\u00e4mple.com', 'ap\u0440.example.com', 'app.example.co\u006d\u0307']) {
  c('idn', DENY, `https://${h}/auth/`, 'lookalike host');
}

// ---------------------------------------------------------------------------------------------
// trailing_dot: a trailing dot is a different host for domains; the IPv4 parser drops one
for (const [x, v, n] of [
  ['https://app.example.com./auth/', DENY, ''],
  ['https://app.example.com../auth/', DENY, ''],
  ['https://app.example.com.:443/auth/', DENY, ''],
  ['https://app.example.com.:8443/cb', DENY, ''],
  ['https://xn--bcher-kva.example./', DENY, ''],
  ['https://app.example.com%2e/auth/', DENY, 'decoded to a trailing dot'],
  ['https://app.example.com\u3002/auth/', DENY, 'ideographic full stop'],
  ['https://app.example.com\uff0e/auth/', DENY, 'fullwidth full stop'],
  ['https://.app.example.com/auth/', DENY, 'leading dot'],
  ['https://app..example.com/auth/', DENY, 'empty label'],
  ['https://app.example..com/auth/', DENY, ''],
  ['https://app.example.com.evil.com./auth/', DENY, ''],
  ['https://app.example.com./auth/x', DENY, ''],
  ['https://app.example.com/auth./', DENY, 'path, not host'],
  ['https://app.example.com/auth/.', ALLOW, 'dot segment resolves to /auth/'],
  ['http://127.0.0.1.:3000/app/', ALLOW, 'IPv4 parser drops one trailing dot: 127.0.0.1'],
  ['http://127.0.0.1%2e:3000/app/', ALLOW, 'decoded, then IPv4 with trailing dot'],
  ['http://127.0.0.1..:3000/app/', DENY, 'not IPv4: domain 127.0.0.1..'],
  ['http://localhost.:3000/app/', DENY, 'not on the list'],
  ['https://app.example.com.%20/auth/', DENY, ''],
]) c('trailing_dot', v, x, n);
for (const e of NAMED) {
  for (const t of ['.', '..', '...', '%2e', '%2E', '.%2e', '\u3002', '\uff0e', '\uff61']) {
    c('trailing_dot', DENY, u(e, { host: e.host + t }), 'trailing dot(s) change the host');
  }
}

// ---------------------------------------------------------------------------------------------
// port: the port (or the scheme default) must equal the entry's exactly
for (const [x, v, n] of [
  ['https://app.example.com:443/auth/', ALLOW, 'default port written out'],
  ['https://app.example.com:0443/auth/', ALLOW, 'leading zero'],
  ['https://app.example.com:00000443/auth/', ALLOW, ''],
  ['https://app.example.com:/auth/', ALLOW, 'empty port means default'],
  ['https://app.example.com:80/auth/', DENY, ''],
  ['https://app.example.com:8443/auth/', DENY, 'origin of entry B, path of A'],
  ['https://app.example.com:444/auth/', DENY, ''],
  ['https://app.example.com:0/auth/', DENY, ''],
  ['https://app.example.com:65536/auth/', DENY, 'out of range'],
  ['https://app.example.com:99999/auth/', DENY, ''],
  ['https://app.example.com:65979/auth/', DENY, '65536+443: no wrap-around'],
  ['https://app.example.com:4294967739/auth/', DENY, '2^32+443: no wrap-around'],
  ['https://app.example.com:18446744073709552059/auth/', DENY, '2^64+443: no wrap-around'],
  ['https://app.example.com:-1/auth/', DENY, ''],
  ['https://app.example.com:+443/auth/', DENY, ''],
  ['https://app.example.com:443abc/auth/', DENY, ''],
  ['https://app.example.com:443:443/auth/', DENY, ''],
  ['https://app.example.com:4.43/auth/', DENY, ''],
  ['https://app.example.com:%34%34%33/auth/', DENY, 'ports are never percent-decoded'],
  ['https://app.example.com: 443/auth/', DENY, ''],
  ['https://app.example.com:0x1bb/auth/', DENY, ''],
  ['https://app.example.com:4\t43/auth/', ALLOW, 'tab removed'],
  ['https://app.example.com:8443/cb', ALLOW, ''],
  ['https://app.example.com:08443/cb', ALLOW, ''],
  ['https://app.example.com/cb', DENY, 'port 443'],
  ['https://app.example.com:443/cb', DENY, ''],
  ['https://app.example.com:8444/cb', DENY, ''],
  ['https://app.example.com:8442/cb', DENY, ''],
  ['https://app.example.com:84430/cb', DENY, ''],
  ['https://app.example.com:8443./cb', DENY, ''],
  ['https://app.example.com:74979/cb', DENY, '65536+8443'],
  ['http://app.example.com:8443/cb', DENY, 'http'],
  ['http://127.0.0.1:3000/app/', ALLOW, ''],
  ['http://127.0.0.1:03000/app/', ALLOW, ''],
  ['http://127.0.0.1:3001/app/', DENY, ''],
  ['http://127.0.0.1:300/app/', DENY, ''],
  ['http://127.0.0.1:30000/app/', DENY, ''],
  ['http://127.0.0.1:80/app/', DENY, ''],
  ['http://127.0.0.1/app/', DENY, 'port 80'],
  ['http://127.0.0.1:/app/', DENY, 'empty port: 80'],
  ['http://127.0.0.1:68536/app/', DENY, '65536+3000'],
  ['http://127.0.0.1:3000:/app/', DENY, ''],
  ['https://xn--bcher-kva.example:443/', ALLOW, ''],
  ['https://xn--bcher-kva.example:8443/', DENY, ''],
  ['https://xn--bcher-kva.example:80/', DENY, ''],
  ['https://evil.com:443@app.example.com/auth/', DENY, 'credentials'],
  ['http://app.example.com:443/auth/', DENY, 'http on 443 is still http'],
]) c('port', v, x, n);
{
  // A port with many leading zeros keeps the URL under 2048 characters: still port 443.
  const head = 'https://app.example.com:';
  const tail = '443/auth/';
  c('port', ALLOW, head + '0'.repeat(2048 - head.length - tail.length) + tail, '2048 chars, port 0...0443 = 443');
}

// ---------------------------------------------------------------------------------------------
// scheme: only http and https; javascript:, data: and friends are refused however spelled
for (const [x, v, n] of [
  ['javascript:alert(1)', DENY, ''],
  ['javascript://app.example.com/auth/%0aalert(1)', DENY, ''],
  ['javascript://%0aalert(1)//https://app.example.com/auth/', DENY, ''],
  ['JavaScript:alert(1)', DENY, ''],
  ['JAVASCRIPT:alert(document.domain)', DENY, ''],
  ['java\tscript:alert(1)', DENY, 'tab removed: javascript'],
  ['java%0ascript:alert(1)', DENY, 'not a scheme: relative'],
  [' javascript:alert(1)', DENY, ''],
  ['\x01javascript:alert(1)', DENY, ''],
  ['javascript\t:alert(1)', DENY, ''],
  ['javascript&colon;alert(1)', DENY, 'relative'],
  ['javascript:https://app.example.com/auth/', DENY, ''],
  ['data:text/html,<script>alert(1)</script>', DENY, ''],
  ['data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==', DENY, ''],
  ['DATA:,x', DENY, ''],
  ['data:https://app.example.com/auth/', DENY, ''],
  ['data:text/html,https://app.example.com/auth/', DENY, ''],
  ['vbscript:msgbox(1)', DENY, ''],
  ['file:///etc/passwd', DENY, ''],
  ['file://app.example.com/auth/', DENY, ''],
  ['ftp://app.example.com/auth/', DENY, ''],
  ['ws://app.example.com/auth/', DENY, ''],
  ['wss://app.example.com/auth/', DENY, ''],
  ['blob:https://app.example.com/auth/', DENY, ''],
  ['about:blank', DENY, ''],
  ['chrome://settings', DENY, ''],
  ['intent://app.example.com/auth/#Intent;scheme=https;end', DENY, ''],
  ['https+evil://app.example.com/auth/', DENY, ''],
  ['httpss://app.example.com/auth/', DENY, ''],
  ['ttps://app.example.com/auth/', DENY, ''],
  ['https//app.example.com/auth/', DENY, 'no colon: relative'],
  ['ht%74ps://app.example.com/auth/', DENY, '% not allowed in a scheme'],
  ['h ttps://app.example.com/auth/', DENY, ''],
  ['https\x00://app.example.com/auth/', DENY, ''],
  ['\x00javascript:alert(1)', DENY, ''],
  ['view-source:https://app.example.com/auth/', DENY, ''],
  ['jar:https://app.example.com/auth/!/', DENY, ''],
  ['mailto:a@app.example.com', DENY, ''],
  ['tel:+15555555555', DENY, ''],
  ['x-javascript:alert(1)', DENY, ''],
  ['gopher://app.example.com/auth/', DENY, ''],
  ['http://app.example.com/auth/', DENY, 'http on a non-loopback entry'],
  ['https://127.0.0.1:3000/app/', DENY, 'entry C is http'],
  ['http://xn--bcher-kva.example/', DENY, ''],
  ['https:app.example.com/auth/', ALLOW, 'special scheme without slashes'],
  ['https:/app.example.com/auth/', ALLOW, ''],
  ['http:127.0.0.1:3000/app/', ALLOW, ''],
  ['HTTP:127.0.0.1:3000/app/', ALLOW, ''],
]) c('scheme', v, x, n);
for (const e of ENTRIES) {
  const other = e.scheme === 'https' ? 'http' : 'https';
  for (const s of ['javascript', 'data', 'ftp', 'ws', 'wss', 'file', 'gopher', 'blob:https', other, 'hxxps', 'JAVASCRIPT']) {
    c('scheme', DENY, u(e, { scheme: s }), `scheme ${s}`);
  }
}

// ---------------------------------------------------------------------------------------------
// pct_separators: percent-encoded /, \, ?, #, @, :, . in host, port, path and query
for (const [x, v, n] of [
  ['https://app.example.com%2fauth/', DENY, '/ decoded in host: invalid'],
  ['https://app.example.com%2f@evil.com/auth/', DENY, 'credentials'],
  ['https://evil.com%2f%2fapp.example.com/auth/', DENY, ''],
  ['https://evil.com%23@app.example.com/auth/', DENY, 'credentials'],
  ['https://evil.com%3f@app.example.com/auth/', DENY, 'credentials'],
  ['https://app.example.com%3f.evil.com/auth/', DENY, ''],
  ['https://app.example.com%23.evil.com/auth/', DENY, ''],
  ['https://app.example.com%5c.evil.com/auth/', DENY, ''],
  ['https://app.example.com%5c@evil.com/auth/', DENY, ''],
  ['https://app.example.com%2eevil.com/auth/', DENY, 'host app.example.com.evil.com'],
  ['https://app%2eexample%2ecom/auth/', ALLOW, 'hosts are percent-decoded: app.example.com'],
  ['https://app%2Eexample%2Ecom/auth/', ALLOW, ''],
  ['https://%61pp.example.com/auth/', ALLOW, 'decoded host app.example.com'],
  ['https://%41%50%50.example.com/auth/', ALLOW, 'decoded and lowercased'],
  ['https://app.example.com%3a8443/cb', DENY, ': decoded in host: invalid'],
  ['https://app.example.com%3A443/auth/', DENY, ''],
  ['https://app.example.com/auth%2f', DENY, 'path /auth%2f'],
  ['https://app.example.com/auth%2fdone', DENY, ''],
  ['https://app.example.com/auth%2Fdone', DENY, ''],
  ['https://app.example.com/auth%5cdone', DENY, ''],
  ['https://app.example.com/auth%5Cdone', DENY, ''],
  ['https://app.example.com/%2fauth/', DENY, ''],
  ['https://app.example.com/%61uth/', DENY, 'path is compared as given, not decoded'],
  ['https://app.example.com/%2e%2e%2fauth/', DENY, ''],
  ['https://app.example.com/auth%3f/', DENY, ''],
  ['https://app.example.com/auth%23/', DENY, ''],
  ['https://app.example.com/auth/%2f%2fevil.com', DENY, 'an encoded / in the path'],
  ['https://app.example.com/auth/%3f', ALLOW, ''],
  ['https://app.example.com/auth/%23', ALLOW, ''],
  ['https://app.example.com/auth/%23frag', ALLOW, 'no fragment: %23 is in the path'],
  ['https://app.example.com/auth/?a%23b', ALLOW, ''],
  ['https://app.example.com/auth/%40evil.com', ALLOW, ''],
  ['https://app.example.com/auth/%3a%2f%2fevil.com', DENY, 'an encoded / in the path'],
  ['https://app.example.com:8443/cb%2f', DENY, ''],
  ['https://app.example.com:8443/cb%2F..', DENY, ''],
  ['https://app.example.com:8443/cb%3fx', DENY, ''],
  ['https://app.example.com:8443/cb%23', DENY, ''],
  ['https://app.example.com:8443/cb/%2e%2e%2f', DENY, 'decodes to ../'],
  ['http://127.0.0.1:3000/app%2f', DENY, ''],
  ['http://127.0.0.1%3a3000/app/', DENY, ''],
  ['http://127%2e0%2e0%2e1:3000/app/', ALLOW, 'decoded, then IPv4'],
  ['http://%31%32%37.0.0.1:3000/app/', ALLOW, ''],
  ['https://xn--bcher-kva%2eexample/', ALLOW, ''],
  ['https://app.example.com%252f@evil.com/auth/', DENY, ''],
  ['https://app.example.com%2f%2e%2e/auth/', DENY, ''],
  ['https://app.example.com/auth/%zz', ALLOW, 'invalid escape kept as is'],
  ['https://app.example.com/auth/%', ALLOW, ''],
  ['https://app.example.com/auth/%%32%65', DENY, '%%32%65 decodes to %2e, then to .'],
  ['https://app.example.com%/auth/', DENY, '% in host'],
  ['https://app.example.com%zz/auth/', DENY, ''],
]) c('pct_separators', v, x, n);
for (const e of NAMED) {
  for (const sep of ['%2f', '%2F', '%5c', '%3f', '%23', '%40', '%3a']) {
    c('pct_separators', DENY, u(e, { host: `${e.host}${sep}evil.com` }), `${sep} decoded inside the host is forbidden`);
    c('pct_separators', DENY, u(e, { host: `evil.com${sep}${e.host}` }), `${sep} decoded inside the host is forbidden`);
  }
}

// ---------------------------------------------------------------------------------------------
// encoded_path: a path segment that decodes (once or more) to something holding / or \, or to
// a dot segment (also before a ;parameter), is refused: a server that decodes the path before
// routing would leave the entry's path. Decoded characters that are not separators are fine.
{
  const hidden = [
    ['%2f', 'encoded /'], ['%2F', 'encoded /'], ['%5c', 'encoded \\'], ['%5C', 'encoded \\'],
    ['%252f', '/ encoded twice'], ['%252F', '/ encoded twice'], ['%255c', '\\ encoded twice'],
    ['%25252f', '/ encoded three times'], ['%%32%66', '%%32%66 decodes to %2f, then /'],
    ['%25%32%66', '%25%32%66 decodes to %2f, then /'],
  ];
  for (const e of ENTRIES) {
    for (const [enc, what] of hidden) {
      c('encoded_path', DENY, u(e, { path: `${e.deeper}${enc}x` }), `${what} inside a segment`);
      c('encoded_path', DENY, u(e, { path: `${e.deeper}/..${enc}admin` }), `${what}: ..${enc}admin leaves the segment`);
      c('encoded_path', DENY, u(e, { path: `${e.deeper}/x${enc}..${enc}..${enc}..${enc}admin`, rest: '?q=1' }), `${what}, climbing out`);
    }
    // Dot segments hidden deeper than WHATWG looks (it resolves only %2e, once).
    for (const [dots, what] of [
      ['%252e%252e', '.. encoded twice'], ['.%252e', '.. half encoded twice'], ['%252e.', '.. half encoded twice'],
      ['%252E%252E', '.. encoded twice'], ['%252e', '. encoded twice'], ['%25252e%25252e', '.. encoded three times'],
      ['%%32%65%%32%65', '%%32%65 decodes to %2e, then .'], ['..;', '..; is .. to Tomcat'], ['..;x=1', '..;x=1 is .. to Tomcat'],
      ['.;', '.; is . to Tomcat'], ['%2e%2e;', '%2e%2e; is ..; once decoded'], ['.%2e;jsessionid=1', ''], ['%252e%252e;', ''],
    ]) {
      c('encoded_path', DENY, u(e, { path: `${e.deeper}/${dots}/admin` }), what);
      c('encoded_path', DENY, u(e, { path: `${e.deeper}/${dots}` }), what);
    }
    // Decoded, these are ordinary segment characters: allowed.
    for (const [seg, what] of [
      ['a%2eb', 'a.b'], ['%2e%2e%2e', '...'], ['x%2e', 'x.'], ['%2ex', '.x'], ['..%2e', '...'],
      ['%25', '%'], ['%2525', '%25 then %, stable'], ['%252', '%2, stable'], ['a%20b', 'a b'],
      ['%3bx', ';x'], [';..', 'parameter .. after an empty segment name'], ['..a', '..a'], ['...;', '...;'],
      ['%zz', 'invalid escape kept'], ['%', 'lone %'], ['%2', 'short escape'], ['file%2Ejs', 'file.js'],
      ['%252x', '%2x, stable'],
    ]) {
      c('encoded_path', ALLOW, u(e, { path: `${e.deeper}/${seg}` }), `decodes to ${what}`);
    }
  }
  // Nesting: 8 decodings are followed; a segment still changing after them is refused.
  const nest = (n) => '%' + '25'.repeat(n) + '41'; // n+1 decodings to A
  c('encoded_path', ALLOW, u(A, { path: `/auth/${nest(7)}` }), 'A, encoded 8 times: 8 decodings');
  c('encoded_path', DENY, u(A, { path: `/auth/${nest(8)}` }), 'A, encoded 9 times: still changing after 8');
  c('encoded_path', DENY, u(D, { path: `/${nest(40)}` }), 'deep nesting is refused, even on /');
  // Only the path is judged: the query may hold anything.
  c('encoded_path', ALLOW, u(A, { rest: '?next=%2F..%2Fadmin&p=%255c' }), 'encoded separators in the query are the app\'s');
}

// ---------------------------------------------------------------------------------------------
// query_fragment: no fragment at all; no reserved parameter names (after form decoding)
for (const [x, v, n] of [
  ['https://app.example.com/auth/#x', DENY, 'fragment'],
  ['https://app.example.com/auth/#', DENY, 'empty fragment is still a fragment'],
  ['https://app.example.com/auth/#@evil.com', DENY, ''],
  ['https://app.example.com/auth/?#', DENY, ''],
  ['https://app.example.com/auth/#?userId=1', DENY, ''],
  ['https://app.example.com/auth/?userId=1', DENY, 'reserved'],
  ['https://app.example.com/auth/?secret=1', DENY, 'reserved'],
  ['https://app.example.com/auth/?error=1', DENY, 'reserved'],
  ['https://app.example.com/auth/?state=1', DENY, 'reserved: the app\'s state comes back under this name'],
  ['https://app.example.com/auth/?state', DENY, ''],
  ['https://app.example.com/auth/?x=1&state=', DENY, ''],
  ['https://app.example.com/auth/?%73tate=1', DENY, 'decodes to state'],
  ['https://app.example.com/auth/?sta%74e=1', DENY, ''],
  ['https://app.example.com/auth/?userId', DENY, 'name without value'],
  ['https://app.example.com/auth/?secret', DENY, ''],
  ['https://app.example.com/auth/?error=', DENY, ''],
  ['https://app.example.com/auth/?a=1&userId=2', DENY, ''],
  ['https://app.example.com/auth/?a=1&&secret=2', DENY, ''],
  ['https://app.example.com/auth/?&userId=', DENY, ''],
  ['https://app.example.com/auth/?%75serId=1', DENY, 'decodes to userId'],
  ['https://app.example.com/auth/?userI%64', DENY, ''],
  ['https://app.example.com/auth/?user%49d=1', DENY, ''],
  ['https://app.example.com/auth/?%73ecret=x', DENY, ''],
  ['https://app.example.com/auth/?%65rror=x', DENY, ''],
  ['https://app.example.com/auth/?userId\t=1', DENY, 'tab removed: userId'],
  ['https://app.example.com/auth/?user\nId=1', DENY, ''],
  ['https://app.example.com/auth/?x#userId=1', DENY, 'fragment'],
  ['https://app.example.com/auth/?userid=1', ALLOW, 'names are case-sensitive'],
  ['https://app.example.com/auth/?UserId=1', ALLOW, ''],
  ['https://app.example.com/auth/?SECRET=1', ALLOW, ''],
  ['https://app.example.com/auth/?errors=1', ALLOW, ''],
  ['https://app.example.com/auth/?State=1', ALLOW, ''],
  ['https://app.example.com/auth/?states=1', ALLOW, ''],
  ['https://app.example.com/auth/?x=state', ALLOW, 'value, not name'],
  ['https://app.example.com/auth/?user_id=1', ALLOW, ''],
  ['https://app.example.com/auth/?xuserId=1', ALLOW, ''],
  ['https://app.example.com/auth/?x=userId', ALLOW, 'value, not name'],
  ['https://app.example.com/auth/?x=1%26userId%3D2', ALLOW, 'one parameter x'],
  ['https://app.example.com/auth/?%26userId=1', ALLOW, 'name is &userId'],
  ['https://app.example.com/auth/?userId%3D1', ALLOW, 'name is userId=1 (no unencoded =)'],
  ['https://app.example.com/auth/?+userId=1', ALLOW, 'name is " userId"'],
  ['https://app.example.com/auth/?userId+=1', ALLOW, 'name is "userId "'],
  ['https://app.example.com/auth/?secret%00=1', ALLOW, 'name is secret\\0'],
  ['https://app.example.com/auth/??userId=1', ALLOW, 'name is ?userId'],
  ['https://app.example.com/auth/?a=1;userId=2', ALLOW, '; is not a separator'],
  ['https://app.example.com/auth/?next=https://evil.com', ALLOW, 'same origin; the app owns its query'],
  ['https://app.example.com/auth/?next=//evil.com', ALLOW, ''],
  ['https://app.example.com/auth/?redirect=https%3A%2F%2Fevil.com', ALLOW, ''],
  ['https://app.example.com/auth/?q=%23', ALLOW, ''],
  ['https://app.example.com/auth/?q=a\tb', ALLOW, 'tab removed'],
  ['https://app.example.com/auth?/', DENY, 'path /auth'],
  ['https://app.example.com?/auth/', DENY, 'path /'],
  ['https://app.example.com#/auth/', DENY, 'path / and fragment'],
  ['https://evil.com/?https://app.example.com/auth/', DENY, ''],
  ['https://evil.com/#https://app.example.com/auth/', DENY, ''],
]) c('query_fragment', v, x, n);
for (const e of ENTRIES) {
  for (const r of ['#', '#x', '#userId=1', '?userId=1', '?secret=s', '?error=e', '?x=1&userId=', '?%75serId=1', '?x=1#y', '?error', '?state=abc&code=def']) {
    c('query_fragment', DENY, u(e, { rest: r }), 'fragment or reserved parameter');
  }
  for (const r of ['?', '?x=1', '?userid=1', '?user_id=1', '?x=userId', '?code=def&app_state=abc', '?a=%23']) {
    c('query_fragment', ALLOW, u(e, { rest: r }), 'ordinary query');
  }
}

// ---------------------------------------------------------------------------------------------
// ip_host: the loopback entry 127.0.0.1 and the many spellings of IPv4 in WHATWG
for (const [x, v, n] of [
  ['http://127.1:3000/app/', ALLOW, 'IPv4 shorthand'],
  ['http://127.0.1:3000/app/', ALLOW, ''],
  ['http://0x7f.0.0.1:3000/app/', ALLOW, 'hex part'],
  ['http://0x7F000001:3000/app/', ALLOW, 'one hex number'],
  ['http://2130706433:3000/app/', ALLOW, 'one decimal number'],
  ['http://017700000001:3000/app/', ALLOW, 'one octal number'],
  ['http://0177.0.0.1:3000/app/', ALLOW, 'octal 0177 = 127'],
  ['http://127.000.000.001:3000/app/', ALLOW, 'octal zeros'],
  ['http://0x7f.1:3000/app/', ALLOW, ''],
  ['http://127.0.0.0x1:3000/app/', ALLOW, ''],
  ['http://127.0.0.01:3000/app/', ALLOW, 'octal 01'],
  ['http://0x7f.0x0.0x0.0x1:3000/app/', ALLOW, ''],
  ['http://0x000007f.0.0.1:3000/app/', ALLOW, ''],
  ['http://0127.0.0.1:3000/app/', DENY, 'octal 0127 = 87: 87.0.0.1'],
  ['http://127.0.0.2:3000/app/', DENY, 'another loopback address, not the entry'],
  ['http://localhost:3000/app/', DENY, 'not the listed host'],
  ['http://LOCALHOST:3000/app/', DENY, ''],
  ['http://[::1]:3000/app/', DENY, ''],
  ['http://[::ffff:127.0.0.1]:3000/app/', DENY, 'IPv6 host, not IPv4'],
  ['http://[::ffff:7f00:1]:3000/app/', DENY, ''],
  ['http://[::127.0.0.1]:3000/app/', DENY, ''],
  ['http://[0:0:0:0:0:0:0:1]:3000/app/', DENY, ''],
  ['http://[127.0.0.1]:3000/app/', DENY, 'invalid IPv6'],
  ['https://[::1]:3000/app/', DENY, ''],
  ['http://127.0.0.1.nip.io:3000/app/', DENY, ''],
  ['http://127.0.0.1.evil.com:3000/app/', DENY, ''],
  ['http://evil.com#127.0.0.1:3000/app/', DENY, ''],
  ['http://0:3000/app/', DENY, '0.0.0.0'],
  ['http://0.0.0.0:3000/app/', DENY, ''],
  ['http://127.0.0.256:3000/app/', DENY, 'invalid IPv4'],
  ['http://127.0.0.1.1:3000/app/', DENY, 'five parts: invalid'],
  ['http://1.127.0.0.1:3000/app/', DENY, ''],
  ['http://127.0.0.08:3000/app/', DENY, 'invalid octal'],
  ['http://127.16777216:3000/app/', DENY, 'second part too large'],
  ['http://4294967296:3000/app/', DENY, 'out of range'],
  ['http://2130706433.:3000/app/', ALLOW, 'one number with trailing dot'],
  ['http://127.0.0.1:3000/app/?host=evil.com', ALLOW, ''],
  ['http://127.0.0.1:3000/app/#', DENY, ''],
  ['http://0x7f.0.0.1:3001/app/', DENY, 'wrong port'],
  ['https://0x7f.0.0.1:3000/app/', DENY, 'https'],
  ['http://0x7f.0.0.1:3000/ap/', DENY, 'wrong path'],
]) c('ip_host', v, x, n);

// ---------------------------------------------------------------------------------------------
// host_confusion: the listed name as a prefix, suffix, path, query or credential of another
for (const [x, v, n] of [
  ['https://app.example.com.evil.com/auth/', DENY, ''],
  ['https://evil-app.example.com/auth/', DENY, ''],
  ['https://evilapp.example.com/auth/', DENY, ''],
  ['https://app.example.co/auth/', DENY, ''],
  ['https://app.example.comevil.com/auth/', DENY, ''],
  ['https://app-example.com/auth/', DENY, ''],
  ['https://appexample.com/auth/', DENY, ''],
  ['https://app.example.com_evil.com/auth/', DENY, ''],
  ['https://evil.com/app.example.com/auth/', DENY, ''],
  ['https://evil.com/https://app.example.com/auth/', DENY, ''],
  ['https://evil.com?app.example.com/auth/', DENY, ''],
  ['https://evil.com;app.example.com/auth/', DENY, ''],
  ['https://evil.com&app.example.com/auth/', DENY, ''],
  ['https://app.example.com?.evil.com', DENY, 'path /'],
  ['https://app.example.com;/auth/', DENY, 'host app.example.com;'],
  ['https://app.example.com,evil.com/auth/', DENY, ''],
  ['https://*.app.example.com/auth/', DENY, ''],
  ['https://app.example.com%00.evil.com/auth/', DENY, ''],
  ['https://[app.example.com]/auth/', DENY, ''],
  ['https://app.example.com:8443.evil.com/cb', DENY, ''],
  ['https://xn--bcher-kva.examplex/', DENY, ''],
  ['https://xxn--bcher-kva.example/', DENY, ''],
  ['https://evil.com/xn--bcher-kva.example/', DENY, ''],
  ['http://127.0.0.1:3000.evil.com/app/', DENY, ''],
  ['https://app.example.com"/auth/', DENY, 'host app.example.com"'],
  ['https://app.example.com`/auth/', DENY, ''],
  ['https://app.example.com{}/auth/', DENY, ''],
  ['https://<app.example.com>/auth/', DENY, ''],
  ['https://app.example.com<>/auth/', DENY, ''],
  ['https://app.example.com^/auth/', DENY, ''],
  ['https://app.example.com|/auth/', DENY, ''],
  ['https://app.example.com~/auth/', DENY, ''],
  ['https://app.example.com!/auth/', DENY, ''],
  ['https://app.example.com$/auth/', DENY, ''],
]) c('host_confusion', v, x, n);
for (const e of NAMED) {
  for (const pre of ['evil.', 'evil-', 'x', 'www.', 'app.', '.']) {
    c('host_confusion', DENY, u(e, { host: pre + e.host }), 'prefixed host');
  }
  for (const suf of ['.evil.com', 'evil.com', '-evil.com', '.co', 'x', '_', ';evil.com']) {
    c('host_confusion', DENY, u(e, { host: e.host + suf }), 'suffixed host');
  }
  c('host_confusion', DENY, `https://evil.com/${e.host}${e.port}${e.path}`, 'listed origin in the path');
  c('host_confusion', DENY, `https://evil.com/?${e.scheme}://${e.host}${e.port}${e.path}`, 'listed URL in the query');
}

// ---------------------------------------------------------------------------------------------
// long: at most 2048 characters (counted on the input as given)
{
  const fill = (prefix, total, ch = 'a', suffix = '') => {
    const n = total - prefix.length - suffix.length;
    return prefix + ch.repeat(n).slice(0, n) + suffix;
  };
  for (const e of ENTRIES) {
    const base = `${e.scheme}://${e.host}${e.port}${e.path === '/cb' ? '/cb/' : e.path}`;
    c('long', ALLOW, fill(base, 2047), '2047 characters');
    c('long', ALLOW, fill(base, 2048), 'exactly 2048 characters');
    c('long', DENY, fill(base, 2049), '2049 characters');
    c('long', DENY, fill(base, 4096), '4096 characters');
    c('long', ALLOW, fill(base + '?q=', 2048, 'b'), '2048 characters, long query');
    c('long', DENY, fill(base + '?q=', 2049, 'b'), '2049 characters, long query');
  }
  const A0 = 'https://app.example.com/auth/';
  c('long', DENY, fill(A0, 20000), '20000 characters');
  c('long', DENY, fill(A0, 10000, 'x/'), '');
  c('long', ALLOW, fill(' ', 2048 - A0.length, ' ') + A0, '2048 with leading spaces (stripped by the parser)');
  c('long', DENY, ' '.repeat(2049 - A0.length) + A0, '2049 with leading spaces: the limit is on the input');
  c('long', DENY, fill(A0, 2048, 'a b '), '2048 input bytes, but spaces become %20: the re-serialised URL is over 2048');
  c('long', ALLOW, fill(A0, 1000, 'a b '), 'spaces become %20 and the re-serialised URL stays under 2048');
  c('long', ALLOW, A0 + 'a/../'.repeat(400), '2029 characters of dot segments resolving to /auth/');
  c('long', DENY, A0 + '../'.repeat(600) + 'x', 'resolves to /x');
  c('long', ALLOW, A0 + './'.repeat(900), '1829 characters of ./');
  c('long', DENY, A0 + '%2e%2e/'.repeat(10) + 'x', 'resolves to /x');
  c('long', DENY, 'https://' + 'a'.repeat(2000) + '@app.example.com/auth/', 'too long and credentials');
  c('long', DENY, 'https://' + 'a'.repeat(1900) + '@app.example.com/auth/', 'long credentials');
  c('long', DENY, 'https://' + 'a'.repeat(60) + '.app.example.com/auth/', 'long subdomain');
  c('long', DENY, 'https://' + 'a'.repeat(64) + '.example.com/auth/', '64-character label');
  c('long', DENY, 'https://' + 'sub.'.repeat(450) + 'app.example.com/auth/', 'many subdomains');
  c('long', DENY, fill(A0 + '?', 2040, 'x') + '#fragment', 'fragment at the end');
  c('long', DENY, fill(A0 + '?', 2037, 'x') + '&userId=1', 'reserved parameter at the end');
  c('long', DENY, fill(A0 + '?', 2045, 'x') + '&userId=1', 'over 2048 characters');
  c('long', DENY, fill('https://evil.com/', 2048), 'long but wrong host');
  c('long', ALLOW, A0 + '\u00e9'.repeat(100), 'non-ASCII path, 129 characters (229 UTF-8 bytes)');
  c('long', DENY, A0 + '\u00e9'.repeat(2100), 'non-ASCII path, 2129 characters (over the limit in any unit)');
  c('long', ALLOW, A0 + '%41'.repeat(673), '2048 characters of escapes');
  c('long', DENY, A0 + '%41'.repeat(674), '2051 characters of escapes');
}

// ---------------------------------------------------------------------------------------------
// malformed: not an absolute URL at all
for (const [x, v, n] of [
  ['', DENY, 'empty: the parameter is missing'],
  ['not a url', DENY, ''],
  ['https://', DENY, 'empty host'],
  ['https:///', DENY, ''],
  ['https://:443/auth/', DENY, ''],
  ['https://?/auth/', DENY, ''],
  ['https://#', DENY, ''],
  ['http://', DENY, ''],
  [':', DENY, ''],
  ['//', DENY, ''],
  ['/', DENY, ''],
  ['?', DENY, ''],
  ['#', DENY, ''],
  ['@', DENY, ''],
  ['.', DENY, ''],
  ['app.example.com', DENY, ''],
  ['https://app.example.com:8443:8443/cb', DENY, ''],
  ['https://[::1/', DENY, ''],
  ['https://[/', DENY, ''],
  ['https://]/', DENY, ''],
  ['https://%/', DENY, ''],
  ['https://app.example.com\\', DENY, 'path /: not under /auth/'],
  ['https:', DENY, ''],
  ['https:/', DENY, ''],
  ['https:\\', DENY, ''],
  ['\\', DENY, ''],
  ['%', DENY, ''],
  ['https://app.example.com:/', DENY, 'path /'],
]) c('malformed', v, x, n);

// ---------------------------------------------------------------------------------------------
// TSV output with escapes. The url and note columns escape:
//   \\ backslash   \t tab   \n LF   \r CR   \xHH an ASCII control (00-1F, 7F) or a space at the
//   start or end of the field   \u{H..} any other invisible code point (controls, format,
//   separators, combining marks).
function esc(s) {
  let out = '';
  const chars = [...s];
  chars.forEach((ch, i) => {
    const cp = ch.codePointAt(0);
    if (ch === '\\') out += '\\\\';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (ch === ' ' && (i === 0 || i === chars.length - 1)) out += '\\x20';
    else if (cp > 0x7f && /[\p{C}\p{Z}\p{M}]/u.test(ch)) out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  });
  return out;
}

// An independent oracle: node's WHATWG URL plus the rules. Used by --check only.
function oracle(raw) {
  if (raw.length === 0) return DENY;
  if (Buffer.byteLength(raw) > 2048) return DENY;
  let url;
  try { url = new URL(raw); } catch { return DENY; }
  if (Buffer.byteLength(url.href) > 2048) return DENY;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return DENY;
  if (url.username !== '' || url.password !== '') return DENY;
  if (url.href.includes('#')) return DENY;
  for (const k of new URLSearchParams(url.search).keys()) if (['userId', 'secret', 'error', 'state'].includes(k)) return DENY;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const entry of ALLOW_LIST) {
    const e = new URL(entry);
    const ePort = e.port || (e.protocol === 'https:' ? '443' : '80');
    if (e.protocol !== url.protocol || e.hostname !== url.hostname || ePort !== port) continue;
    const p = url.pathname;
    if (!(e.pathname.endsWith('/') ? p.startsWith(e.pathname) : (p === e.pathname || p.startsWith(e.pathname + '/')))) continue;
    return p.split('/').every(segmentIsPlain) ? ALLOW : DENY;
  }
  return DENY;
}

// One percent-decoding of a segment, as bytes; invalid escapes are kept as they are.
function decodeOnce(bytes) {
  const out = [];
  const hex = (b) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x25 && i + 2 < bytes.length && hex(bytes[i + 1]) && hex(bytes[i + 2])) {
      out.push(parseInt(String.fromCharCode(bytes[i + 1], bytes[i + 2]), 16));
      i += 2;
    } else out.push(bytes[i]);
  }
  return Buffer.from(out);
}

// A segment is plain when none of its decodings (up to 8, and it must be stable by then) holds
// / or \ or is a dot segment, alone or before a ;parameter.
function segmentIsPlain(segment) {
  let bytes = Buffer.from(segment, 'latin1');
  for (let round = 0; ; round++) {
    const text = bytes.toString('latin1');
    if (text.includes('/') || text.includes('\\')) return false;
    const name = text.split(';')[0];
    if (name === '.' || name === '..') return false;
    const next = decodeOnce(bytes);
    if (next.equals(bytes)) return true;
    if (round === 8) return false;
    bytes = next;
  }
}

// A url listed twice keeps its first class; two different verdicts for one url is an error.
{
  const seen = new Map();
  const unique = [];
  for (const k of cases) {
    if (/[\t\n\r]/.test(k.note)) throw new Error('note with tab or newline');
    const first = seen.get(k.url);
    if (first) {
      if (first.verdict !== k.verdict) throw new Error(`conflicting verdicts for ${JSON.stringify(k.url)}`);
      continue;
    }
    seen.set(k.url, k);
    unique.push(k);
  }
  cases.length = 0;
  cases.push(...unique);
}

if (process.argv.includes('--check')) {
  let bad = 0;
  for (const k of cases) {
    const o = oracle(k.url);
    if (o !== k.verdict) {
      bad++;
      console.log(`MISMATCH ${k.cls} hand=${k.verdict} whatwg=${o} ${JSON.stringify(k.url)}`);
    }
  }
  console.log(`${cases.length} cases, ${bad} disagreements with the WHATWG oracle`);
  process.exit(bad ? 1 : 0);
}

const header = [
  '# Open-redirect corpus for AllowList::check (src/return_urls.rs), read by',
  '# tests/integration/redirect_corpus.rs. Generated by gen_corpus.mjs in this directory; edit',
  '# the generator, then run `node tests/redirect-corpus/gen_corpus.mjs` (and `--check`).',
  '#',
  '# Every case is checked against this fixed allow-list:',
  ...ALLOW_LIST.map((e) => `#   ${e}`),
  '#',
  '# Verdicts follow the rules, applied to the WHATWG parse of the url: at most 2048 bytes as given',
  '# and as re-serialised;',
  '# an absolute http or https URL; no username or password; no fragment; no userId, secret,',
  '# error or state query parameter; scheme, host and port (or default) equal to an entry and the path',
  '# under the entry path (/auth/ = prefix; /cb = /cb or /cb/...); no path segment that, percent-',
  '# decoded up to 8 times (and stable by then), holds / or \\ or is . or .. (alone or before ;).',
  '#',
  '# Columns (tab-separated): class, verdict (allow|deny), url, note. Lines starting with # are',
  '# comments; the first non-comment line is the column header.',
  '# Escapes in url and note: \\\\ = backslash, \\t = tab, \\n = LF, \\r = CR, \\xHH = the ASCII',
  '# character HH (00-7F; used for controls and for a space at either end of a field),',
  '# \\u{H...} = the Unicode code point H (used for invisible characters). No other escapes.',
];
const lines = [...header, 'class\tverdict\turl\tnote'];
for (const k of cases) lines.push([k.cls, k.verdict, esc(k.url), esc(k.note)].join('\t'));
const out = join(dirname(fileURLToPath(import.meta.url)), 'corpus.tsv');
writeFileSync(out, lines.join('\n') + '\n');
const byClass = {};
for (const k of cases) {
  byClass[k.cls] ??= { allow: 0, deny: 0 };
  byClass[k.cls][k.verdict]++;
}
console.table(byClass);
console.log(`${cases.length} cases written to ${out}`);
