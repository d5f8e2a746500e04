/* chw_limits.h — the size limit of the broker-to-worker wire, shared by both ends.
 *
 * One number, kept here because the worker enforces it: a channel worker's DEALER socket sets
 * ZMQ_MAXMSGSIZE to CHW_MAX_FRAME_BYTES, and libzmq drops the connection of a peer that sends a
 * larger frame (every Dispatch still in flight to that worker is then lost until its lease
 * expires). The broker includes this header from broker/brk_limits.h and proves at compile time
 * that its largest possible BrokerToWorker frame is no larger. No includes, no code. */
#ifndef CHW_LIMITS_H
#define CHW_LIMITS_H

/* Largest frame (one serialized pregon.BrokerToWorker) a worker accepts from the broker, in
 * bytes. A frame of exactly this size is accepted. */
#define CHW_MAX_FRAME_BYTES (1024 * 1024)

#endif
