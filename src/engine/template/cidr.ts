/**
 * Address math for templates, with Terraform's semantics: `cidrhost`, `cidrnetmask` and
 * `cidrprefix`. IPv4 and IPv6; addresses are held as bigints so both share one code path.
 * Errors are plain Errors whose message says what is wrong; the template layer adds the place.
 */

interface Cidr {
  /** The network address (host bits cleared). */
  network: bigint;
  prefix: number;
  /** 32 or 128. */
  bits: number;
}

/** The n-th address of a CIDR; a negative n counts from the end (-1 is the last address). */
export function cidrHost(cidr: string, hostNumber: number): string {
  const { network, prefix, bits } = parseCidr(cidr);
  const size = 1n << BigInt(bits - prefix);
  const wanted = BigInt(hostNumber);
  const offset = wanted < 0n ? size + wanted : wanted;
  if (offset < 0n || offset >= size) {
    throw new Error(`${cidr} has ${size} addresses: host number ${hostNumber} is out of range`);
  }
  return formatAddress(network + offset, bits);
}

/** The dotted netmask of an IPv4 CIDR ("10.0.0.0/16" -> "255.255.0.0"). */
export function cidrNetmask(cidr: string): string {
  const { prefix, bits } = parseCidr(cidr);
  if (bits !== 32) throw new Error(`cidrnetmask only applies to IPv4, not ${cidr}`);
  return formatAddress(maskOf(prefix, bits), bits);
}

/** The prefix length of a CIDR ("10.0.0.0/16" -> 16). */
export function cidrPrefix(cidr: string): number {
  return parseCidr(cidr).prefix;
}

/** Whether two CIDRs share any address (of one family; IPv4 and IPv6 never overlap). */
export function cidrsOverlap(a: string, b: string): boolean {
  const [x, y] = [parseCidr(a), parseCidr(b)];
  if (x.bits !== y.bits) return false;
  const prefix = Math.min(x.prefix, y.prefix);
  const mask = maskOf(prefix, x.bits);
  return (x.network & mask) === (y.network & mask);
}

function parseCidr(cidr: string): Cidr {
  if (typeof cidr !== 'string') throw new Error(`expected a CIDR string such as "10.0.0.0/16", got ${describe(cidr)}`);
  const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!match) throw new Error(`'${cidr}' is not a CIDR: expected address/prefix such as "10.0.0.0/16"`);
  const address = parseAddress(match[1]);
  if (address === undefined) throw new Error(`'${match[1]}' in '${cidr}' is not an IPv4 or IPv6 address`);
  const bits = match[1].includes(':') ? 128 : 32;
  const prefix = Number(match[2]);
  if (prefix > bits) throw new Error(`prefix /${prefix} in '${cidr}' is longer than ${bits} bits`);
  return { network: address & maskOf(prefix, bits), prefix, bits };
}

function maskOf(prefix: number, bits: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return all ^ ((1n << BigInt(bits - prefix)) - 1n);
}

function parseAddress(text: string): bigint | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

function parseIpv6(text: string): bigint | undefined {
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // An embedded IPv4 tail (::ffff:10.0.0.1) stands for the last two groups.
    const v4 = parseIpv4(last);
    if (v4 === undefined) return undefined;
    return parseIpv6(`${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = splitGroups(halves[0]);
  const rest = halves.length === 2 ? splitGroups(halves[1]) : [];
  if (!head || !rest) return undefined;
  const known = head.length + rest.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return undefined;
  const zeros: bigint[] = Array(8 - known).fill(0n);
  return [...head, ...zeros, ...rest].reduce((acc, g) => (acc << 16n) | g, 0n);
}

function splitGroups(text: string): bigint[] | undefined {
  if (text === '') return [];
  const groups = text.split(':');
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => BigInt(`0x${g}`));
}

function formatAddress(value: bigint, bits: number): string {
  if (bits === 32) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  return compressIpv6(groups);
}

/** RFC 5952: lower case, no leading zeros, the longest run (of two or more) of zero groups as "::". */
function compressIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; i++) {
    let length = 0;
    while (i + length < 8 && groups[i + length] === 0) length++;
    if (length > bestLength) [bestStart, bestLength] = [i, length];
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function describe(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}
