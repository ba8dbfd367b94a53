import type { KmsCall, SecretsCall, SnsCall } from '../../core/aws-api';
import type { ChangeEvent, EventPublisher } from '../../core/change-events';
import type { Scope } from '../../core/config';
import { MEMBER_DELETE_ROLE, MEMBER_READ_ROLE, type MemberRole } from '../../core/organisation';
import type { DeleteMaterialDeps, ValidateOriginDeps } from '../../functions/tasks';
import { createKeyAccess, type KeyAccess } from '../../functions/runtime/key-access';
import type { CalendarReader } from '../../functions/runtime/calendars';
import { testAttestor } from './attestor';
import { createKmsClient, createSecretsClient, createSnsClient } from '../../functions/runtime/aws';
import { createLogger, type Logger } from '../../functions/runtime/logger';

/**
 * What the task factories are given in unit tests: the clients production makes (SDK clients, whose classes
 * aws-sdk-client-mock stubs), the configuration objects the stack would set, and a logger that writes nothing.
 */
export const SCOPE: Scope = { account: '111122223333', region: 'us-east-1' };
export const APPROVAL_TOPIC_ARN = 'arn:aws:sns:us-east-1:111122223333:approvals';
export const OUTCOME_TOPIC_ARN = 'arn:aws:sns:us-east-1:111122223333:outcomes';
export const LINK_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:links';
export const PAGE_URL = 'https://page.example/approval';
export const EXECUTION_ID = 'arn:aws:states:us-east-1:111122223333:execution:m:e';

export const kmsClient = (): KmsCall => createKmsClient({ region: SCOPE.region });
/** A task's access to keys as its handler makes it: the hub's keys with its own credentials, members' through `role`. */
export const keyAccess = (role: MemberRole = MEMBER_READ_ROLE): KeyAccess => createKeyAccess({ scope: SCOPE, role });
export const snsClient = (): SnsCall => createSnsClient({ region: SCOPE.region });
export const secretsClient = (): SecretsCall => createSecretsClient({ region: SCOPE.region });
export const silentLogger = (): Logger => createLogger({ logLevel: 'SILENT' });

/** The configuration of a stack with the default event bus and no change calendars. */
export const NO_CHANGE_MANAGEMENT = { eventBusName: 'default', changeCalendars: [] as string[] };

/** An event publisher that keeps what it is given, in order, for a test to read. */
export const recordedEvents = (): EventPublisher & { published: ChangeEvent[] } => {
  const published: ChangeEvent[] = [];
  return { published, publish: async (...events) => void published.push(...events) };
};

/** Calendars a stack without any never reads: reading one is a test failure. */
export const NO_CALENDARS: CalendarReader = async (names) => {
  throw new Error(`no calendars are configured, yet ${names.join(', ')} were read`);
};

/** ValidateOrigin's dependencies as a stack without change management sets them, with any of them replaced. */
export const validateOriginDeps = (over: Partial<ValidateOriginDeps> = {}): ValidateOriginDeps => ({
  keys: keyAccess(),
  attestor: testAttestor(),
  events: recordedEvents(),
  calendars: NO_CALENDARS,
  config: {
    scope: SCOPE,
    approvalRules: [],
    defaultWaitSeconds: 30,
    recentUseDays: 30,
    attestationKeyArn: 'arn:attestation',
    ...NO_CHANGE_MANAGEMENT,
  },
  logger: silentLogger(),
  ...over,
});

/** DeleteMaterial's dependencies as the stack sets them, with any of them replaced. */
export const deleteMaterialDeps = (over: Partial<DeleteMaterialDeps> = {}): DeleteMaterialDeps => ({
  keys: keyAccess(MEMBER_DELETE_ROLE),
  sns: snsClient(),
  attestor: testAttestor(),
  events: recordedEvents(),
  config: {
    scope: SCOPE,
    outcomeTopicArn: OUTCOME_TOPIC_ARN,
    attestationKeyArn: 'arn:attestation',
    ...NO_CHANGE_MANAGEMENT,
  },
  logger: silentLogger(),
  ...over,
});
