/** Test certificates made with openssl in a temp dir: a CA, a server cert for 127.0.0.1, a SPIFFE client cert. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  readonly ca: Buffer;
  readonly serverCert: Buffer;
  readonly serverKey: Buffer;
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
  readonly clientPrincipal: string;
}

export function makeTestCerts(clientPrincipal = 'spiffe://cluster.local/ns/shop/sa/frontend'): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'celgate-authz-certs-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string) => run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  key('ca');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=celgate test CA', '-days', '2', '-out', 'ca.crt');
  const leaf = (name: string, cn: string, san: string, usage: string) => {
    key(name);
    run('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  leaf('server', 'localhost', 'IP:127.0.0.1,DNS:localhost', 'serverAuth');
  leaf('client', 'frontend', `URI:${clientPrincipal}`, 'clientAuth');
  const read = (name: string) => readFileSync(join(dir, name));
  return {
    ca: read('ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    clientPrincipal,
  };
}
