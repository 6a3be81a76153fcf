export {
  LimitReqHandler,
  createLimitReq,
  decideLimitReq,
  delayLogLevel,
  formatExcess,
  type LimitReqDecision,
  type LimitReqOptions,
  type LimitReqOutcome,
  type LimitReqRule,
} from './limit-req.js';
export { LimitConnHandler, acquireConn, createLimitConn, releaseConn, type ConnSlot, type LimitConnOptions } from './limit-conn.js';
export { LimitConnZoneState, LimitReqZoneState, LimitZones, MILLI, ZONE_BYTES_PER_STATE, type LimitReqNode } from './zones.js';
