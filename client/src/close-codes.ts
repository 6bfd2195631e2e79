/**
 * The close codes the client uses, as literals typed by the CloseCode member each stands for, so a
 * wrong value does not compile. A minifier inlines or renames a constant but never an object's
 * member: written as `CloseCode.X`, the browser bundle would carry the whole object and its names.
 */
import type { CloseCode } from '@burrow/shared';

export const NORMAL: typeof CloseCode.Normal = 1000;
export const PROTOCOL_ERROR: typeof CloseCode.ProtocolError = 1002;
export const UNSUPPORTED: typeof CloseCode.Unsupported = 1003;
export const NO_STATUS: typeof CloseCode.NoStatus = 1005;
export const ABNORMAL: typeof CloseCode.Abnormal = 1006;
export const INVALID_PAYLOAD: typeof CloseCode.InvalidPayload = 1007;
export const POLICY: typeof CloseCode.Policy = 1008;
export const TOO_BIG: typeof CloseCode.TooBig = 1009;
export const SERVICE_RESTART: typeof CloseCode.ServiceRestart = 1012;
export const TRY_AGAIN_LATER: typeof CloseCode.TryAgainLater = 1013;
export const SESSION_UNKNOWN: typeof CloseCode.SessionUnknown = 4001;
export const UNSUPPORTED_VERSION: typeof CloseCode.UnsupportedVersion = 4005;
export const STATE_LOST: typeof CloseCode.StateLost = 4006;
export const ABANDONED: typeof CloseCode.Abandoned = 4010;
