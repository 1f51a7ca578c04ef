/**
 * Where celgate finds its Kubernetes API server: `--kubeconfig FILE`, else the KUBECONFIG
 * variable, else the Pod's service account (in-cluster), else ~/.kube/config.
 */
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

export class KubeConfigError extends Error {}

export interface KubeConfigOptions {
  /** A kubeconfig file (the --kubeconfig flag). */
  readonly file?: string;
  /** Environment to read KUBECONFIG and KUBERNETES_SERVICE_HOST from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function loadKubeConfig(options: KubeConfigOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const config = new KubeConfig();
  try {
    if (options.file !== undefined) {
      if (!existsSync(options.file)) throw new KubeConfigError(`--kubeconfig ${options.file}: no such file`);
      config.loadFromFile(options.file);
    } else if (env.KUBECONFIG) {
      config.loadFromDefault();
    } else if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
      config.loadFromCluster();
    } else {
      config.loadFromDefault();
    }
  } catch (error) {
    if (error instanceof KubeConfigError) throw error;
    throw new KubeConfigError(`cannot read the Kubernetes configuration: ${(error as Error).message}`);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster) {
    throw new KubeConfigError(
      'no Kubernetes cluster configured: give --kubeconfig FILE, set KUBECONFIG, or run in a Pod with a service account',
    );
  }
  return config;
}
