/**
 * Errors raised while compiling or evaluating CEL. Every error knows where it points:
 * a line:column inside the expression and, for expressions loaded from a file, the
 * file and the line of that file.
 */

export type CelErrorKind = 'syntax' | 'type' | 'evaluation' | 'cost' | 'limit';

/** Where an expression came from; lines and columns are 1-based. */
export interface ExpressionOrigin {
  readonly file?: string;
  /** Line of the file on which the expression text starts. */
  readonly line?: number;
  /** Column of the file at which the expression text starts (first line only). */
  readonly column?: number;
  /** Columns to add on the expression's later lines (the indentation of a YAML block scalar). */
  readonly indent?: number;
  /** A name for the expression, e.g. `spec.validations[0].expression`. */
  readonly field?: string;
}

export interface ExpressionPosition {
  /** 1-based line and column within the expression text. */
  readonly line: number;
  readonly column: number;
}

export class CelError extends Error {
  override readonly name = 'CelError';

  constructor(
    readonly kind: CelErrorKind,
    /** The message without any location prefix. */
    readonly summary: string,
    readonly position?: ExpressionPosition,
    readonly origin?: ExpressionOrigin,
    /** A stable code such as `no_such_overload`, when the evaluator gave one. */
    readonly code?: string,
  ) {
    super(formatMessage(summary, position, origin));
  }

  /** The same error re-anchored to where the expression lives in a file. */
  withOrigin(origin: ExpressionOrigin): CelError {
    return new CelError(this.kind, this.summary, this.position, origin, this.code);
  }

  /** `file:line:col`, translated into file coordinates when the origin is known. */
  get location(): string | undefined {
    return formatLocation(this.position, this.origin);
  }
}

/** Thrown by library functions; the adapter turns it into a positioned CelError. */
export class CelFunctionError extends Error {
  constructor(
    message: string,
    readonly code = 'evaluation_error',
  ) {
    super(message);
  }
}

export function positionAt(text: string, offset: number): ExpressionPosition {
  let line = 1;
  let column = 1;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      column = 1;
    } else {
      column++;
    }
  }
  return { line, column };
}

/** A position inside an expression, translated to the file the expression starts at `start` in. */
export function positionInFile(start: ExpressionPosition, position?: ExpressionPosition, indent = 0): ExpressionPosition {
  if (!position) return start;
  return {
    line: start.line + position.line - 1,
    column: position.line === 1 ? start.column + position.column - 1 : indent + position.column,
  };
}

function formatLocation(position?: ExpressionPosition, origin?: ExpressionOrigin): string | undefined {
  if (origin?.file !== undefined && origin.line !== undefined) {
    const { line, column } = positionInFile({ line: origin.line, column: origin.column ?? 1 }, position, origin.indent);
    return `${origin.file}:${line}:${column}`;
  }
  if (origin?.file !== undefined) return origin.file;
  return position ? `${position.line}:${position.column}` : undefined;
}

function formatMessage(summary: string, position?: ExpressionPosition, origin?: ExpressionOrigin): string {
  const where = formatLocation(position, origin);
  const field = origin?.field ? ` (${origin.field})` : '';
  return where ? `${where}: ${summary}${field}` : `${summary}${field}`;
}
