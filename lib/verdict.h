/* verdict.h -- the one list of fast-path verdicts and counter names, for
 * DPDK, the XDP program (so: plain macros, no includes) and the metrics. */
#ifndef CAROUSEL_VERDICT_H
#define CAROUSEL_VERDICT_H

/*
 * Why a frame was not answered on the fast path: punted to the kernel (and
 * so to carouseld) or dropped. Both paths count them as
 * `<path>.punted.<name>` / `<path>.dropped.<name>`, beside `<path>.rx` and
 * `<path>.answered`, and the metrics export the same names.
 */
#define FP_PUNTS(X)                                                                        \
	X(NOT_IP, "not-ip")         /* ARP, LLDP, ... */                                      \
	X(NOT_UDP, "not-udp")       /* ICMP, TCP, ... */                                      \
	X(NOT_OURS, "not-ours")     /* other destination address or port */                   \
	X(IP_OPTIONS, "ip-options") /* IPv4 options, IPv6 extension headers */               \
	X(FRAGMENT, "fragment")                                                              \
	X(DNS_HEADER, "dns-header") /* QR, opcode, TC, counts the fast path does not serve */ \
	X(QNAME, "qname")           /* compressed or malformed name: carouseld decides */     \
	X(EDNS, "edns")             /* options, version != 0, several records */              \
	X(MISS, "miss")             /* no entry */                                            \
	X(EXPIRED, "expired")       /* cached data past its TTL */                            \
	X(TOO_BIG, "too-big")       /* reply larger than the client takes over UDP */
#define FP_DROPS(X)                                                                        \
	X(BAD_LENGTH, "bad-length") /* lengths that lie: truncated frame */                  \
	X(RRL, "rrl")               /* over the rate limit, not slipped */


#endif
