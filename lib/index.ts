/**
 * capspawn: launch programs as another user with exact groups and ambient capabilities.
 * @packageDocumentation
 */
export { spawnGuest } from './spawn-guest.js';
export { planGuest, type GuestPlan } from './guest-plan.js';
export type { UserEntry } from './identity.js';
export { Guest, type GuestExit } from './guest.js';
export { GuestTerminal } from './guest-terminal.js';
export { adoptGuest, listGuests, AdoptedGuest, type AdoptOptions, type GuestProcess, type GuestCgroup } from './adopt-guest.js';
export { CGROUP_LIMIT_FILES, type CgroupLimit, type LimitCheck, type OwnCgroupSpec } from './cgroup-limits.js';
export type { SpawnTraceMessage, ExitTraceMessage } from './launch-trace.js';
export { createTap, deleteTap, readTap, TapError, TUN_FLAGS, MAX_TAP_NAME_BYTES, type TapOptions, type TapInfo } from './tap.js';
export type { SpawnGuestOptions, IdSpec, StdioSpec, StdioFile } from './options.js';
export type { RlimitValue } from './placement.js';
export {
  RLIMIT_RESOURCES,
  NAMESPACE_KINDS,
  readProcStatus,
  parseProcStatus,
  type RlimitName,
  type ProcPlacement,
  type LimitPair,
  type ProcStatus,
  type CapabilitySet,
  type IdQuad,
} from './procfs.js';
export { SpawnGuestError, InvalidOptionError, OptionRangeError, UnsupportedPlatformError, type SpawnGuestErrorFields } from './errors.js';
export {
  CAPABILITY_NAMES,
  parseCapability,
  capabilityName,
  capabilityMask,
  capabilitiesInMask,
  capabilityHex,
  capLastCap,
  type CapabilityName,
  type CapabilitySpec,
} from './capabilities.js';
export { STEP_NAMES, VERIFY_ITEMS, type StepName, type VerifyItem } from './steps.js';
export {
  GLOB_SKIPPED_VARIABLES,
  LOADER_VARIABLES,
  DEFAULT_PATH,
  globSkipReason,
  isLoaderVariable,
  type GlobSkipReason,
} from './environment.js';
