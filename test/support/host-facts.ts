// Host facts for tests of the pure checks: made up, so that the checks read nothing of this
// machine and give the same answers everywhere.
import type { HostFacts } from '../../lib/host-facts.js';
import { RLIM_INFINITY, RLIMIT_RESOURCES } from '../../lib/procfs.js';
import { capabilityMask } from '../../lib/capabilities.js';

const hardLimits = Object.values(RLIMIT_RESOURCES).map(() => RLIM_INFINITY);
hardLimits[RLIMIT_RESOURCES.nofile] = 524_288n;
hardLimits[RLIMIT_RESOURCES.nproc] = 96_363n;
hardLimits[RLIMIT_RESOURCES.memlock] = 8_388_608n;

/** A daemon on a 40-capability kernel with a systemd service's limits and no CAP_SYS_RESOURCE. */
export const fakeHostFacts: HostFacts = {
  capLastCap: 40,
  ngroupsMax: 65_536,
  argumentSpace: 2 * 1024 * 1024,
  own: { hardLimits, effective: capabilityMask([12]) },
  cgroup2Mounts: [],
};

/** The same daemon holding CAP_SYS_RESOURCE, which may raise a hard limit above its own. */
export const fakeHostFactsWithSysResource: HostFacts = {
  ...fakeHostFacts,
  own: { hardLimits, effective: capabilityMask([12, 24]) },
};
