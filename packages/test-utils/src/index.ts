export { decodeJson, decodeProtobuf, startOtlpReceiver } from './otlp-receiver.js';
export type {
  AttrValue,
  DecodedEvent,
  DecodedLink,
  DecodedSpan,
  OtlpReceiver,
  OtlpReceiverOptions,
  ReceivedRequest,
  ReceiverBehavior,
} from './otlp-receiver.js';
export { decodeSpanFlags } from './span-flags.js';
export type { DecodedSpanFlags } from './span-flags.js';
