/**
 * The remote loop behind wait_for, in POSIX sh (dash, busybox): it checks, sleeps and checks
 * again until the wanted state holds or time runs out, and prints one verdict line:
 * `@ok <elapsed seconds>`, `@timeout`, or `@notool` (nothing on the host can make the check).
 */
import { sh } from '../../engine/shell.js';

export type WaitCheck =
  | { kind: 'listen'; port: number; absent: boolean }
  | { kind: 'tcp'; host: string; port: number; absent: boolean; connectTimeout: number }
  | { kind: 'path'; path: string; absent: boolean; regex?: string }
  | { kind: 'http'; url: string; codes: number[]; absent: boolean; validateCerts: boolean; connectTimeout: number }
  | { kind: 'sleep' };

export interface WaitTimes {
  timeout: number;
  delay: number;
  sleep: number;
}

/** `once`: look a single time, without delay or waiting (check mode). */
export function waitScript(spec: WaitTimes & { check: WaitCheck }, once: boolean): string {
  const { check } = spec;
  if (check.kind === 'sleep')
    return once ? 'echo "@ok 0"' : `sleep ${spec.delay + spec.timeout}; echo "@ok ${spec.delay + spec.timeout}"`;
  const timeout = once ? 0 : spec.timeout;
  return [
    ...checkFunction(check),
    'start=$(date +%s)',
    once || spec.delay === 0 ? '' : `sleep ${spec.delay}`,
    `end=$(( $(date +%s) + ${timeout} ))`,
    'while :; do',
    `  if ${check.absent ? '! ' : ''}furrow_check; then echo "@ok $(( $(date +%s) - start ))"; exit 0; fi`,
    '  if [ "$(date +%s)" -ge "$end" ]; then echo "@timeout"; exit 0; fi',
    `  sleep ${spec.sleep}`,
    'done',
  ]
    .filter(Boolean)
    .join('\n');
}

/** Defines `furrow_check`, which succeeds when the thing is there (listening, present, answering). */
function checkFunction(check: Exclude<WaitCheck, { kind: 'sleep' }>): string[] {
  switch (check.kind) {
    case 'listen':
      return [listenCheck(check.port)];
    case 'tcp':
      return tcpCheck(check.host, check.port, check.connectTimeout);
    case 'path':
      return [
        check.regex === undefined
          ? sh`furrow_check() { [ -e ${check.path} ] || [ -L ${check.path} ]; }`
          : sh`furrow_check() { [ -f ${check.path} ] && grep -Eq -e ${check.regex} -- ${check.path} 2>/dev/null; }`,
      ];
    case 'http':
      return httpCheck(check.url, check.codes, check.validateCerts, check.connectTimeout);
  }
}

/** A LISTEN socket (state 0A) on the port in /proc/net/tcp or tcp6, where ports are 4 hex digits. */
export function listenCheck(port: number): string {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const pattern = `^ *[0-9]+: [0-9A-F]+:${hex} [0-9A-F]+:[0-9A-F]+ 0A `;
  return sh`furrow_check() { grep -Eq ${pattern} /proc/net/tcp /proc/net/tcp6 2>/dev/null; }`;
}

function tcpCheck(host: string, port: number, connectTimeout: number): string[] {
  return [
    'if command -v nc >/dev/null 2>&1; then',
    sh`  furrow_check() { nc -z -w ${connectTimeout} ${host} ${port} >/dev/null 2>&1; }`,
    'elif command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then',
    // bash, not sh, knows /dev/tcp; host and port reach it as $0 and $1, never as code.
    sh`  furrow_check() { timeout ${connectTimeout} bash -c 'exec 3<>"/dev/tcp/$0/$1"' ${host} ${port} ` +
      sh`>/dev/null 2>&1; }`,
    'else echo "@notool"; exit 0; fi',
  ];
}

function httpCheck(url: string, codes: number[], validateCerts: boolean, connectTimeout: number): string[] {
  const wanted = ` ${codes.join(' ')} `;
  const insecureCurl = validateCerts ? '' : ' -k';
  const insecureWget = validateCerts ? '' : ' --no-check-certificate';
  return [
    'if command -v curl >/dev/null 2>&1; then',
    `  furrow_status() { curl -s -o /dev/null ` +
      `-w '%{http_code}'${insecureCurl} ${sh`--max-time ${connectTimeout} -- ${url}`}; }`,
    'elif command -v wget >/dev/null 2>&1; then',
    // wget prints the response headers on stderr with -S; the last status line is the final one.
    `  furrow_status() { wget -S ` +
      `-O /dev/null -t 1${insecureWget} ${sh`-T ${connectTimeout} -- ${url}`} 2>&1 | sed -n 's/^ *HTTP\\/[0-9.]* ` +
      `\\([0-9][0-9][0-9]\\).*/\\1/p' | tail -n 1; }`,
    'else echo "@notool"; exit 0; fi',
    sh`furrow_check() { s=$(furrow_status); case ${wanted} in *" $s "*) [ -n "$s" ];; *) return 1;; esac; }`,
  ];
}
