import { KmsError, lengthConstraint, validation, valueConstraint } from './errors';
import type { ExpirationModel, Tag } from './model';

/**
 * KMS's JSON 1.1 wire: the shape of one call and the checks KMS makes on request members before it looks at any key,
 * each failing with the error (ValidationException, SerializationException, …) and message KMS sends.
 */

/** A request's or response's JSON members. */
export type Json = Record<string, unknown>;

/** The request-independent context of one call. */
export interface CallContext {
  /** The operation's wire name (`DescribeKey`), as AccessDenied messages name the action. */
  operation: string;
  region: string;
  /** The account the call acts in (the caller's): the keys and aliases it sees. */
  account: string;
  /** The access key id the request was signed with: who the emulated key policies see calling. */
  caller: string;
  /** The caller's ARN, as KMS names it in AccessDeniedException. */
  callerArn: string;
  requestId: string;
  now: number;
}

/** The key (and material) a call was about, for the request log. */
export interface CallRecord {
  keyArn?: string;
  keyMaterialId?: string;
}

/** One operation: the request's members in, the response's out; errors are thrown as {@link KmsError}. */
export type Operation = (body: Json, ctx: CallContext, record: CallRecord) => Json | Promise<Json>;

/** Operations by their wire name (`DescribeKey`, …). */
export type OperationTable = Record<string, Operation>;

/** KMS's texts for a CreateAlias name without its prefix, and for tags it refuses (TagException). */
const ALIAS_PREFIX =
  'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html';
const TAG_RESERVED = 'Tags beginning with aws: are reserved';
const TAG_DUPLICATE = 'Duplicate tag keys';
const TAG_TOO_MANY = 'Too many tags';

const KEY_MATERIAL_ID_LENGTH = 64;
const KEY_MATERIAL_ID_PATTERN = /^[a-f0-9]+$/;
const ALIAS_NAME_PATTERN = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** KMS accepts ValidTo at most this far ahead. */
const MAX_VALID_TO_MS = 365 * 24 * 3600 * 1000;

/** KMS's timestamps on the wire: epoch seconds, with fractions. */
export const seconds = (ms: number): number => ms / 1000;

/** An optional string member; another JSON type is a SerializationException, as the SDK's deserializer makes it. */
export function optionalString(body: Json, member: string): string | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new KmsError('SerializationException', `${member} must be a string`);
  return value;
}

/** An enum member: its value, `fallback` when it is absent, ValidationException when it is none of `allowed`. */
export function enumMember<T extends string>(body: Json, member: string, allowed: readonly T[], fallback: T): T {
  const value = body[member] ?? fallback;
  if (!allowed.includes(value as T)) {
    throw validation(lowerFirst(member), value, `Member must satisfy enum value set: [${allowed.join(', ')}]`);
  }
  return value as T;
}

export function checkKeyMaterialId(value: unknown): string {
  if (typeof value !== 'string') throw new KmsError('SerializationException', 'KeyMaterialId must be a string');
  // The API reference gives a fixed length of 64 and the pattern; KMS words each constraint as it words the others,
  // the length one side at a time.
  if (value.length !== KEY_MATERIAL_ID_LENGTH) {
    throw validation(
      'keyMaterialId',
      value,
      lengthConstraint(value.length, KEY_MATERIAL_ID_LENGTH, KEY_MATERIAL_ID_LENGTH),
    );
  }
  if (!KEY_MATERIAL_ID_PATTERN.test(value)) {
    throw validation('keyMaterialId', value, 'Member must satisfy regular expression pattern: ^[a-f0-9]+$');
  }
  return value;
}

export function checkAliasName(value: unknown): string {
  if (typeof value === 'string' && !value.startsWith('alias/')) throw new KmsError('ValidationException', ALIAS_PREFIX);
  if (typeof value !== 'string' || !ALIAS_NAME_PATTERN.test(value)) {
    throw validation('aliasName', value, `Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$`);
  }
  return value;
}

export function checkRegion(value: unknown, member: string): string {
  if (typeof value !== 'string' || !REGION_PATTERN.test(value)) {
    throw validation(member, value, 'Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$');
  }
  return value;
}

/** A blob member (base64 on the wire), required. */
export function blob(value: unknown, member: string): Buffer {
  if (value === undefined || value === null) throw validation(member, undefined, 'Member must not be null');
  if (typeof value !== 'string') throw new KmsError('SerializationException', `${member} must be a base64 blob`);
  return Buffer.from(value, 'base64');
}

/** KMS's limit on tags per key. */
export const MAX_TAGS = 50;

/**
 * A request's `Tags`: each member's lengths (ValidationException, named by its 1-based position as KMS names it),
 * then the tag rules (TagException): no reserved `aws:` prefix and no tag key twice in one request.
 */
export function parseTags(value: unknown): Tag[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new KmsError('SerializationException', 'Tags must be a list');
  const tags = value.map((tag: unknown, i) => {
    const { TagKey, TagValue } = (typeof tag === 'object' && tag !== null ? tag : {}) as Partial<
      Record<string, unknown>
    >;
    const member = `tags.${i + 1}.member`;
    if (TagKey === undefined || TagKey === null)
      throw validation(`${member}.tagKey`, undefined, 'Member must not be null');
    if (typeof TagKey !== 'string') throw new KmsError('SerializationException', 'TagKey must be a string');
    if (TagKey.length < 1 || TagKey.length > 128) {
      throw validation(`${member}.tagKey`, TagKey, lengthConstraint(TagKey.length, 1, 128));
    }
    if (TagValue === undefined || TagValue === null) {
      throw validation(`${member}.tagValue`, undefined, 'Member must not be null');
    }
    if (typeof TagValue !== 'string') throw new KmsError('SerializationException', 'TagValue must be a string');
    if (TagValue.length > 256)
      throw validation(`${member}.tagValue`, TagValue, lengthConstraint(TagValue.length, 0, 256));
    return { TagKey, TagValue };
  });
  // KMS's own texts, as it answers CreateKey and TagResource (they name no tag).
  const seen = new Set<string>();
  for (const { TagKey } of tags) {
    if (TagKey.toLowerCase().startsWith('aws:')) throw new KmsError('TagException', TAG_RESERVED);
    if (seen.has(TagKey)) throw new KmsError('TagException', TAG_DUPLICATE);
    seen.add(TagKey);
  }
  return tags;
}

/** Adds or updates tags: an updated tag keeps its place, new ones go to the end; over {@link MAX_TAGS}, TagException. */
export function mergeTags(existing: Tag[], added: Tag[]): Tag[] {
  const merged = existing.map((t) => added.find((a) => a.TagKey === t.TagKey) ?? t);
  for (const tag of added) if (!existing.some((t) => t.TagKey === tag.TagKey)) merged.push(tag);
  if (merged.length > MAX_TAGS) {
    throw new KmsError('TagException', TAG_TOO_MANY);
  }
  return merged;
}

/**
 * ImportKeyMaterial's ExpirationModel and ValidTo, with KMS's rules on how they go together. The model defaults to
 * KEY_MATERIAL_EXPIRES, so a request with neither member is refused for its missing ValidTo, as AWS refuses it.
 */
export function parseExpiry(body: Json, now: number): { expirationModel: ExpirationModel; validTo?: number } {
  const model = enumMember(
    body,
    'ExpirationModel',
    ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'],
    'KEY_MATERIAL_EXPIRES',
  );
  const validTo = body.ValidTo ?? undefined;
  if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE') {
    if (validTo !== undefined) {
      // AWS's text for this case is not recorded: worded after the one it sends for the opposite case.
      throw new KmsError(
        'ValidationException',
        'A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE',
      );
    }
    return { expirationModel: model };
  }
  if (validTo === undefined) {
    throw new KmsError(
      'ValidationException',
      'A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES',
    );
  }
  if (typeof validTo !== 'number') throw new KmsError('SerializationException', 'ValidTo must be a timestamp');
  const ms = validTo * 1000;
  if (ms <= now) throw new KmsError('ValidationException', `ValidTo ${new Date(ms).toISOString()} is in the past`);
  if (ms > now + MAX_VALID_TO_MS) {
    throw new KmsError('ValidationException', `ValidTo ${new Date(ms).toISOString()} is more than 365 days from now`);
  }
  return { expirationModel: model, validTo: ms };
}

/** One page of a list with KMS's `Limit` (1..1000, default 100) and opaque `Marker`. */
export function paginate<T>(items: T[], body: Json): { items: T[]; next?: string } {
  const limit = body.Limit ?? 100;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw validation('limit', limit, valueConstraint(typeof limit === 'number' ? limit : 0, 1, 1000));
  }
  let start = 0;
  if (body.Marker !== undefined) {
    const decoded = typeof body.Marker === 'string' ? Number(Buffer.from(body.Marker, 'base64url').toString()) : NaN;
    if (!Number.isInteger(decoded) || decoded < 0 || decoded > items.length) {
      throw new KmsError('InvalidMarkerException', 'The marker is not valid');
    }
    start = decoded;
  }
  const end = start + limit;
  return {
    items: items.slice(start, end),
    ...(end < items.length && { next: Buffer.from(String(end)).toString('base64url') }),
  };
}

/** A list response's paging members. */
export const pageMembers = (next: string | undefined): Json => ({
  Truncated: next !== undefined,
  ...(next !== undefined && { NextMarker: next }),
});

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);
