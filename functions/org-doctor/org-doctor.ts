import type { OrganizationsCall } from '../../core/aws-api';
import type { OrgDoctorConfig } from '../../core/config';
import type { MemberRole } from '../../core/organisation';
import type { KeyAccess } from '../runtime/key-access';
import type { Logger } from '../runtime/logger';
import { diagnoseFleet, type DoctorReport } from '../runtime/org-doctor';

/** What the fleet doctor function calls with. */
export interface OrgDoctorDeps {
  /** Organizations as the doctor's role reads it. */
  organizations: OrganizationsCall;
  /** The doctor role's access to keys through a member role. */
  keyAccess: (role: MemberRole) => KeyAccess;
  config: OrgDoctorConfig;
  logger: Logger;
}

/**
 * The fleet doctor as a hub function (OrgDoctor): it runs the diagnosis (functions/runtime/org-doctor.ts) over the
 * deployment's members as its own role, which the member read roles trust, and answers with the report, for
 * `keymat org doctor` to print. It takes no input: what it checks is the deployment's configuration.
 */
export function createOrgDoctor({
  organizations,
  keyAccess,
  config,
  logger,
}: OrgDoctorDeps): (event: unknown) => Promise<DoctorReport> {
  return async () => {
    const report = await diagnoseFleet(
      { organizations, keyAccess, hub: config.scope, partition: config.partition },
      config.members,
    );
    logger.info('fleet doctor checked the members', {
      organizationId: report.organizationId,
      rows: report.rows.length,
      failures: report.failures,
    });
    return report;
  };
}
