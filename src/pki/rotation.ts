/** Short-lived workload certificates, reissued well before they expire. */
import { issueCertificate, DEFAULT_LIFETIME_MS, type CertificateAuthority, type IssuedCertificate } from './issue.js';
import type { KeyType } from './keys.js';

export interface WorkloadRotationOptions {
  readonly ca: CertificateAuthority;
  readonly spiffeId: string;
  /** Reissue once this fraction of the lifetime has passed (default 0.5, must be in (0, 1)). */
  readonly fraction?: number;
  readonly lifetimeMs?: number;
  readonly keyType?: KeyType;
  readonly dnsNames?: readonly string[];
  /** Receives each new certificate (the first one immediately); may write files and return a promise. */
  readonly onRotate: (issued: IssuedCertificate) => void | Promise<void>;
  /** A failed issue or onRotate; rotation is retried after a tenth of the lifetime. */
  readonly onError?: (error: Error) => void;
}

export interface WorkloadRotation {
  /** The certificate most recently handed to onRotate. */
  readonly current: IssuedCertificate | undefined;
  /** Resolves after the first certificate has been handed to onRotate. */
  readonly ready: Promise<void>;
  stop(): void;
}

export function startWorkloadRotation(options: WorkloadRotationOptions): WorkloadRotation {
  const fraction = options.fraction ?? 0.5;
  if (!(fraction > 0 && fraction < 1)) throw new Error(`rotation fraction must be between 0 and 1 (exclusive), got ${fraction}`);
  const lifetimeMs = options.lifetimeMs ?? DEFAULT_LIFETIME_MS.workload;
  let current: IssuedCertificate | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => void rotate(), Math.max(0, delayMs));
    timer.unref();
  };

  const rotate = async (): Promise<void> => {
    try {
      const issuedAt = Date.now();
      const issued = issueCertificate(options.ca, {
        profile: 'workload',
        spiffeId: options.spiffeId,
        lifetimeMs,
        ...(options.keyType ? { keyType: options.keyType } : {}),
        ...(options.dnsNames ? { dnsNames: options.dnsNames } : {}),
      });
      await options.onRotate(issued);
      current = issued;
      // Measured from the issue time, not notBefore (backdated for clock skew), and up to the real
      // notAfter (the CA may have clamped it).
      const notAfter = Date.parse(issued.certificate.validTo);
      schedule(issuedAt + (notAfter - issuedAt) * fraction - Date.now());
    } catch (error) {
      options.onError?.(error as Error);
      schedule(lifetimeMs / 10);
    }
  };

  const ready = rotate();
  return {
    get current() {
      return current;
    },
    ready,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
