/* carousel_xdp.h -- the one header the XDP program and its loader share:
 * map key/value layouts and the counter indexes (never copied elsewhere). */
#ifndef CAROUSEL_XDP_H
#define CAROUSEL_XDP_H

#include <linux/types.h>

#include "verdict.h"

#define XDP_NAME_MAX 256
#define XDP_BYTES_MAX 1200 /* = ENTRY_MAX_BYTES */
#define XDP_RR_MAX 64      /* = ENTRY_MAX_RR */
#define XDP_RR_LEN_MAX 28  /* a rotated AAAA: pointer, fixed fields, 16 bytes */
#define XDP_SCHED_MAX 1024 /* = ENTRY_MAX_SCHED, a power of two */
#define XDP_TTL_MAX 80     /* = ENTRY_MAX_TTL */
#define XDP_VARIANT_BYTES_MAX 2048 /* prebuilt variants (and their OPT templates) */
#define XDP_ROT_SLOTS 65536
#define XDP_ENTRIES_MAX 65536
#define XDP_TOPO_MAX 16 /* = ENTRY_TOPO_MAX */

/* A prebuilt answer's place in an entry's variant bytes and its sums:
 * lib/entry.h's struct entry_variant, field for field. */
struct xdp_variant {
	__u16 off, len, sum[3]; /* plain, EDNS DO=0, EDNS DO=1 */
};

/* A fast-path entry as the XDP program reads it: lib/entry.h's struct
 * entry, with the expiry turned into bpf_ktime_get_ns() time. The large
 * class (map entries): what the small one below cannot hold, such as
 * answers that expire, topology pools and larger pools; each element takes
 * 16 KiB of kernel memory. The map is a BPF_F_NO_PREALLOC hash: an update
 * links a new element and frees the old one after an RCU grace period,
 * so a reader sees the old or the new value whole, never a mix. */
struct xdp_entry {
	__u64 expires_ns; /* CLOCK_MONOTONIC; 0 = never */
	__u32 rot_id;
	__u32 rr_ttl;
	__u16 qtype, qclass;
	__u16 hdr_flags;
	__u8 rcode;
	__u8 name_len;
	__u16 head_an, tail_an, tail_ns, tail_ar;
	__u16 head_len, tail_len;
	__u16 rr_len, rr_ttl_off, rr_count, answer_count;
	__u16 sched_len, nttl;
	/* RFC 1071 sums (folded, for a piece starting at an even offset) of the
	 * answer's pieces, so the program fixes the UDP checksum without a
	 * pass over the packet */
	__u16 head_sum, tail_sum;
	__u16 rr_sum[XDP_RR_MAX];
	__u8 name[XDP_NAME_MAX];
	__u8 live[XDP_RR_MAX];
	__u16 sched[XDP_SCHED_MAX];
	__u16 ttl_off[XDP_TTL_MAX];
	__u32 ttl[XDP_TTL_MAX];
	__u8 bytes[XDP_BYTES_MAX];
	/* Prebuilt answers (lib/entry.h entry_prebuild): a hit copies one
	 * variant with one store. nvariants 0: assemble from the pieces above
	 * (entries that expire, variants over XDP_VARIANT_BYTES_MAX). */
	__u16 nvariants, pb_sched_len;
	__u16 pb_flags, pb_an, pb_ns, pb_ar;
	struct xdp_variant var[XDP_RR_MAX];
	__u8 step_variant[XDP_SCHED_MAX];
	/* Topology pools (lib/entry.h struct entry_topo): the client's group
	 * is the first prefix that holds it (longest first), else 0; the reply
	 * for step s is variant tg_base[g] + s % tg_n[g]. Only prebuilt. */
	__u8 ntopo, ngroups;
	__u8 tg_base[XDP_TOPO_MAX + 1], tg_n[XDP_TOPO_MAX + 1];
	__u16 tg_an[XDP_TOPO_MAX + 1];
	struct {
		__u32 addr[4], mask[4];
		__u8 family, len, group, pad; /* = struct entry_topo */
	} topo[XDP_TOPO_MAX];
	__u8 vbytes[XDP_VARIANT_BYTES_MAX];
	/* slack: the verifier checks offset and length bounds separately, so
	 * any offset <= the size of bytes or vbytes plus any length <= it must
	 * stay inside the value */
	__u8 slack[XDP_VARIANT_BYTES_MAX];
};

/* The small class: what a hit on a typical entry reads (non-expiring,
 * prebuilt, no topology: a pool of a few members or its alias), in a map
 * of its own (entries_small, same key) whose element the kernel allocates
 * from kmalloc-1k instead of the 16 KiB a struct xdp_entry takes. The
 * loader puts an entry that fits here and nowhere else; the program looks
 * here first. The bounds below are what "fits" means. */
#define XDP_SMALL_NAME_MAX 128  /* names compared up to name_len, as in entries */
#define XDP_SMALL_VARIANTS 8    /* a power of two */
#define XDP_SMALL_SCHED 64      /* a power of two */
#define XDP_SMALL_BYTES_MAX 448 /* every variant with its OPT template */

struct xdp_small {
	__u8 vbytes[XDP_SMALL_BYTES_MAX];
	/* the verifier bounds a variant's offset and length apart (see
	 * xdp_entry's slack), so vbytes is followed by as many bytes again:
	 * the fields, and padding up to that size. No store reaches them:
	 * the loader keeps every variant inside vbytes. */
	union {
		struct {
			__u32 rot_id;
			__u16 qtype, qclass;
			__u8 name_len, nvariants;
			__u16 pb_sched_len, pb_flags, pb_an, pb_ns, pb_ar;
			struct xdp_variant var[XDP_SMALL_VARIANTS];
			__u8 step_variant[XDP_SMALL_SCHED];
			__u8 name[XDP_SMALL_NAME_MAX];
		};
		__u8 slack[XDP_SMALL_BYTES_MAX];
	};
};

/* What the loader sets for the program besides entries: DNS Cookies as
 * carouseld answers them (lib/fastpath.h struct fp_cookies), response rate
 * limiting (struct fp_rrl), and the offset of CLOCK_TAI from unix time
 * that cookie timestamps and RRL seconds need (bpf_ktime_get_tai_ns() -
 * tai_offset_ns = unix time). */
struct xdp_policy {
	__u32 enable, has_previous; /* cookies */
	__u8 secret[16], previous[16];
	__s64 tai_offset_ns;
	__u32 rrl_enable, rrl_rate, rrl_slip, rrl_v4_prefix, rrl_v6_prefix;
	__u32 tap_sample; /* dnstap: 1 in this many answers; 0 none */
};

/* A sampled exchange in the dnstap ring buffer: lib/fastpath.h's struct
 * fp_tap, field for field (the loader checks the layout). */
#define XDP_TAP_MSG_MAX 512
struct xdp_tap {
	__u64 time_ns;
	__u8 v6;
	__u8 client[16], server[16];
	__u16 client_port, server_port;
	__u16 query_len, response_len;
	__u8 query[XDP_TAP_MSG_MAX], response[XDP_TAP_MSG_MAX];
};

#define XDP_RRL_SLOTS 65536 /* rate-limit buckets, shared by all CPUs */

/* Per-CPU counters: what came in, what the program sent back (XDP_TX: the
 * driver may still drop it; the loader reports "answered" as tx less the
 * driver's XDP transmit errors), and why the rest was passed to the kernel
 * ("punted", the DPDK path's word) or dropped: lib/verdict.h's list. */
#define XDP_PUNT_ENUM(id, name) XC_PUNT_##id,
#define XDP_DROP_ENUM(id, name) XC_DROP_##id,
enum xdp_counter {
	XC_RX, XC_TX, XC_SLIPPED, XC_COOKIE, XC_ECS, XC_TAP_DROPPED,
	FP_PUNTS(XDP_PUNT_ENUM) FP_DROPS(XDP_DROP_ENUM) XC_COUNT
};

#endif
