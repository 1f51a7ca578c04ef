/**
 * The proxy's routing room: Istio VirtualService, DestinationRule and Gateway resources
 * (networking.istio.io v1, v1beta1, v1alpha3) compiled once into immutable lookups.
 * Bad fields become PolicyIssues at their file:line:col; the bad part is skipped and
 * compiling never throws.
 */
import type { PolicyIssue, PolicyResource } from '../../policy/index.js';
import type { DestinationRules, RouteTable } from '../types.js';
import { FieldReader } from './fields.js';
import { compileVirtualService, type CompiledVirtualService } from './virtual-service.js';
import { CompiledRouteTable } from './route-table.js';
import { CompiledDestinationRules, compileDestinationRule, type CompiledDestinationRule } from './destination-rule.js';
import { CompiledGateways, compileGateway, type CompiledGateway, type Gateways } from './gateway.js';

export interface Routing {
  readonly routes: RouteTable;
  readonly destinationRules: DestinationRules;
  readonly gateways: Gateways;
}

export function compileRouting(resources: readonly PolicyResource[], issues: PolicyIssue[]): Routing {
  const virtualServices: CompiledVirtualService[] = [];
  const rules: CompiledDestinationRule[] = [];
  const gateways: CompiledGateway[] = [];
  for (const resource of resources) {
    if (resource.type.group !== 'networking.istio.io') continue;
    const reader = new FieldReader(resource, issues);
    try {
      switch (resource.type.kind) {
        case 'VirtualService': {
          const vs = compileVirtualService(reader);
          if (vs) virtualServices.push(vs);
          break;
        }
        case 'DestinationRule': {
          const rule = compileDestinationRule(reader);
          if (rule) rules.push(rule);
          break;
        }
        case 'Gateway': {
          const gateway = compileGateway(reader);
          if (gateway) gateways.push(gateway);
          break;
        }
        default:
          break; // ServiceEntry, WorkloadEntry: the discovery room's.
      }
    } catch (error) {
      // A bug here must not take the whole load down; report it against the resource.
      reader.report([], `internal error while compiling: ${(error as Error).message}`);
    }
  }
  return {
    routes: new CompiledRouteTable(virtualServices),
    destinationRules: new CompiledDestinationRules(rules),
    gateways: new CompiledGateways(gateways),
  };
}

export { UnknownSubsetError } from './destination-rule.js';
export type { CompiledGateway, Gateways, GatewayServer, GatewayServerTls, GatewayTlsMode } from './gateway.js';
export type { RoutingRoute } from './http-route.js';
export type { RoutingDestination } from './destinations.js';
export type { RoutingRequest } from './route-table.js';
export { DEFAULT_RETRY_POLICY } from './http-route.js';
export { DEFAULT_TRAFFIC_POLICY } from './traffic-policy.js';
export { rewritePath, rewriteAuthority, redirectLocation, Re2RegExp } from './rewrite.js';
export { parseDuration } from './durations.js';
export { resolveHost } from './hosts.js';
