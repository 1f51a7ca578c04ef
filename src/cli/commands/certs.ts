/** `celgate certs`: a development CA and the certificates celgate's servers and workloads use. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  caExists,
  caPaths,
  CertificateFileError,
  expiryWarning,
  initCa,
  inspectCertificate,
  isKeyType,
  issueCertificate,
  KEY_TYPES,
  loadCa,
  NameError,
  readCertificates,
  writeFileAtomic,
  withDirectoryLock,
  writePair,
  SERVING_NAME,
  CERTIFICATE_MODE,
  type CertificateInfo,
  type KeyType,
  type LeafOptions,
} from '../../pki/index.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, parseCommandArgs, UsageError, type Command, helpRequested, refusePositionals } from '../usage.js';

const HELP = `Usage: celgate certs SUBCOMMAND [OPTIONS]

Creates a development CA and issues the certificates celgate uses. Keys are EC P-256 by
default (--key-type rsa-2048 or rsa-3072 for RSA); key files are written with mode 0600.

Subcommands:
  init     [--dir certs] [--trust-domain cluster.local] [--days 3650] [--key-type T] [--force]
           Write ca.crt and ca.key. Refuses to replace an existing CA without --force.
  issue    --name NAME (--dns NAME... | --ip IP... | --spiffe ID) [--client] [--days N] [--dir certs]
           Write NAME.crt (with any intermediates) and NAME.key, signed by the CA in --dir.
           With --spiffe: a workload certificate (serverAuth+clientAuth, 24 hours by default).
           With --dns/--ip: a server certificate (1 year). With --client: clientAuth only.
  webhook  --service celgate --namespace celgate [--dir certs] [--days 365]
           [--write-manifests [DIR, default webhooks]]
           Create the CA if missing, issue serving.crt/key (what \`celgate serve --certs DIR\`
           reads) for the webhook Service's DNS names and localhost, and print the base64
           caBundle; with --write-manifests, replace the caBundle values in the
           Validating/MutatingWebhookConfiguration YAML files of DIR.
  inspect  FILE [--json]
           Print subject, issuer, SANs, SPIFFE ID, validity, days left and SHA-256 fingerprint
           of each certificate in FILE; warn when it expires in under 30 days or under a third
           of its lifetime. Exits 1 when a certificate is expired or not yet valid.`;

const DAY = 86_400_000;

export const certsCommand: Command = {
  name: 'certs',
  help: HELP,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '--help' || sub === '-h') {
      (sub ? console.log : console.error)(HELP);
      return sub ? EXIT_OK : EXIT_USAGE;
    }
    try {
      switch (sub) {
        case 'init':
          return await init(rest);
        case 'issue':
          return await issue(rest);
        case 'webhook':
          return await webhook(rest);
        case 'inspect':
          return await inspect(rest);
        default:
          throw new UsageError(`unknown subcommand '${sub}' (expected init, issue, webhook or inspect)`);
      }
    } catch (error) {
      if (error instanceof CertificateFileError || error instanceof NameError) {
        console.error(`celgate certs ${sub}: ${error.message}`);
        return EXIT_USAGE;
      }
      throw error;
    }
  },
};


function parseDays(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const days = Number(value);
  if (!Number.isFinite(days) || days <= 0) throw new UsageError(`--days must be a positive number, got '${String(value)}'`);
  return days;
}

function parseKeyType(value: unknown): KeyType | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !isKeyType(value)) throw new UsageError(`--key-type must be one of ${KEY_TYPES.join(', ')}`);
  return value;
}

async function init(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    dir: { type: 'string', default: 'certs' },
    'trust-domain': { type: 'string', default: 'cluster.local' },
    days: { type: 'string' },
    'key-type': { type: 'string' },
    force: { type: 'boolean', default: false },
  });
  if (helpRequested(values, HELP)) return EXIT_OK;
  refusePositionals(positionals);
  const dir = values.dir as string;
  const days = parseDays(values.days);
  const keyType = parseKeyType(values['key-type']);
  const { certFile, keyFile } = caPaths(dir);
  if (caExists(dir) && !values.force) {
    console.error(`celgate certs init: ${certFile} already exists; refusing to replace the CA (every certificate it signed would stop verifying). Use --force to replace it.`);
    return EXIT_USAGE;
  }
  const trustDomain = values['trust-domain'] as string;
  const ca = await initCa(dir, {
    trustDomain,
    commonName: `celgate root CA (${trustDomain})`,
    ...(days ? { lifetimeMs: days * DAY } : {}),
    ...(keyType ? { keyType } : {}),
  });
  console.log(`wrote ${certFile} and ${keyFile} (trust domain ${trustDomain}, serial ${ca.certificate.serialNumber}, valid until ${new Date(ca.certificate.validTo).toISOString()})`);
  return EXIT_OK;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

async function issue(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    name: { type: 'string' },
    dns: { type: 'string', multiple: true },
    ip: { type: 'string', multiple: true },
    spiffe: { type: 'string' },
    client: { type: 'boolean', default: false },
    days: { type: 'string' },
    dir: { type: 'string', default: 'certs' },
    'key-type': { type: 'string' },
  });
  if (helpRequested(values, HELP)) return EXIT_OK;
  refusePositionals(positionals);
  const name = values.name as string | undefined;
  if (!name) throw new UsageError('--name is required (the output files are NAME.crt and NAME.key)');
  if (!NAME.test(name) || name === 'ca') throw new UsageError(`--name '${name}' must be letters, digits, '.', '-' or '_' and not 'ca'`);
  const dnsNames = (values.dns as string[] | undefined) ?? [];
  const ipAddresses = (values.ip as string[] | undefined) ?? [];
  const spiffeId = values.spiffe as string | undefined;
  const client = values.client === true;
  if (!client && !spiffeId && dnsNames.length === 0 && ipAddresses.length === 0) throw new UsageError('give at least one of --dns, --ip or --spiffe (or --client for a client certificate)');
  const days = parseDays(values.days);
  const keyType = parseKeyType(values['key-type']);
  const dir = values.dir as string;
  const ca = loadCa(dir);
  const profile: LeafOptions['profile'] = client ? 'client' : spiffeId ? 'workload' : 'server';
  const issued = issueCertificate(ca, {
    profile,
    dnsNames,
    ipAddresses,
    commonName: name,
    ...(spiffeId ? { spiffeId } : {}),
    ...(days ? { lifetimeMs: days * DAY } : {}),
    ...(keyType ? { keyType } : {}),
  });
  const { certFile, keyFile } = await writePair(dir, name, issued);
  console.log(`wrote ${certFile} and ${keyFile} (${profile}, serial ${issued.certificate.serialNumber}, valid until ${new Date(issued.certificate.validTo).toISOString()})`);
  return EXIT_OK;
}

/** `--write-manifests` takes an optional value, which node:util parseArgs cannot express. */
function expandOptionalValue(args: string[], option: string, fallback: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    out.push(args[i]!);
    if (args[i] === option && (i + 1 >= args.length || args[i + 1]!.startsWith('-'))) out.push(fallback);
  }
  return out;
}

async function webhook(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(expandOptionalValue(args, '--write-manifests', 'webhooks'), {
    service: { type: 'string', default: 'celgate' },
    namespace: { type: 'string', default: 'celgate' },
    dir: { type: 'string', default: 'certs' },
    days: { type: 'string' },
    'key-type': { type: 'string' },
    'write-manifests': { type: 'string' },
  });
  if (helpRequested(values, HELP)) return EXIT_OK;
  refusePositionals(positionals);
  const service = values.service as string;
  const namespace = values.namespace as string;
  const dir = values.dir as string;
  const days = parseDays(values.days);
  const keyType = parseKeyType(values['key-type']);
  const ca = await withDirectoryLock(dir, async () => {
    if (caExists(dir)) return loadCa(dir);
    const created = await initCa(dir, { trustDomain: 'cluster.local' });
    console.error(`wrote ${caPaths(dir).certFile} and ${caPaths(dir).keyFile} (new CA)`);
    return created;
  });
  // The API server calls https://SERVICE.NAMESPACE.svc (Kubernetes docs: "the serving certificate
  // must be valid for <svc_name>.<svc_namespace>.svc"); the other forms cover in-cluster clients,
  // and localhost/127.0.0.1/::1 are what `serve` (ensureServingCertificates) always expects.
  const dnsNames = [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, 'localhost'];
  const issued = issueCertificate(ca, {
    profile: 'server',
    dnsNames,
    ipAddresses: ['127.0.0.1', '::1'],
    ...(days ? { lifetimeMs: days * DAY } : {}),
    ...(keyType ? { keyType } : {}),
  });
  const { certFile, keyFile } = await writePair(dir, SERVING_NAME, issued);
  // caBundle is the PEM of the CA, base64-encoded because the field is []byte.
  const caBundle = Buffer.from(ca.certificatePem).toString('base64');
  console.error(`wrote ${certFile} and ${keyFile} for ${dnsNames.join(', ')} (valid until ${new Date(issued.certificate.validTo).toISOString()})`);
  console.log(caBundle);
  const manifests = values['write-manifests'] as string | undefined;
  if (manifests === undefined) return EXIT_OK;
  return writeCaBundles(manifests, caBundle);
}

const WEBHOOK_KINDS = /^kind:\s*["']?(Validating|Mutating)WebhookConfiguration["']?\s*$/m;

/** Replaces `caBundle:` values in the webhook configurations of DIR, keeping everything else as written. */
async function writeCaBundles(dir: string, caBundle: string): Promise<number> {
  let entries: string[];
  try {
    entries = (await readdir(dir)).filter((file) => /\.ya?ml$/.test(file)).sort();
  } catch (error) {
    throw new UsageError(`cannot read manifest directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let replaced = 0;
  let problems = 0;
  for (const entry of entries) {
    const file = join(dir, entry);
    const text = await readFile(file, 'utf8');
    // Split on document markers and edit only webhook configuration documents, line by line.
    const parts = text.split(/^(?=---\s*$)/m);
    let count = 0;
    const updated = parts
      .map((part) => {
        if (!WEBHOOK_KINDS.test(part)) return part;
        return part.replace(/^(\s*)caBundle:[^\n]*$/gm, (_line, indent: string) => {
          count++;
          return `${indent}caBundle: ${caBundle}`;
        });
      })
      .join('');
    if (!WEBHOOK_KINDS.test(text)) continue;
    // Every webhook's clientConfig must now carry the bundle; a missing field is reported, not guessed.
    for (const document of parseAllDocuments(updated)) {
      const value = document.toJS() as { kind?: string; webhooks?: { name?: string; clientConfig?: { caBundle?: string } }[] } | null;
      if (!value || !/^(Validating|Mutating)WebhookConfiguration$/.test(value.kind ?? '')) continue;
      for (const hook of value.webhooks ?? []) {
        if (hook.clientConfig?.caBundle !== caBundle) {
          console.error(`${file}: webhook '${hook.name ?? '?'}' has no clientConfig.caBundle line to replace; add 'caBundle: ""' under its clientConfig`);
          problems++;
        }
      }
    }
    if (count > 0 && updated !== text) await writeFileAtomic(file, updated, CERTIFICATE_MODE);
    if (count > 0) console.error(`updated ${count} caBundle value${count === 1 ? '' : 's'} in ${file}`);
    replaced += count;
  }
  if (replaced === 0) {
    console.error(`no caBundle field found in a Validating/MutatingWebhookConfiguration under ${dir}`);
    return EXIT_FAILED;
  }
  return problems > 0 ? EXIT_FAILED : EXIT_OK;
}

async function inspect(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean', default: false } });
  if (helpRequested(values, HELP)) return EXIT_OK;
  if (positionals.length !== 1) throw new UsageError('give exactly one certificate file to inspect');
  const file = positionals[0]!;
  const { certificates } = readCertificates(file);
  const now = new Date();
  let status = EXIT_OK;
  const infos = certificates.map((certificate) => inspectCertificate(certificate, now));
  for (const info of infos) {
    const warning = expiryWarning(info, now);
    if (warning) {
      console.error(`warning: ${file}: certificate '${info.subject}' ${warning}`);
      if (info.daysLeft < 0 || now < info.notBefore || info.notAfter < now) status = EXIT_FAILED;
    }
  }
  if (values.json) {
    console.log(JSON.stringify(infos.map((info) => ({ ...info, notBefore: info.notBefore.toISOString(), notAfter: info.notAfter.toISOString() })), null, 2));
  } else {
    console.log(infos.map(formatInfo).join('\n\n'));
  }
  return status;
}

function formatInfo(info: CertificateInfo): string {
  const sans = [...info.subjectAltNames.dns.map((d) => `DNS:${d}`), ...info.subjectAltNames.ip.map((i) => `IP:${i}`), ...info.subjectAltNames.uri.map((u) => `URI:${u}`)];
  const lines: [string, string][] = [
    ['subject', info.subject],
    ['issuer', info.issuer],
    ['serial', info.serial],
    ['SANs', sans.join(', ') || '(none)'],
    ['SPIFFE ID', info.spiffeId ?? '(none)'],
    ['CA', info.isCa ? `yes${info.pathLength !== undefined ? ` (pathlen ${info.pathLength})` : ''}` : 'no'],
    ['key usage', [...info.keyUsage, ...info.extKeyUsage].join(', ') || '(none)'],
    ['public key', info.publicKey],
    ['not before', info.notBefore.toISOString()],
    ['not after', info.notAfter.toISOString()],
    ['days left', String(info.daysLeft)],
    ['SHA-256', info.fingerprintSha256],
  ];
  return lines.map(([label, value]) => `${`${label}:`.padEnd(12)}${value}`).join('\n');
}
