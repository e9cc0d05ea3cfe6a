/** Shape of provider-schema.json: facts read from the Terraform provider's Go schemas. */
export type Validator =
  | { kind: 'length'; min: number; max: number }
  | { kind: 'range'; min?: number; max?: number }
  | { kind: 'enum'; values: Array<string | number>; ignoreCase?: boolean }
  | { kind: 'pattern'; pattern: string; message: string }
  | { kind: 'nonEmpty' }
  | { kind: 'json' };

export interface FieldSchema {
  /** String, Int, Float, Bool, List, Set, Map. */
  type: string;
  required?: boolean;
  optional?: boolean;
  computed?: boolean;
  sensitive?: boolean;
  /** Set when the provider removed the field: any value is refused. */
  removed?: string;
  maxItems?: number;
  minItems?: number;
  conflictsWith?: string[];
  validators?: Validator[];
  /** Validators the extractor could not read, verbatim (not checked). */
  unparsedValidators?: string[];
  /** Nested block (Elem: &schema.Resource{…}). */
  block?: Record<string, FieldSchema>;
  /** Element schema of a primitive list/set/map. */
  elem?: FieldSchema;
  /** Schema built by a helper function (e.g. tagsSchema()). */
  helper?: string;
}

export interface ProviderSchemaFile {
  provider: { repository: string; commit: string; committedAt: string };
  resources: Record<string, { terraformType: string; file: string; fields: Record<string, FieldSchema> }>;
}
