/** The proxy's data plane: listeners, authorization, forwarding with retries and timeouts. */
export { startProxy, ProxyStartError, type RunningProxy, type StartProxyOptions, type ProxyLog } from './proxy.js';
export { createAuthorizer, accessRequestFor, type Authorizer, type AuthorizationInput } from './authorize.js';
export { forwardRoute, defaultRoute, type ForwardEnvironment, type ForwardResult, type ProxyRequest, type RoutingState } from './forward.js';
export { startListener, type ListenerContext, type MeshState, type RequestRecord, type RunningListener } from './listeners.js';
export { UpstreamPools, upstreamTls, type WorkloadCredentials } from './upstream.js';
export { retriable, backoffMs } from './retry.js';
