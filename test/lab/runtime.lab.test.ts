import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { hostVars, loadInventory } from '../../src/engine/inventory/index.js';
import { labLayout } from '../../src/lab/layout.js';
import { buildDebRepo } from '../../src/repo/index.js';
import { CONTAINERD_BINARIES, DOCKER_BINARIES, runtimeBinariesFromDebian } from '../support/runtime-binaries.js';
import {
  changedCounts,
  describeLab,
  expectExit,
  FINGERPRINT_SCRIPT,
  fingerprintChanges,
  furrow,
  LabHosts,
  labTestName,
  leftBehind,
  recap,
} from './support.js';

/**
 * Step 03 on a 4-host lab through `furrow deploy runtime`, as an operator runs it, with both
 * runtimes and both ways of installing each, chosen per host in the cluster's host_vars:
 * containerd from the cluster's bin/ (h1) and from the OS package (h2), docker from bin/ (h3) and
 * from the OS package (h4). Binaries come from Debian's packages, the packages from the repository
 * the deploy serves. The settings are proven on the running daemons: containerd's through the CRI
 * Status call (what `crictl info` shows; Debian has no crictl) made from the controller over the
 * host's socket, docker's through `docker info` and a created (never started) container. Then a
 * second run changes and restarts nothing, and a changed setting restarts only its own runtime.
 */
const NAME = labTestName('t-runtime');
const HOSTS = ['h1', 'h2', 'h3', 'h4'] as const;
type HostName = (typeof HOSTS)[number];
const SETUP: Record<HostName, { runtime: 'containerd' | 'docker'; install: 'binaries' | 'package'; bin: string }> = {
  h1: { runtime: 'containerd', install: 'binaries', bin: '/opt/kube/bin' },
  h2: { runtime: 'containerd', install: 'package', bin: '/usr/bin' },
  h3: { runtime: 'docker', install: 'binaries', bin: '/opt/kube/bin' },
  h4: { runtime: 'docker', install: 'package', bin: '/usr/bin' },
};
const CONTAINERD_HOSTS = HOSTS.filter((h) => SETUP[h].runtime === 'containerd');
const DOCKER_HOSTS = HOSTS.filter((h) => SETUP[h].runtime === 'docker');
const SANDBOX = '127.0.0.1:5000/furrow/pause:3.9';
const TEST_IMAGE = '127.0.0.1:5000/furrow/hello:1';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

// --- CRI over the host's containerd socket: RuntimeService/Status with verbose=true, as `crictl info`.

/** One unary gRPC call over a unix socket (HTTP/2 without TLS): the response message's bytes. */
function grpcUnary(
  socketPath: string,
  method: string,
  request: Buffer,
): Promise<{ status: string; message: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
    const timer = setTimeout(() => client.destroy(new Error(`${method}: no answer within 10 s`)), 10_000);
    client.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const req = client.request({
      ':method': 'POST',
      ':path': method,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(request.length, 1);
    const chunks: Buffer[] = [];
    let status = '';
    let message = '';
    const note = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
    };
    req.on('response', note);
    req.on('trailers', note);
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', reject);
    req.on('end', () => {
      clearTimeout(timer);
      client.close();
      const data = Buffer.concat(chunks);
      resolve({
        status,
        message,
        body: data.length >= 5 ? data.subarray(5, 5 + data.readUInt32BE(1)) : Buffer.alloc(0),
      });
    });
    req.end(Buffer.concat([frame, request]));
  });
}

/** Protocol buffers wire format: the fields of one message as [number, value] (varints and bytes). */
function protoFields(buf: Buffer): Array<[number, number | Buffer]> {
  const out: Array<[number, number | Buffer]> = [];
  let pos = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 0) out.push([key >>> 3, varint()]);
    else if (wire === 2) {
      const n = varint();
      out.push([key >>> 3, buf.subarray(pos, pos + n)]);
      pos += n;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`protobuf wire type ${wire} at ${pos}`);
  }
  return out;
}

interface CriStatus {
  api: string;
  conditions: Record<string, boolean>;
  info: Record<string, string>;
}

/** StatusRequest{verbose: true} (bytes 08 01); StatusResponse{1: RuntimeStatus, 2: map info}. */
async function criStatus(socketPath: string): Promise<CriStatus> {
  const tried: string[] = [];
  for (const api of ['runtime.v1', 'runtime.v1alpha2']) {
    const r = await grpcUnary(socketPath, `/${api}.RuntimeService/Status`, Buffer.from([0x08, 0x01]));
    if (r.status !== '0') {
      tried.push(`${api}: grpc-status ${r.status} ${r.message}`);
      continue;
    }
    const status: CriStatus = { api, conditions: {}, info: {} };
    for (const [field, value] of protoFields(r.body)) {
      if (!Buffer.isBuffer(value)) continue;
      if (field === 1) {
        for (const [f, cond] of protoFields(value)) {
          if (f !== 1 || !Buffer.isBuffer(cond)) continue;
          const c = new Map(protoFields(cond));
          status.conditions[String(c.get(1) ?? '')] = c.get(2) === 1;
        }
      } else if (field === 2) {
        const entry = new Map(protoFields(value));
        status.info[String(entry.get(1) ?? '')] = String(entry.get(2) ?? '');
      }
    }
    return status;
  }
  throw new Error(`CRI Status failed: ${tried.join('; ')}`);
}

/** The CRI plugin's configuration as containerd loaded it (info["config"] of a verbose Status). */
interface CriConfig {
  sandboxImage: string;
  containerdRootDir: string;
  containerd: {
    snapshotter: string;
    defaultRuntimeName: string;
    runtimes: Record<string, { runtimeType: string; options: Record<string, unknown> }>;
  };
  cni: { binDir: string; confDir: string };
  registry: { configPath: string };
}

/** A docker-archive image made by hand (one layer, one file): `docker load` and `ctr import` take it. */
function makeImageArchive(dir: string, tag: string): string {
  const layerDir = path.join(dir, 'layer');
  mkdirSync(layerDir, { recursive: true });
  writeFileSync(path.join(layerDir, 'hello.txt'), 'hello from furrow\n');
  execFileSync('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '-C',
    layerDir,
    '-cf',
    path.join(dir, 'layer.tar'),
    'hello.txt',
  ]);
  const diffId = `sha256:${sha256(readFileSync(path.join(dir, 'layer.tar')))}`;
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/hello.txt'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
  });
  const configName = `${sha256(config)}.json`;
  writeFileSync(path.join(dir, configName), config);
  writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: ['layer.tar'] }]),
  );
  const archive = path.join(dir, 'image.tar');
  execFileSync('tar', ['-C', dir, '-cf', archive, 'manifest.json', configName, 'layer.tar']);
  return archive;
}

describeLab('furrow deploy runtime: containerd and docker, from bin/ and from packages, on 4 lab hosts', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-runtime-lab-'));
  const cluster = path.join(cwd, 'cluster');
  const labInventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const hosts = new LabHosts();
  let gateway = '';

  const on = hosts.on;
  const fresh: Partial<Record<HostName, string>> = {};

  const deploy = (...extra: string[]) =>
    furrow(['deploy', 'runtime', '-i', cluster, ...extra], { cwd, timeoutMs: 300_000 });

  /** The containerd socket of a lab host, from the controller: through its container's init. */
  function containerdSocket(host: string): string {
    const state = JSON.parse(readFileSync(path.join(labLayout(NAME).dir, 'state.json'), 'utf8')) as {
      hosts: Array<{ name: string; leader?: { pid: number } }>;
    };
    const leader = state.hosts.find((h) => h.name === host)?.leader;
    if (!leader) throw new Error(`the lab recorded no container init for ${host}`);
    return `/proc/${leader.pid}/root/run/containerd/containerd.sock`;
  }

  async function criConfig(host: string): Promise<{ status: CriStatus; config: CriConfig }> {
    const status = await criStatus(containerdSocket(host));
    return { status, config: JSON.parse(status.info.config!) as CriConfig };
  }

  /** The fields of `docker info` these tests read. */
  interface DockerInfo {
    Driver: string;
    CgroupDriver: string;
    DockerRootDir: string;
    LoggingDriver: string;
    LiveRestoreEnabled: boolean;
    RegistryConfig: { Mirrors: string[]; IndexConfigs: Record<string, { Name: string; Secure: boolean }> };
    ContainerdCommit: { ID: string };
  }
  const dockerInfo = async (host: HostName) =>
    JSON.parse(await on(host, `${SETUP[host].bin}/docker info --format '{{json .}}'`)) as DockerInfo;

  /** The daemon's default log settings as a new container gets them (created, never started). */
  async function dockerLogConfig(host: HostName): Promise<unknown> {
    const docker = `${SETUP[host].bin}/docker`;
    await on(
      host,
      `${docker} rm -f furrow-logs >/dev/null 2>&1; ${docker} create --name furrow-logs ${TEST_IMAGE} >/dev/null`,
    );
    const config = JSON.parse(
      await on(host, `${docker} inspect --format '{{json .HostConfig.LogConfig}}' furrow-logs`),
    ) as unknown;
    await on(host, `${docker} rm furrow-logs >/dev/null`);
    return config;
  }

  /** The command line systemd runs for a unit. */
  const execStart = (host: string, unit: string) =>
    on(host, `systemctl show -p ExecStart --value ${unit} | sed -n 's/.*argv\\[\\]=\\([^;]*\\) ;.*/\\1/p'`);

  /** What tells a restart: the unit's start time, its invocation, its restart count, its PID. */
  async function unitState(host: string, unit: string): Promise<string> {
    return on(
      host,
      `systemctl show -p ActiveState -p ActiveEnterTimestampMonotonic -p InvocationID -p NRestarts -p MainPID ${unit}`,
    );
  }
  async function runtimeStates(): Promise<Record<string, string>> {
    const units = HOSTS.flatMap((h) =>
      SETUP[h].runtime === 'containerd' ? [[h, 'containerd.service']] : [[h, 'docker.service']],
    );
    units.push(['h4', 'containerd.service']); // the package's containerd, which dockerd uses there
    const states = await Promise.all(units.map(async ([h, u]) => [`${h} ${u}`, await unitState(h!, u!)] as const));
    return Object.fromEntries(states);
  }

  beforeAll(async () => {
    mkdirSync(cluster, { recursive: true });
    const [up] = await Promise.all([
      furrow(['lab', 'up', '--hosts', '4', '--name', NAME], { cwd }),
      buildDebRepo({ packages: ['containerd', 'docker.io'], dir: path.join(cluster, 'repo') }),
      runtimeBinariesFromDebian(path.join(cluster, 'bin')),
    ]);
    expectExit(up, 0);
    expectExit(await furrow(['new', cluster, '--from-lab', NAME, '--no-bundle'], { cwd }), 0);
    const inv = await loadInventory(labInventory);
    gateway = String(hostVars(inv, 'h1').furrow_lab_gateway);
    // The cluster's settings: only loopback and lab addresses (the hosts have no route out).
    const settings = [
      `SANDBOX_IMAGE: ${SANDBOX}`,
      `INSECURE_REG: ["http://127.0.0.1:5000", "https://${gateway}:5443"]`,
      'ENABLE_MIRROR_REGISTRY: true',
      `registry_mirrors: ["http://127.0.0.1:5001", "https://${gateway}:5443"]`,
    ];
    // The lab settings name the lab's own sandbox image; this test's settings replace that line.
    const labSettings = readFileSync(path.join(cluster, 'config.yml'), 'utf8').replace(/^SANDBOX_IMAGE:.*\n/m, '');
    writeFileSync(path.join(cluster, 'config.yml'), `${labSettings}${settings.join('\n')}\n`);
    mkdirSync(path.join(cluster, 'host_vars'));
    for (const h of HOSTS) {
      const vars = [`CONTAINER_RUNTIME: ${SETUP[h].runtime}`, `${SETUP[h].runtime}_install: ${SETUP[h].install}`];
      writeFileSync(path.join(cluster, 'host_vars', `${h}.yml`), `${vars.join('\n')}\n`);
    }
    const archive = makeImageArchive(path.join(cwd, 'image'), TEST_IMAGE);
    await hosts.connect(labInventory, HOSTS, cwd);
    for (const h of HOSTS) await hosts.get(h).put('/root/hello-image.tar', { path: archive });
    // Each host before the first deploy: `cluster destroy` must bring it back to this.
    for (const h of HOSTS) fresh[h] = await on(h, FINGERPRINT_SCRIPT);
  }, 900_000);

  afterAll(async () => {
    await hosts.close();
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  }, 120_000);

  test('deploy runtime: containerd on h1 (bin/) and h2 (package), docker on h3 (bin/) and h4 ' +
    '(package), all active', async () => {
    const r = await deploy();
    expectExit(r, 0);
    expect(Object.keys(recap(r.stdout)).sort()).toEqual([...HOSTS]);
    for (const counts of Object.values(recap(r.stdout))) expect([counts.failed, counts.unreachable]).toEqual([0, 0]);
    // Each host runs its own runtime only, from where its install mode puts it.
    for (const h of CONTAINERD_HOSTS) {
      expect(await on(h, 'systemctl is-active containerd.service; systemctl is-enabled containerd.service')).toBe(
        'active\nenabled',
      );
      expect(await execStart(h, 'containerd.service')).toBe(
        `${SETUP[h].bin}/containerd --config /etc/containerd/config.toml`,
      );
      expect(await on(h, 'test -e /usr/bin/dockerd || test -e /opt/kube/bin/dockerd || echo no docker')).toBe(
        'no docker',
      );
      expect(await on(h, 'cat /etc/crictl.yaml | grep endpoint')).toBe(
        'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: ' +
          'unix:///run/containerd/containerd.sock',
      );
    }
    for (const h of DOCKER_HOSTS) {
      expect(await on(h, 'systemctl is-active docker.service; systemctl is-enabled docker.service')).toBe(
        'active\nenabled',
      );
      expect(await execStart(h, 'docker.service')).toBe(
        h === 'h4'
          ? '/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock'
          : '/opt/kube/bin/dockerd',
      );
    }
    // From bin/: the very files of the cluster folder (crictl is optional and absent here).
    const binaries = { h1: CONTAINERD_BINARIES, h3: DOCKER_BINARIES };
    for (const [h, names] of Object.entries(binaries)) {
      const sums = await on(h, `cd /opt/kube/bin && sha256sum ${names.join(' ')} | cut -c1-64`);
      expect(sums.split('\n')).toEqual(names.map((n) => sha256(readFileSync(path.join(cluster, 'bin', n)))));
      expect(await on(h, 'ls /opt/kube/bin | sort')).toBe([...names].sort().join('\n'));
      expect(await on(h, 'dpkg-query -W containerd docker.io 2>/dev/null || echo none')).toBe('none');
    }
    // From the package repository the deploy served.
    expect(await on('h2', "dpkg-query -W -f='${Package} ${Status}\\n' containerd runc")).toBe(
      'containerd install ok installed\nrunc install ok installed',
    );
    expect(await on('h4', "dpkg-query -W -f='${Package} ${Status}\\n' containerd docker.io")).toBe(
      'containerd install ok installed\ndocker.io install ok installed',
    );
    expect(await on('h2', 'test -d /opt/kube/bin && ls /opt/kube/bin || echo none')).toBe('none');
  }, 600_000);

  test('containerd: the CRI plugin runs with the configured settings (CRI Status, as crictl info), ' +
    'and images import', async () => {
    for (const h of CONTAINERD_HOSTS) {
      const { status, config } = await criConfig(h);
      expect(status.api).toBe('runtime.v1');
      expect(status.conditions.RuntimeReady).toBe(true);
      expect(config.sandboxImage).toBe(SANDBOX);
      expect(config.containerdRootDir).toBe('/var/lib/containerd');
      expect(config.containerd.snapshotter).toBe('native');
      expect(config.containerd.defaultRuntimeName).toBe('runc');
      expect(config.containerd.runtimes.runc!.runtimeType).toBe('io.containerd.runc.v2');
      // The lab's cluster settings (new --from-lab): cgroupfs, and oom_score_adj capped at containerd's own.
      expect(config.containerd.runtimes.runc!.options).toEqual({
        BinaryName: `${SETUP[h].bin}/runc`,
        SystemdCgroup: false,
      });
      expect((config as unknown as { restrictOOMScoreAdj: boolean }).restrictOOMScoreAdj).toBe(true);
      expect(config.registry.configPath).toBe('/etc/containerd/certs.d');
      expect(config.cni).toMatchObject({ binDir: '/opt/cni/bin', confDir: '/etc/cni/net.d' });

      // One hosts.toml per configured registry, in containerd's format.
      expect(await on(h, 'cd /etc/containerd/certs.d && ls */hosts.toml | sort')).toBe(
        [`${gateway}:5443/hosts.toml`, '127.0.0.1:5000/hosts.toml', 'docker.io/hosts.toml'].sort().join('\n'),
      );
      expect(await on(h, "grep -v '^#' /etc/containerd/certs.d/127.0.0.1:5000/hosts.toml")).toBe(
        'server = "http://127.0.0.1:5000"\n\n[host."http://127.0.0.1:5000"]\n  capabilities = ["pull", "resolve", ' +
          '"push"]\n  skip_verify = true',
      );
      expect(await on(h, "grep -v '^#' /etc/containerd/certs.d/docker.io/hosts.toml | grep .")).toBe(
        `[host."http://127.0.0.1:5001"]\n  capabilities = ["pull", ` +
          `"resolve"]\n[host."https://${gateway}:5443"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true`,
      );

      // An image goes in (unpacked by the native snapshotter) and is listed in the CRI's namespace.
      const ctr = `${SETUP[h].bin}/ctr -n k8s.io`;
      await on(h, `${ctr} images import --snapshotter native /root/hello-image.tar >/dev/null`);
      expect(await on(h, `${ctr} images ls -q`)).toContain(TEST_IMAGE);
      expect(await on(h, `${ctr} snapshots --snapshotter native ls | wc -l`)).not.toBe('1');
    }
  }, 120_000);

  test('docker: docker info shows the cgroup driver, storage driver, mirrors and insecure registries; new containers ' +
    'get the log limits', async () => {
    for (const h of DOCKER_HOSTS) {
      const info = await dockerInfo(h);
      expect(info.CgroupDriver).toBe('cgroupfs');
      expect(info.Driver).toBe('vfs');
      expect(info.DockerRootDir).toBe('/var/lib/docker');
      expect(info.LoggingDriver).toBe('json-file');
      expect(info.LiveRestoreEnabled).toBe(true);
      expect(info.RegistryConfig.Mirrors).toEqual(['http://127.0.0.1:5001/', `https://${gateway}:5443/`]);
      const insecure = Object.values(info.RegistryConfig.IndexConfigs)
        .filter((c) => !c.Secure)
        .map((c) => c.Name);
      expect(insecure.sort()).toEqual(['127.0.0.1:5000', `${gateway}:5443`].sort());
      // From bin/, dockerd runs its own containerd; from the package, the package's containerd.
      expect(info.ContainerdCommit.ID).toMatch(/^1\.6\./);

      const daemonJson = JSON.parse(await on(h, 'cat /etc/docker/daemon.json')) as Record<string, unknown>;
      expect(daemonJson['log-opts']).toEqual({ 'max-size': '50m', 'max-file': '3' });
      // docker info does not show log-opts: a created container carries the daemon's defaults.
      await on(h, `${SETUP[h].bin}/docker load -q -i /root/hello-image.tar >/dev/null`);
      expect(await on(h, `${SETUP[h].bin}/docker images --format '{{.Repository}}:{{.Tag}}'`)).toBe(TEST_IMAGE);
      expect(await dockerLogConfig(h)).toEqual({ Type: 'json-file', Config: { 'max-file': '3', 'max-size': '50m' } });
    }
  }, 120_000);

  test('second run: changed=0 on every host, no runtime restarted; check mode finds nothing to do either', async () => {
    const before = await runtimeStates();
    const r = await deploy();
    expectExit(r, 0);
    expect(r.stdout.split('\n').filter((l) => / changed: /.test(l))).toEqual([]);
    expect(changedCounts(r)).toEqual({ h1: 0, h2: 0, h3: 0, h4: 0 });
    const check = await deploy('--check');
    expectExit(check, 0);
    expect(changedCounts(check)).toEqual({ h1: 0, h2: 0, h3: 0, h4: 0 });
    expect(await runtimeStates()).toEqual(before);
    expect(Object.values(before).every((s) => s.includes('ActiveState=active') && s.includes('NRestarts=0'))).toBe(
      true,
    );
  }, 300_000);

  test('a changed setting restarts only the runtime it belongs to; registry changes reach containerd ' +
    'without a restart', async () => {
    const started = await runtimeStates();
    const newSandbox = '127.0.0.1:5000/furrow/pause:3.10';
    const sandbox = await deploy('-e', `SANDBOX_IMAGE=${newSandbox}`);
    expectExit(sandbox, 0);
    expect(changedCounts(sandbox)).toEqual({ h1: 2, h2: 2, h3: 0, h4: 0 });
    expect(sandbox.stdout).toMatch(/^h1 containerd \| changed: handler: restart containerd/m);
    const afterSandbox = await runtimeStates();
    for (const h of CONTAINERD_HOSTS) {
      expect(afterSandbox[`${h} containerd.service`]).not.toEqual(started[`${h} containerd.service`]);
      expect((await criConfig(h)).config.sandboxImage).toBe(newSandbox);
    }
    for (const key of ['h3 docker.service', 'h4 docker.service', 'h4 containerd.service'])
      expect(afterSandbox[key]).toEqual(started[key]);

    // One insecure registry less: containerd reads certs.d on every pull (no restart); dockerd restarts.
    const registries = await deploy(
      '-e',
      `SANDBOX_IMAGE=${newSandbox}`,
      '-e',
      'INSECURE_REG=["http://127.0.0.1:5000"]',
    );
    expectExit(registries, 0);
    expect(registries.stdout).not.toMatch(/restart containerd/);
    expect(changedCounts(registries)).toEqual({ h1: 2, h2: 2, h3: 2, h4: 2 });
    const afterRegistries = await runtimeStates();
    for (const h of CONTAINERD_HOSTS) {
      expect(afterRegistries[`${h} containerd.service`]).toEqual(afterSandbox[`${h} containerd.service`]);
      expect(await on(h, 'cd /etc/containerd/certs.d && ls */hosts.toml | sort')).toBe(
        '127.0.0.1:5000/hosts.toml\ndocker.io/hosts.toml',
      );
      expect(await on(h, 'grep -c skip_verify /etc/containerd/certs.d/docker.io/hosts.toml || true')).toBe('0');
    }
    for (const h of DOCKER_HOSTS) {
      expect(afterRegistries[`${h} docker.service`]).not.toEqual(afterSandbox[`${h} docker.service`]);
      const insecure = Object.values((await dockerInfo(h)).RegistryConfig.IndexConfigs).filter((c) => !c.Secure);
      expect(insecure.map((c) => c.Name)).toEqual(['127.0.0.1:5000']);
    }
    expect(afterRegistries['h4 containerd.service']).toEqual(started['h4 containerd.service']);

    // Back to the cluster's settings, then nothing more to do.
    expectExit(await deploy(), 0);
    expect(changedCounts(await deploy())).toEqual({ h1: 0, h2: 0, h3: 0, h4: 0 });
    for (const h of CONTAINERD_HOSTS) expect((await criConfig(h)).config.sandboxImage).toBe(SANDBOX);
  }, 300_000);

  test('a runtime Furrow does not install is refused before anything is touched', async () => {
    const before = await runtimeStates();
    const r = await deploy('-e', 'CONTAINER_RUNTIME=cri-o');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/CONTAINER_RUNTIME is containerd \(the default\) or docker/);
    expect(changedCounts(r)).toEqual({ h1: 0, h2: 0, h3: 0, h4: 0 });
    expect(await runtimeStates()).toEqual(before);
  }, 120_000);

  test('cluster destroy takes both runtimes away, from bin/ and from the package: every host as the lab made it ' +
    '(but for what the packages bring); a second destroy changes nothing', async () => {
    const destroy = () => furrow(['cluster', 'destroy', '-i', cluster, '--yes'], { cwd, timeoutMs: 300_000 });
    expectExit(await destroy(), 0);
    for (const h of HOSTS) {
      const changes = fingerprintChanges(fresh[h]!, await on(h, FINGERPRINT_SCRIPT));
      expect({ h, left: await leftBehind(changes, (c) => on(h, c)) }).toEqual({ h, left: [] });
    }
    expect(changedCounts(await destroy())).toEqual({ h1: 0, h2: 0, h3: 0, h4: 0 });
  }, 600_000);
});
