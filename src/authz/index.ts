export { startAuthzHttpServer, DECISION_ID_HEADER, type AuthzHttpServerOptions, type AuthzServer, type AuthzServerCommonOptions } from './http-server.js';
export { startAuthzGrpcServer, authorizationService, PROTO_DIR, type AuthzGrpcServerOptions, type AuthzGrpcTlsOptions } from './grpc-server.js';
export { AuthzDecider, failureDecision } from './decider.js';
export { ReloadableServerCredentials, type GrpcTlsSettings } from './grpc-credentials.js';
