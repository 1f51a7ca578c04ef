/**
 * Which conformance cases need the conformance protobuf messages (TestAllTypes, the
 * proto2/proto3 packages, google.protobuf wrappers, Any, Struct, Value...). celgate has
 * no protobuf messages, so those cases are skipped, never failed. The decision is made
 * from the case's own data: its container, its declarations, its values and the names
 * its expression mentions.
 */
import { scanExpression } from './expression-scan.js';
import type { ConformanceTest } from './testfile.js';
import { isBuiltinMessageType } from './values.js';

/** The protobuf packages the conformance suite defines its messages and enums in. */
const PROTO_PACKAGES = ['cel.expr.conformance', 'google.protobuf'];

function inProtoPackage(name: string): boolean {
  return PROTO_PACKAGES.some((pkg) => name === pkg || name.startsWith(`${pkg}.`));
}

/** Why the expression needs protobuf messages, or undefined when it does not. */
export function protoNeedOfExpression(test: ConformanceTest): string | undefined {
  if (test.container !== '' && inProtoPackage(test.container)) return `container ${test.container}`;
  const features = scanExpression(test.expr);
  const constructed = features.constructedMessages[0];
  if (constructed !== undefined) return `message construction ${constructed}{...}`;
  const protoName = features.qualifiedNames.find((name) => inProtoPackage(name) && !isBuiltinMessageType(name));
  if (protoName !== undefined) return `protobuf name ${protoName}`;
  return undefined;
}
