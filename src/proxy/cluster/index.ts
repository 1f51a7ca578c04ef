/** Clusters: balancing, active health checks, outlier detection and connection limits per upstream. */
export { createClusterManager, clusterName, type ClusterManagerOptions, type UpstreamClusterManager } from './manager.js';
export { UpstreamCluster, DEFAULT_PANIC_THRESHOLD_PERCENT, type ClusterOptions } from './cluster.js';
export { inFlightLimit } from './circuit-breaker.js';
export { hash32 } from './hash.js';
