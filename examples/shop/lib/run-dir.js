// The run directory: a copy of mesh/ and proxies/ with the ports moved to the chosen base,
// the mesh CA and one SPIFFE workload certificate per sidecar (certs/), and logs/.
//
//   RUN/mesh/*.yaml       Istio + celgate resources every sidecar loads
//   RUN/proxies/*.yaml    one ProxyConfig per sidecar (paths relative to proxies/)
//   RUN/certs/            ca.crt, NAME.crt, NAME.key
//   RUN/logs/             NAME.access.log (the sidecar's access log), NAME.proxy.log, NAME.app.log
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shiftPorts } from './ports.js';
import { PROXIES } from './topology.js';

export const EXAMPLE_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const TRUST_DOMAIN = 'cluster.local';
const NAMESPACE = 'shop';

export function principalOf(serviceAccount, namespace = NAMESPACE) {
  return `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${serviceAccount}`;
}

function copyShifted(from, to, base) {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from).filter((n) => n.endsWith('.yaml')).sort()) {
    writeFileSync(join(to, name), shiftPorts(readFileSync(join(from, name), 'utf8'), base));
  }
}

/** celgate's own PKI, from the build (loaded here so a missing build gets a clear message). */
async function loadPki() {
  try {
    return await import('../../../dist/pki/index.js');
  } catch (error) {
    throw new Error(`cannot load celgate's build (dist/pki/index.js): ${error.message}\nRun \`npm run build\` first (\`npm run demo\` does).`);
  }
}

/** Creates the run directory for `base`; resolves its path. */
export async function prepareRunDir(base) {
  const { createRootCa, issueCertificate } = await loadPki();
  const dir = mkdtempSync(join(tmpdir(), 'celgate-shop-'));
  copyShifted(join(EXAMPLE_DIR, 'mesh'), join(dir, 'mesh'), base);
  copyShifted(join(EXAMPLE_DIR, 'proxies'), join(dir, 'proxies'), base);
  mkdirSync(join(dir, 'logs'));
  const certs = join(dir, 'certs');
  mkdirSync(certs);
  const ca = createRootCa({ trustDomain: TRUST_DOMAIN });
  writeFileSync(join(certs, 'ca.crt'), ca.certificatePem);
  for (const w of PROXIES) {
    // The service account is the identity: both inventory v1 endpoints and v2 are spiffe://.../sa/inventory.
    const issued = issueCertificate(ca, { profile: 'workload', spiffeId: principalOf(w.serviceAccount, w.namespace) });
    writeFileSync(join(certs, `${w.name}.crt`), issued.chainPem);
    writeFileSync(join(certs, `${w.name}.key`), issued.privateKeyPem, { mode: 0o600 });
  }
  return dir;
}
