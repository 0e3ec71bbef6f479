/* dp.c -- DPDK dataplane: ports, per-lcore loop (l3fwd-style), lock-free
 * entry table (rte_hash RW_CONCURRENCY_LF + rte_rcu_qsbr), exception path
 * through net_tap. */
#include "dp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_malloc.h>
#include <rte_random.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "frame.h"
#include "log.h"
#include "rrl_bucket.h"
#include "slab.h"
#include "wire.h"

#define DP_TABLE_SIZE 65536
#define DP_MAX_BURST 512
#define DP_IDLE_POLLS 1024 /* empty polls before an idle lcore sleeps */
#define DP_RETIRE_MAX 200000

struct lcore_stats {
	uint64_t busy_cycles; /* TSC cycles spent on non-empty bursts */
	uint64_t rx, answered, tx_wire_fail, from_kernel, to_kernel_fail, kernel_tx_fail;
	uint64_t link_down_drop, slipped, with_cookie, with_ecs, tap_dropped;
	uint64_t punt[PUNT_COUNT];
	uint64_t drop[DROP_COUNT];
} __rte_cache_aligned;

struct lcore_ctx {
	unsigned lcore;
	uint16_t queue;
	struct lcore_stats stats;
	uint32_t *rot; /* [ENTRY_ROT_SLOTS] rotation steps, this lcore's own */
	struct rte_ring *punt, *from_kernel; /* to and from the exception thread */
	unsigned link_epoch;                 /* the last link up this lcore kicked for */
	uint64_t *rrl;                       /* [DP_RRL_SLOTS] rate-limit buckets, its own */
	struct rte_ring *tap;                /* dnstap copies to the main thread */
	uint32_t tap_count;                  /* answers since the last sampled one */
	struct fp_tap tap_rec;               /* the one being filled */
} __rte_cache_aligned;

struct retired {
	struct frame_entry *e;
	int32_t pos; /* key slot to free, -1 when the key stays */
	uint64_t token;
};

#define DP_EXC_POLL_US 100 /* the exception thread's sleep when idle */
#define DP_EXC_RING 1024   /* frames in flight to or from the kernel, per worker */
#define DP_RRL_SLOTS 65536 /* rate-limit buckets per worker (a power of two) */
#define DP_TAP_RING 1024   /* dnstap copies in flight per worker */

static struct {
	volatile bool force_quit;
	bool launched;
	bool link_up;          /* the wire port's link: workers send only while up */
	bool link_seen;        /* as the exception thread last saw it (logged) */
	unsigned link_epoch;   /* counts ups: each worker kicks its queue once */
	uint64_t link_downs;
	int tap_intr_fd;       /* the tap's rx interrupt, -1: none (poll) */
	pthread_t exc_thread;
	bool exc_started;
	/* cookie secrets and rate limits: workers read policy[slot]; an
	 * update writes the other slot once no worker can still read it */
	struct dp_policy {
		struct fp_cookies cookies;
		struct fp_rrl rrl;
		unsigned rrl_rate; /* this lcore's share of the rate */
		unsigned tap_sample; /* dnstap: 1 in this many answers; 0 none */
	} policy[2];
	unsigned slot;
	uint64_t entry_bytes, variant_bytes; /* held in the table (main thread) */
	struct slab slab;                     /* ... allocated from (main thread) */
	struct lcore_stats exc_stats; /* the exception thread's drops */
	unsigned worker_lcore[RTE_MAX_LCORE];
	uint16_t port, tap;
	char tap_iface[IF_NAMESIZE];
	char wire_iface[IF_NAMESIZE]; /* af_packet's interface, kept from the kernel */
	struct rte_mempool *pool;
	struct rte_hash *table;
	struct rte_rcu_qsbr *qsv;
	struct frame_addrs addrs;
	unsigned burst, idle_sleep_us, nq;
	struct lcore_ctx lc[RTE_MAX_LCORE];
	uint64_t tsc_hz, tsc0, unix0_ns; /* CLOCK_REALTIME at tsc0 */
	struct retired *retired;
	unsigned nretired;
	enum dp_mode mode;
} dp;

static inline void count(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

static inline void count_n(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* ---- the per-lcore loop ---- */


struct burst_out {
	struct rte_mbuf *tx[DP_MAX_BURST], *punt[DP_MAX_BURST];
	uint16_t ntx, npunt;
};

static inline void punt_or_drop(struct lcore_ctx *lc, struct rte_mbuf *m, enum frame_verdict v,
				struct burst_out *o)
{
	if (v < PUNT_COUNT) {
		count(&lc->stats.punt[v]);
		o->punt[o->npunt++] = m;
	} else {
		count(&lc->stats.drop[v - PUNT_COUNT]);
		rte_pktmbuf_free(m);
	}
}

/* Unix time in ns at TSC reading tsc: CLOCK_REALTIME at start plus the
 * cycles since, split so the product cannot overflow (a whole product
 * would after a few seconds). Seconds carry over exactly as carouseld's
 * time() does, so cookie timestamps and RRL windows agree. */
static inline uint64_t unix_ns(uint64_t tsc)
{
	uint64_t c = tsc - dp.tsc0;

	return dp.unix0_ns + c / dp.tsc_hz * 1000000000ULL + c % dp.tsc_hz * 1000000000ULL / dp.tsc_hz;
}

static void tap_query(struct lcore_ctx *lc, const uint8_t *d, const struct frame_query *q)
{
	struct fp_tap *t = &lc->tap_rec;
	const uint8_t *ip = d + q->l3_off, *udp = d + q->l4_off;

	t->v6 = q->v6;
	memset(t->client, 0, sizeof(t->client));
	memset(t->server, 0, sizeof(t->server));
	memcpy(t->client, ip + (q->v6 ? 8 : 12), q->v6 ? 16 : 4);
	memcpy(t->server, ip + (q->v6 ? 24 : 16), q->v6 ? 16 : 4);
	t->client_port = wire_read16(udp);
	t->server_port = wire_read16(udp + 2);
	t->query_len = q->dns_len;
	memcpy(t->query, d + q->dns_off, q->dns_len);
	t->time_ns = unix_ns(rte_rdtsc());
}

static void tap_response(struct lcore_ctx *lc, const uint8_t *d, const struct frame_query *q,
			 int len)
{
	struct fp_tap *t = &lc->tap_rec;
	size_t n = (size_t)len - q->dns_off;

	if (n > FP_TAP_MSG_MAX)
		return;
	t->response_len = (uint16_t)n;
	memcpy(t->response, d + q->dns_off, n);
	if (rte_ring_enqueue_elem(lc->tap, t, sizeof(*t)) != 0)
		count(&lc->stats.tap_dropped);
}

/* A hit's table value: answer in place from a prebuilt variant (or, for
 * an entry that expires, by assembling it), or punt (miss, expired, too
 * big). The rotation step wraps by comparison, not division. */
static inline void answer(struct lcore_ctx *lc, struct rte_mbuf *m, struct frame_query *q,
			  const struct frame_entry *e, uint64_t now, struct burst_out *o)
{
	enum frame_verdict v = PUNT_MISS;

	if (e && frame_entry_matches(e, q)) {
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
		size_t cap = rte_pktmbuf_data_len(m) + rte_pktmbuf_tailroom(m);
		uint32_t *slot = &lc->rot[e->rot_id], step = *slot;
		int len = 0;
		bool tapped = false;

		if (step >= e->sched_len)
			step = 0; /* the schedule shrank since */
		const struct dp_policy *pol = &dp.policy[__atomic_load_n(&dp.slot, __ATOMIC_ACQUIRE)];

		if (e->topo)
			frame_topology(q, d, e->topo->t, e->topo->ntopo);
		if (q->cookie_len || q->ecs_len)
			len = frame_options(q, d, &pol->cookies, (uint32_t)now);
		if (len == 0 && pol->rrl.enable && !q->cookie_ok) {
			/* as carouseld: per prefix and second, a valid cookie exempt */
			const uint8_t *src = d + q->l3_off + (q->v6 ? 8 : 12);
			uint64_t h = rrl_prefix_hash(src, q->v6,
						     q->v6 ? pol->rrl.v6_prefix : pol->rrl.v4_prefix);
			uint64_t *b = &lc->rrl[h & (DP_RRL_SLOTS - 1)];

			*b = rrl_bucket_next(*b, h, (unsigned)now);
			switch (rrl_over(*b, pol->rrl_rate)
					? rrl_limited(pol->rrl.slip, (unsigned)rte_rand())
					: RRL_PASS) {
			case RRL_PASS:
				break;
			case RRL_SLIP:
				len = frame_slip(d, q, e->slow ? (uint16_t)(WIRE_QR | e->slow->hdr_flags |
									    (e->slow->rcode & 0xf))
							       : e->flags);
				count(&lc->stats.slipped);
				goto send;
			case RRL_DROP:
				punt_or_drop(lc, m, DROP_RRL, o);
				return;
			}
		}
		/* dnstap: 1 in tap_sample answers, the query copied before the
		 * frame becomes the reply */
		if (len == 0 && pol->tap_sample && ++lc->tap_count >= pol->tap_sample &&
		    q->dns_len <= FP_TAP_MSG_MAX) {
			lc->tap_count = 0;
			tapped = true;
			tap_query(lc, d, q);
		}
		if (len < 0)
			; /* carouseld's FORMERR */
		else if (!e->slow)
			len = frame_answer(d, cap, q, e, step);
		else if (e->slow->expires && now >= e->slow->expires)
			len = -PUNT_EXPIRED;
		else
			len = frame_respond(d, cap, q, e->slow, step, now);
		if (len > 0) {
			*slot = step + 1 < e->sched_len ? step + 1 : 0;
send:
			m->data_len = (uint16_t)len;
			m->pkt_len = (uint32_t)len;
			count(&lc->stats.answered);
			if (tapped)
				tap_response(lc, d, q, len);
			if (q->extra_len) {
				if (q->cookie_len && pol->cookies.enable)
					count(&lc->stats.with_cookie);
				if (q->ecs_len)
					count(&lc->stats.with_ecs);
			}
			o->tx[o->ntx++] = m;
			return;
		}
		v = (enum frame_verdict)(-len);
	}
	punt_or_drop(lc, m, v, o);
}

/* The fast path, l3fwd-style: parse the burst, look every key up in one
 * bulk call (the table prefetches), then answer. `prefetch` is constant in
 * each caller: the benchmark's variant without our own prefetches shows
 * what they buy once the table outgrows the caches. */
static __rte_always_inline void burst_answer_common(struct lcore_ctx *lc, struct rte_mbuf **rx,
						    uint16_t n, uint64_t now,
						    struct burst_out *o, bool prefetch)
{
	struct frame_query q[RTE_HASH_LOOKUP_BULK_MAX];
	const void *keys[RTE_HASH_LOOKUP_BULK_MAX];
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	struct rte_mbuf *hit[RTE_HASH_LOOKUP_BULK_MAX];

	for (unsigned base = 0; base < n; base += RTE_HASH_LOOKUP_BULK_MAX) {
		unsigned nk = 0, end = RTE_MIN((unsigned)n, base + RTE_HASH_LOOKUP_BULK_MAX);
		uint64_t found = 0;

		/* frames arrive cold (written by the NIC or another core): ask
		 * for all of them, both lines a query spans, before touching the
		 * first (the mbuf headers were asked for by the caller) */
		for (unsigned i = base; prefetch && i < end; i++) {
			const uint8_t *d = rte_pktmbuf_mtod(rx[i], const uint8_t *);

			rte_prefetch0(d);
			rte_prefetch0(d + RTE_CACHE_LINE_SIZE);
		}
		for (unsigned i = base; i < end; i++) {
			struct rte_mbuf *m = rx[i];
			enum frame_verdict v;

			if (m->nb_segs != 1)
				v = PUNT_IP_OPTIONS; /* chained jumbo frames: the kernel's */
			else
				v = frame_parse(rte_pktmbuf_mtod(m, uint8_t *),
						rte_pktmbuf_data_len(m), &dp.addrs, &q[nk]);
			if (v != FRAME_HIT) {
				punt_or_drop(lc, m, v, o);
				continue;
			}
			keys[nk] = &q[nk].digest;
			hit[nk++] = m;
		}
		if (nk)
			rte_hash_lookup_bulk_data(dp.table, keys, nk, &found, data);
		/* then every entry found, and the rotation slots */
		for (unsigned k = 0; prefetch && k < nk; k++)
			if (found >> k & 1)
				rte_prefetch0(data[k]);
		for (unsigned k = 0; k < nk; k++)
			answer(lc, hit[k], &q[k], found >> k & 1 ? data[k] : NULL, now, o);
	}
}

static void burst_answer(struct lcore_ctx *lc, struct rte_mbuf **rx, uint16_t n, uint64_t now,
			 struct burst_out *o)
{
	burst_answer_common(lc, rx, n, now, o, true);
}

static void burst_answer_no_prefetch(struct lcore_ctx *lc, struct rte_mbuf **rx, uint16_t n,
				     uint64_t now, struct burst_out *o)
{
	burst_answer_common(lc, rx, n, now, o, false);
}

/* The benchmark's baseline: swap MAC, IPv4 and UDP ports at fixed
 * offsets, nothing else. */
static void burst_reflect(struct lcore_ctx *lc, struct rte_mbuf **rx, uint16_t n, uint64_t now,
			  struct burst_out *o)
{
	const struct frame_query q = {.l3_off = 14, .l4_off = 34, .v6 = false};

	(void)now;
	for (uint16_t i = 0; i < n; i++) {
		frame_reflect(rte_pktmbuf_mtod(rx[i], uint8_t *), &q);
		o->tx[o->ntx++] = rx[i];
	}
	count_n(&lc->stats.answered, n);
}

/* The benchmark's second baseline: a minimal responder that reads the
 * question and writes a fixed answer of carousel's length. */
static uint8_t fixed_answer[ENTRY_MAX_BYTES];
static size_t fixed_len;

static void burst_respond(struct lcore_ctx *lc, struct rte_mbuf **rx, uint16_t n, uint64_t now,
			  struct burst_out *o)
{
	(void)now;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = rx[i];
		int len = frame_respond_fixed(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m),
					      rte_pktmbuf_data_len(m) + rte_pktmbuf_tailroom(m),
					      fixed_answer, fixed_len);

		if (len < 0) {
			rte_pktmbuf_free(m);
			continue;
		}
		m->data_len = (uint16_t)len;
		m->pkt_len = (uint32_t)len;
		o->tx[o->ntx++] = m;
	}
	count_n(&lc->stats.answered, n);
}

void dp_set_fixed_answer(const uint8_t *answer, size_t len)
{
	fixed_len = len < sizeof(fixed_answer) ? len : sizeof(fixed_answer);
	memcpy(fixed_answer, answer, fixed_len);
}

typedef void (*burst_fn)(struct lcore_ctx *lc, struct rte_mbuf **rx, uint16_t n, uint64_t now,
			 struct burst_out *o);

static const burst_fn burst_handlers[] = {
	[DP_MODE_ANSWER] = burst_answer,
	[DP_MODE_REFLECT] = burst_reflect,
	[DP_MODE_RESPOND] = burst_respond,
	[DP_MODE_ANSWER_NO_PREFETCH] = burst_answer_no_prefetch,
};

void dp_set_mode(enum dp_mode mode)
{
	__atomic_store_n(&dp.mode, mode, __ATOMIC_RELEASE);
}

/* To the wire on this lcore's queue; while the link is down nothing is
 * handed to the PMD (some crash sending to a peer that went away). */
static void wire_send(struct lcore_ctx *lc, struct rte_mbuf **m, uint16_t n, bool up,
		      uint64_t *fail)
{
	uint16_t sent = 0;

	if (!n)
		return;
	if (up)
		sent = rte_eth_tx_burst(dp.port, lc->queue, m, n);
	else
		count_n(&lc->stats.link_down_drop, n);
	if (sent < n) {
		if (up)
			count_n(fail, n - sent);
		rte_pktmbuf_free_bulk(m + sent, n - sent);
	}
}

static void ring_or_free(struct rte_ring *r, struct rte_mbuf **m, unsigned n, uint64_t *fail)
{
	unsigned q = n ? rte_ring_enqueue_burst(r, (void **)m, n, NULL) : 0;

	if (q < n) {
		count_n(fail, n - q);
		rte_pktmbuf_free_bulk(m + q, n - q);
	}
}

/* After a down, af_packet's socket fails its next send with ENETDOWN and
 * leaves the frame in its ring until a later send; an empty burst does not
 * send. So two frames that go nowhere (to our own MAC, the local
 * experimental EtherType) take the error and push the ring out, and the
 * next reply (a client's first ARP) leaves at once. */
static void link_kick(struct lcore_ctx *lc)
{
	for (int i = 0; i < 2; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pool);
		struct rte_ether_hdr *eth;

		if (!m)
			return;
		eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, RTE_ETHER_MIN_LEN - 4);
		if (!eth) {
			rte_pktmbuf_free(m);
			return;
		}
		memset(eth, 0, RTE_ETHER_MIN_LEN - 4);
		rte_eth_macaddr_get(dp.port, &eth->dst_addr);
		eth->src_addr = eth->dst_addr;
		eth->ether_type = rte_cpu_to_be_16(0x88b5); /* IEEE 802 local experimental */
		if (rte_eth_tx_burst(dp.port, lc->queue, &m, 1) == 0)
			rte_pktmbuf_free(m);
	}
}

static int worker_main(void *arg)
{
	struct lcore_ctx *lc = arg;
	struct rte_mbuf *rx[DP_MAX_BURST];
	struct burst_out o;
	unsigned idle = 0;

	rte_rcu_qsbr_thread_register(dp.qsv, lc->lcore);
	rte_rcu_qsbr_thread_online(dp.qsv, lc->lcore);
	/* no system call in here: punts and the kernel's replies cross to the
	 * exception thread through this lcore's two rings */
	while (!dp.force_quit) {
		uint64_t t0 = rte_rdtsc();
		uint16_t n = rte_eth_rx_burst(dp.port, lc->queue, rx, (uint16_t)dp.burst);
		bool up = __atomic_load_n(&dp.link_up, __ATOMIC_RELAXED);

		if (n && !up) {
			/* frames arrive: the link is back before the watch says
			 * so (a client's first ARP must not go unanswered) */
			__atomic_store_n(&dp.link_up, true, __ATOMIC_RELAXED);
			up = true;
			if (dp.wire_iface[0]) /* af_packet */
				link_kick(lc);
		}
		if (__atomic_load_n(&dp.link_epoch, __ATOMIC_RELAXED) != lc->link_epoch) {
			lc->link_epoch = __atomic_load_n(&dp.link_epoch, __ATOMIC_ACQUIRE);
			if (dp.wire_iface[0]) /* af_packet */
				link_kick(lc);
		}
		o.ntx = o.npunt = 0;
		for (uint16_t i = 0; i < n; i++)
			rte_prefetch0(rx[i]);
		if (n) {
			count_n(&lc->stats.rx, n);
			burst_handlers[__atomic_load_n(&dp.mode, __ATOMIC_ACQUIRE)](
				lc, rx, n, unix_ns(t0) / 1000000000ULL, &o);
		}
		wire_send(lc, o.tx, o.ntx, up, &lc->stats.tx_wire_fail);
		ring_or_free(lc->punt, o.punt, o.npunt, &lc->stats.to_kernel_fail);
		/* the kernel's replies (carouseld's sockets, ARP, ICMP) go out */
		uint16_t k = (uint16_t)rte_ring_dequeue_burst(lc->from_kernel, (void **)rx, dp.burst,
							      NULL);

		count_n(&lc->stats.from_kernel, k);
		wire_send(lc, rx, k, up, &lc->stats.kernel_tx_fail);
		rte_rcu_qsbr_quiescent(dp.qsv, lc->lcore);
		if (n || k) {
			count_n(&lc->stats.busy_cycles, rte_rdtsc() - t0);
			idle = 0;
		} else if (dp.idle_sleep_us && ++idle > DP_IDLE_POLLS) {
			/* back off: an idle poll loop must not hold a core */
			rte_rcu_qsbr_thread_offline(dp.qsv, lc->lcore);
			rte_delay_us_sleep(dp.idle_sleep_us);
			rte_rcu_qsbr_thread_online(dp.qsv, lc->lcore);
		}
	}
	rte_rcu_qsbr_thread_offline(dp.qsv, lc->lcore);
	rte_rcu_qsbr_thread_unregister(dp.qsv, lc->lcore);
	return 0;
}

/* ---- the exception thread: owns the kernel's port ---- */

/* The wire link as the kernel sees it, for PMDs that do not report it
 * (af_packet, af_xdp): the interface they sit on is administratively up.
 * Its carrier (IFF_RUNNING) is not waited for: the kernel reports it up
 * to a second late (linkwatch), and sending meanwhile is harmless. */
static int kernel_link(const char *iface)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), up = -1;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		up = (ifr.ifr_flags & IFF_UP) != 0;
	close(fd);
	return up;
}

static void link_check(void)
{
	int up;

	if (dp.wire_iface[0]) {
		up = kernel_link(dp.wire_iface);
	} else {
		struct rte_eth_link link;

		up = rte_eth_link_get_nowait(dp.port, &link) == 0 ? link.link_status : -1;
	}
	if (up < 0 || (bool)up == dp.link_seen)
		return;
	dp.link_seen = up;
	__atomic_store_n(&dp.link_up, (bool)up, __ATOMIC_RELAXED);
	if (!up)
		dp.link_downs++;
	else /* af_packet's socket keeps the down as an error: link_kick */
		__atomic_add_fetch(&dp.link_epoch, 1, __ATOMIC_RELEASE);
	/* one line per change: rare by nature */
	log_warn("event=dataplane-link state=%s port=%u%s%s", up ? "up" : "down", dp.port,
		 dp.wire_iface[0] ? " iface=" : "", dp.wire_iface);
}

/* Punts to the kernel, the kernel's frames to the workers (round robin:
 * any worker's queue reaches the wire), the link watched every 100 ms.
 * Sleeps on the tap's rx interrupt where it has one, else polls every
 * DP_EXC_POLL_US; a punt waits at most that long (a busy thread moves
 * bursts without sleeping). */
static void *exception_main(void *arg)
{
	struct rte_mbuf *m[DP_MAX_BURST];
	uint64_t next_link = 0;
	unsigned rr = 0;

	(void)arg;
	while (!dp.force_quit) {
		unsigned moved = 0, lcore;

		RTE_LCORE_FOREACH_WORKER(lcore) {
			struct lcore_ctx *lc = &dp.lc[lcore];
			unsigned n = rte_ring_dequeue_burst(lc->punt, (void **)m, DP_MAX_BURST, NULL);
			uint16_t sent = n ? rte_eth_tx_burst(dp.tap, 0, m, (uint16_t)n) : 0;

			if (sent < n) {
				count_n(&dp.exc_stats.to_kernel_fail, n - sent);
				rte_pktmbuf_free_bulk(m + sent, n - sent);
			}
			moved += n;
		}
		uint16_t k = rte_eth_rx_burst(dp.tap, 0, m, DP_MAX_BURST);

		if (k) {
			struct lcore_ctx *lc = &dp.lc[dp.worker_lcore[rr++ % dp.nq]];

			ring_or_free(lc->from_kernel, m, k, &dp.exc_stats.kernel_tx_fail);
			moved += k;
		}
		uint64_t now = rte_get_tsc_cycles();

		if (now >= next_link) {
			link_check();
			next_link = now + dp.tsc_hz / 10;
		}
		/* a full burst: more is waiting. Otherwise sleep, so a steady
		 * trickle of misses is carried in batches and this thread does
		 * not take the main lcore's core from everything else there */
		if (moved >= DP_MAX_BURST / 4)
			continue;
		if (dp.tap_intr_fd >= 0) {
			/* net_tap's rx interrupt fd is its queue's own: readable
			 * while frames wait (read by rx_burst, never here) */
			struct pollfd p = {.fd = dp.tap_intr_fd, .events = POLLIN};
			struct timespec ts = {.tv_nsec = DP_EXC_POLL_US * 1000};

			ppoll(&p, 1, &ts, NULL);
		} else {
			rte_delay_us_sleep(DP_EXC_POLL_US);
		}
	}
	return NULL;
}

/* ---- setup ---- */

static int port_by_devargs(const char *devargs, uint16_t *port)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	size_t n = strcspn(devargs, ",");

	if (n >= sizeof(name))
		return -1;
	memcpy(name, devargs, n);
	name[n] = '\0';
	return rte_eth_dev_get_port_by_name(name, port);
}

/* rxq_intr: ask for rx interrupts (the exception port), where the PMD
 * has them; *got says whether it did. */
static int port_setup(uint16_t port, uint16_t nq, bool rss, bool rxq_intr, bool *got)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf = {0};
	int rc;

	if ((rc = rte_eth_dev_info_get(port, &info)) != 0)
		return rc;
	if (rss && nq > 1 && info.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
	}
	conf.intr_conf.rxq = rxq_intr;
	rc = rte_eth_dev_configure(port, nq, nq, &conf);
	if (rc != 0 && rxq_intr) {
		conf.intr_conf.rxq = 0;
		rc = rte_eth_dev_configure(port, nq, nq, &conf);
	}
	if (rc != 0)
		return rc;
	if (got)
		*got = conf.intr_conf.rxq;
	uint16_t nrx = 1024, ntx = 1024;

	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
	for (uint16_t q = 0; q < nq; q++) {
		if ((rc = rte_eth_rx_queue_setup(port, q, nrx, rte_eth_dev_socket_id(port), NULL,
						 dp.pool)) != 0 ||
		    (rc = rte_eth_tx_queue_setup(port, q, ntx, rte_eth_dev_socket_id(port), NULL)) !=
			    0)
			return rc;
	}
	return 0;
}

/* With net_af_packet the kernel still receives every frame of the wire
 * interface, and since it owns the appliance's addresses (on the
 * exception interface) it would answer them a second time. Keep its stack
 * off that interface with per-interface sysctls (no tc or netfilter
 * modules needed): IPv4 strict reverse-path filtering (the way back to any
 * client is the exception interface, so every frame fails it), no ARP
 * replies, no IPv6. Old values are put back on exit. */
static const char *const wire_sysctls[][2] = {
	{"/proc/sys/net/ipv4/conf/%s/rp_filter", "1"},
	{"/proc/sys/net/ipv4/conf/%s/arp_ignore", "8"},
	{"/proc/sys/net/ipv6/conf/%s/disable_ipv6", "1"},
};

static char wire_saved[3][16];

static int read_sysctl(const char *fmt, const char *iface, char *value, size_t len)
{
	char path[128];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), fmt, iface);
	f = fopen(path, "r");
	if (f && fgets(value, (int)len, f)) {
		value[strcspn(value, "\n")] = '\0';
		rc = 0;
	}
	if (f)
		fclose(f);
	return rc;
}

static int write_sysctl(const char *fmt, const char *iface, const char *value)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), fmt, iface);
	f = fopen(path, "w");
	if (!f)
		return -1;
	int rc = fputs(value, f) < 0 ? -1 : 0;

	return fclose(f) == 0 ? rc : -1;
}

/* The values found before we changed them, kept on disk until they are
 * put back: after a kill -9 the next start restores the real originals,
 * not the values the killed run left behind. */
#define DP_STATE_DIR "/run/carousel"

static void state_path(const char *iface, char *path, size_t len)
{
	snprintf(path, len, DP_STATE_DIR "/dp-%s.sysctl", iface);
}

static bool state_load(const char *iface)
{
	char path[128];
	FILE *f;
	unsigned n = 0;

	state_path(iface, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return false;
	while (n < 3 && fgets(wire_saved[n], sizeof(wire_saved[n]), f)) {
		wire_saved[n][strcspn(wire_saved[n], "\n")] = '\0';
		n++;
	}
	fclose(f);
	return n == 3;
}

static void state_save(const char *iface)
{
	char path[128];
	FILE *f;

	mkdir(DP_STATE_DIR, 0750);
	state_path(iface, path, sizeof(path));
	f = fopen(path, "w");
	if (!f) {
		log_warn("event=dataplane-state path=%s error=\"%s\" note=\"after a kill -9 the "
			 "wire interface's sysctls stay changed\"",
			 path, strerror(errno));
		return;
	}
	for (unsigned i = 0; i < 3; i++)
		fprintf(f, "%s\n", wire_saved[i]);
	fclose(f);
}

static int kernel_off(const char *iface)
{
	bool known = state_load(iface); /* a killed run's originals */

	if (known)
		log_info("event=dataplane-state iface=%s note=\"restoring the sysctls a killed run "
			 "changed, on exit\"", iface);
	if (!known) {
		/* read them all and keep them on disk before changing any */
		for (unsigned i = 0; i < 3; i++)
			if (read_sysctl(wire_sysctls[i][0], iface, wire_saved[i],
					sizeof(wire_saved[i])) < 0)
				return -1;
		state_save(iface);
	}
	for (unsigned i = 0; i < 3; i++)
		if (write_sysctl(wire_sysctls[i][0], iface, wire_sysctls[i][1]) < 0)
			return -1;
	return 0;
}

static void kernel_restore(const char *iface)
{
	char path[128];

	for (unsigned i = 0; i < 3; i++)
		write_sysctl(wire_sysctls[i][0], iface, wire_saved[i]);
	state_path(iface, path, sizeof(path));
	unlink(path);
}

/* Give the exception interface the appliance's addresses, so the kernel
 * (carouseld's sockets, ARP, ND, ICMP) owns them. */
static int tap_addresses(const struct fp_config *c)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dp.tap_iface);
	if (c->has_ip4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, c->ip4, 4);
		rc |= ioctl(fd, SIOCSIFADDR, &ifr);
		sin->sin_addr.s_addr = c->ip4_prefix ? htonl(~0u << (32 - c->ip4_prefix)) : 0;
		rc |= ioctl(fd, SIOCSIFNETMASK, &ifr);
	}
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc |= ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	if (c->has_ip6) {
		struct {
			struct in6_addr addr;
			uint32_t prefixlen;
			int ifindex;
		} r6 = {.prefixlen = c->ip6_prefix, .ifindex = (int)if_nametoindex(dp.tap_iface)};
		int fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		memcpy(&r6.addr, c->ip6, 16);
		if (fd6 < 0 || ioctl(fd6, SIOCSIFADDR, &r6) < 0)
			rc = -1;
		if (fd6 >= 0)
			close(fd6);
	}
	return rc;
}

int dp_init(const struct fp_config *c, int eal_argc, char **eal_argv)
{
	char vport[256], vexc[256];
	char *argv[eal_argc + 8];
	int argc = 0;

	argv[argc++] = (char *)"carouseld";
	for (int i = 0; i < eal_argc; i++)
		argv[argc++] = eal_argv[i];
	if (strncmp(c->port, "net_", 4) == 0) {
		snprintf(vport, sizeof(vport), "--vdev=%s", c->port);
		argv[argc++] = vport;
	} else {
		argv[argc++] = (char *)"-a";
		argv[argc++] = (char *)c->port;
	}
	snprintf(vexc, sizeof(vexc), "--vdev=%s", c->exception);
	argv[argc++] = vexc;
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		log_error("event=dataplane-init error=\"EAL: %s\"", rte_strerror(rte_errno));
		return -1;
	}
	return dp_setup(c);
}

int dp_setup(const struct fp_config *c)
{
	int rc;

	dp.nq = rte_lcore_count() - 1;
	if (dp.nq == 0) {
		log_error("event=dataplane-init error=\"no worker lcore: give EAL two or more "
			  "(e.g. -l 0-1)\"");
		return -1;
	}
	if (port_by_devargs(c->port, &dp.port) != 0 ||
	    port_by_devargs(c->exception, &dp.tap) != 0) {
		log_error("event=dataplane-init error=\"ports %s / %s not found\"", c->port,
			  c->exception);
		return -1;
	}
	/* net_tap's kernel interface: iface= of its devargs, else dtap0 */
	const char *iface = strstr(c->exception, "iface=");
	bool is_tap = strncmp(c->exception, "net_tap", 7) == 0;

	iface = iface ? iface + 6 : "dtap0";
	snprintf(dp.tap_iface, sizeof(dp.tap_iface), "%.*s", (int)strcspn(iface, ","), iface);
	dp.pool = rte_pktmbuf_pool_create("carousel_mbufs", c->mbufs, 256, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!dp.pool) {
		log_error("event=dataplane-init error=\"mbuf pool: %s\"", rte_strerror(rte_errno));
		return -1;
	}
	bool tap_intr = false;

	/* the kernel's port has one queue: only the exception thread uses it */
	if ((rc = port_setup(dp.port, (uint16_t)dp.nq, true, false, NULL)) != 0 ||
	    (rc = port_setup(dp.tap, 1, false, true, &tap_intr)) != 0) {
		log_error("event=dataplane-init error=\"port setup: %s\"", rte_strerror(-rc));
		return -1;
	}
	/* The kernel answers ARP/ND for us: it must use the wire port's MAC. */
	struct rte_ether_addr mac;

	rte_eth_macaddr_get(dp.port, &mac);
	if ((rc = rte_eth_dev_default_mac_addr_set(dp.tap, &mac)) != 0)
		log_warn("event=dataplane-init note=\"cannot set the exception MAC: %s\"",
			 rte_strerror(-rc));
	if ((rc = rte_eth_dev_start(dp.port)) != 0 || (rc = rte_eth_dev_start(dp.tap)) != 0) {
		log_error("event=dataplane-init error=\"port start: %s\"", rte_strerror(-rc));
		return -1;
	}
	rte_eth_promiscuous_enable(dp.port);
	dp.tap_intr_fd = tap_intr ? rte_eth_dev_rx_intr_ctl_q_get_fd(dp.tap, 0) : -1;
	dp.link_up = dp.link_seen = true;
	const char *wif = strstr(c->port, "iface=");

	if (strncmp(c->port, "net_af_packet", 13) == 0 && wif) {
		wif += 6;
		snprintf(dp.wire_iface, sizeof(dp.wire_iface), "%.*s", (int)strcspn(wif, ","), wif);
		if (kernel_off(dp.wire_iface) != 0) {
			log_error("event=dataplane-init error=\"cannot keep the kernel stack off %s: "
				  "%s\"", dp.wire_iface, strerror(errno));
			return -1;
		}
	}
	if (is_tap && tap_addresses(c) != 0) {
		log_error("event=dataplane-init error=\"cannot address %s: %s\"", dp.tap_iface,
			  strerror(errno));
		return -1;
	}
	memcpy(&dp.addrs.ip4, c->ip4, 4);
	if (!c->has_ip4)
		dp.addrs.ip4 = 0;
	memcpy(dp.addrs.ip6, c->ip6, 16);
	dp.addrs.has_ip6 = c->has_ip6;
	dp.addrs.port = c->dns_port;
	dp.burst = c->burst < DP_MAX_BURST ? c->burst : DP_MAX_BURST;
	dp.idle_sleep_us = c->idle_sleep_us;

	struct rte_hash_parameters hp = {
		.name = "carousel_entries",
		.entries = c->max_entries ? c->max_entries : DP_TABLE_SIZE,
		.key_len = sizeof(uint64_t),
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};

	dp.table = rte_hash_create(&hp);
	size_t qsz = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);

	dp.qsv = rte_zmalloc("carousel_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	dp.retired = calloc(DP_RETIRE_MAX, sizeof(*dp.retired));
	if (!dp.table || !dp.qsv || !dp.retired || rte_rcu_qsbr_init(dp.qsv, RTE_MAX_LCORE) != 0) {
		log_error("event=dataplane-init error=\"entry table: %s\"", rte_strerror(rte_errno));
		return -1;
	}
	dp.tsc_hz = rte_get_tsc_hz();
	dp.tsc0 = rte_get_tsc_cycles();
	struct timespec rt;

	clock_gettime(CLOCK_REALTIME, &rt);
	dp.unix0_ns = (uint64_t)rt.tv_sec * 1000000000ULL + (uint64_t)rt.tv_nsec;
	log_info("event=dataplane-init port=%s exception=%s iface=%s lcores=%u burst=%u "
		 "max-entries=%u exception-wakeup=%s",
		 c->port, c->exception, dp.tap_iface, dp.nq, dp.burst, hp.entries,
		 dp.tap_intr_fd >= 0 ? "interrupt" : "poll");
	return 0;
}

int dp_launch(void)
{
	unsigned i = 0, lcore;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct lcore_ctx *lc = &dp.lc[lcore];
		char name[RTE_RING_NAMESIZE];

		lc->lcore = lcore;
		lc->queue = (uint16_t)i++;
		lc->rot = rte_zmalloc("carousel_rot", ENTRY_ROT_SLOTS * sizeof(uint32_t),
				      RTE_CACHE_LINE_SIZE);
		lc->rrl = rte_zmalloc("carousel_rrl", DP_RRL_SLOTS * sizeof(uint64_t),
				      RTE_CACHE_LINE_SIZE);
		snprintf(name, sizeof(name), "car_tap%u", lcore);
		lc->tap = rte_ring_create_elem(name, sizeof(struct fp_tap), DP_TAP_RING,
					       (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "car_punt%u", lcore);
		lc->punt = rte_ring_create(name, DP_EXC_RING, (int)rte_socket_id(),
					   RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "car_kern%u", lcore);
		lc->from_kernel = rte_ring_create(name, DP_EXC_RING, (int)rte_socket_id(),
						  RING_F_SP_ENQ | RING_F_SC_DEQ);
		dp.worker_lcore[lc->queue] = lcore;
		if (!lc->rot || !lc->rrl || !lc->tap || !lc->punt || !lc->from_kernel ||
		    rte_eal_remote_launch(worker_main, lc, lcore) != 0)
			return -1;
	}
	dp.launched = true;
	if (pthread_create(&dp.exc_thread, NULL, exception_main, NULL) != 0)
		return -1;
	dp.exc_started = true;
	return 0;
}

/* ---- publisher (main thread only) ---- */

static void dp_reclaim(void);

static void *entry_alloc(void *arg, size_t size)
{
	(void)arg;
	return slab_alloc(&dp.slab, size);
}

static void entry_free(struct frame_entry *f)
{
	if (f)
		slab_free(&dp.slab, f, f->size);
}

static void retire(struct frame_entry *e, int32_t pos)
{
	dp.entry_bytes -= e->size;
	dp.variant_bytes -= e->variant_bytes;
	if (dp.nretired == DP_RETIRE_MAX) {
		/* full: wait for this grace period rather than leak */
		rte_rcu_qsbr_synchronize(dp.qsv, RTE_QSBR_THRID_INVALID);
		dp_reclaim();
	}
	dp.retired[dp.nretired++] = (struct retired){
		.e = e, .pos = pos, .token = rte_rcu_qsbr_start(dp.qsv)};
}

static void dp_reclaim(void)
{
	unsigned keep = 0;

	for (unsigned i = 0; i < dp.nretired; i++) {
		struct retired *r = &dp.retired[i];

		if (rte_rcu_qsbr_check(dp.qsv, r->token, false) == 1) {
			if (r->pos >= 0)
				rte_hash_free_key_with_position(dp.table, r->pos);
			entry_free(r->e);
		} else {
			dp.retired[keep++] = *r;
		}
	}
	dp.nretired = keep;
}

/* Publisher: the DPDK form of e (frame_entry_build) replaces the entry
 * with its key in one atomic store of the data pointer (readers see the
 * old or the new); the old one is freed after the grace period. */
static int dp_publish(const struct entry *e)
{
	struct frame_entry *f = frame_entry_build_in(e, entry_alloc, NULL), *old = NULL;

	if (!f)
		return -1;
	rte_hash_lookup_data(dp.table, &e->digest, (void **)&old);
	if (rte_hash_add_key_data(dp.table, &e->digest, f) < 0) {
		entry_free(f);
		return -1;
	}
	dp.entry_bytes += f->size;
	dp.variant_bytes += f->variant_bytes;
	if (old)
		retire(old, -1);
	return 0;
}

/* The same for a batch: one bulk lookup finds the entries replaced, its
 * bucket prefetches overlapping the misses that one lookup per entry
 * would take in turn, and the adds then find their buckets cached. */
static void dp_publish_batch(const struct entry *const *e, unsigned n, int *ok)
{
	const void *keys[FP_BATCH_MAX];
	void *old[FP_BATCH_MAX];
	uint64_t hits = 0;

	if (n > FP_BATCH_MAX) {
		for (unsigned i = 0; i < n; i++)
			ok[i] = dp_publish(e[i]);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		keys[i] = &e[i]->digest;
	rte_hash_lookup_bulk_data(dp.table, keys, n, &hits, old);
	for (unsigned i = 0; i < n; i++) {
		struct frame_entry *f = frame_entry_build_in(e[i], entry_alloc, NULL);

		ok[i] = -1;
		if (!f)
			continue;
		if (rte_hash_add_key_data(dp.table, keys[i], f) < 0) {
			entry_free(f);
			continue;
		}
		ok[i] = 0;
		dp.entry_bytes += f->size;
		dp.variant_bytes += f->variant_bytes;
		if (hits >> i & 1)
			retire(old[i], -1);
	}
}

/* The next policy: a copy of the current one, changed by `change`. */
static void policy_update(void (*change)(struct dp_policy *p, const void *arg), const void *arg)
{
	unsigned next = !dp.slot;

	/* a worker that loaded the slot before the last flip is done with it */
	rte_rcu_qsbr_synchronize(dp.qsv, RTE_QSBR_THRID_INVALID);
	dp.policy[next] = dp.policy[dp.slot];
	change(&dp.policy[next], arg);
	__atomic_store_n(&dp.slot, next, __ATOMIC_RELEASE);
}

static void set_cookies(struct dp_policy *p, const void *arg)
{
	p->cookies = *(const struct fp_cookies *)arg;
}

/* Each worker limits its own share: RSS spreads a prefix's queries over
 * the queues (it hashes ports too), so the shares add up to the rate. */
static void set_rrl(struct dp_policy *p, const void *arg)
{
	p->rrl = *(const struct fp_rrl *)arg;
	p->rrl_rate = (p->rrl.rate + dp.nq - 1) / dp.nq;
}

static void dp_cookies(const struct fp_cookies *k)
{
	policy_update(set_cookies, k);
}

static void dp_rrl(const struct fp_rrl *r)
{
	policy_update(set_rrl, r);
}

static void set_tap(struct dp_policy *p, const void *arg)
{
	p->tap_sample = *(const unsigned *)arg;
}

static void dp_tap(unsigned sample)
{
	policy_update(set_tap, &sample);
}

static unsigned dp_tap_drain(fp_tap_fn *fn, void *arg)
{
	static struct fp_tap t; /* the main thread only */
	unsigned n = 0, lcore;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct lcore_ctx *lc = &dp.lc[lcore];

		for (unsigned i = 0; lc->tap && i < 256 && rte_ring_dequeue_elem(lc->tap, &t,
									    sizeof(t)) == 0;
		     i++, n++)
			fn(&t, arg);
	}
	return n;
}

static void dp_withdraw(uint64_t digest)
{
	struct frame_entry *e = NULL;

	if (rte_hash_lookup_data(dp.table, &digest, (void **)&e) < 0)
		return;
	int32_t pos = rte_hash_del_key(dp.table, &digest);

	if (pos >= 0 && e)
		retire(e, pos);
}

static void dp_stop(void)
{
	const void *key;
	void *data;
	uint32_t iter = 0;

	dp.force_quit = true;
	if (dp.launched)
		rte_eal_mp_wait_lcore();
	if (dp.exc_started)
		pthread_join(dp.exc_thread, NULL);
	rte_eth_dev_stop(dp.port);
	rte_eth_dev_stop(dp.tap);
	rte_eth_dev_close(dp.port);
	rte_eth_dev_close(dp.tap);
	if (dp.wire_iface[0])
		kernel_restore(dp.wire_iface);
	dp_reclaim();
	while (rte_hash_iterate(dp.table, &key, &data, &iter) >= 0)
		entry_free(data);
	for (unsigned i = 0; i < dp.nretired; i++)
		entry_free(dp.retired[i].e);
	free(dp.retired);
	slab_destroy(&dp.slab);
	rte_hash_free(dp.table);
	rte_free(dp.qsv);
	unsigned lcore;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct lcore_ctx *lc = &dp.lc[lcore];
		void *m;

		rte_free(lc->rot);
		rte_free(lc->rrl);
		rte_ring_free(lc->tap);
		while (lc->punt && rte_ring_dequeue(lc->punt, &m) == 0)
			rte_pktmbuf_free(m);
		while (lc->from_kernel && rte_ring_dequeue(lc->from_kernel, &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(lc->punt);
		rte_ring_free(lc->from_kernel);
	}
	rte_eal_cleanup();
}

/* ---- carouselctl ---- */

static size_t dp_stats_text(char *buf, size_t len)
{
	struct lcore_stats t = {0};
	size_t n = 0;
	unsigned lcore;

#define SAY(...)                                                                           \
	do {                                                                                \
		if (n < len)                                                                \
			n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__);               \
	} while (0)
	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct lcore_stats *s = &dp.lc[lcore].stats;
		uint64_t punted = 0, dropped = 0;

		for (int i = 0; i < PUNT_COUNT; i++) {
			uint64_t v = __atomic_load_n(&s->punt[i], __ATOMIC_RELAXED);

			t.punt[i] += v;
			punted += v;
		}
		for (int i = 0; i < DROP_COUNT; i++) {
			uint64_t v = __atomic_load_n(&s->drop[i], __ATOMIC_RELAXED);

			t.drop[i] += v;
			dropped += v;
		}
		uint64_t rx = __atomic_load_n(&s->rx, __ATOMIC_RELAXED);
		uint64_t ans = __atomic_load_n(&s->answered, __ATOMIC_RELAXED);

		t.rx += rx;
		t.answered += ans;
		t.from_kernel += __atomic_load_n(&s->from_kernel, __ATOMIC_RELAXED);
		t.tx_wire_fail += __atomic_load_n(&s->tx_wire_fail, __ATOMIC_RELAXED);
		t.to_kernel_fail += __atomic_load_n(&s->to_kernel_fail, __ATOMIC_RELAXED);
		t.kernel_tx_fail += __atomic_load_n(&s->kernel_tx_fail, __ATOMIC_RELAXED);
		t.link_down_drop += __atomic_load_n(&s->link_down_drop, __ATOMIC_RELAXED);
		t.slipped += __atomic_load_n(&s->slipped, __ATOMIC_RELAXED);
		t.with_cookie += __atomic_load_n(&s->with_cookie, __ATOMIC_RELAXED);
		t.with_ecs += __atomic_load_n(&s->with_ecs, __ATOMIC_RELAXED);
		t.tap_dropped += __atomic_load_n(&s->tap_dropped, __ATOMIC_RELAXED);
		SAY("dpdk.lcore%u.rx %llu\ndpdk.lcore%u.answered %llu\ndpdk.lcore%u.punted %llu\n"
		    "dpdk.lcore%u.dropped %llu\ndpdk.lcore%u.busy-cycles %llu\n",
		    lcore, (unsigned long long)rx, lcore, (unsigned long long)ans, lcore,
		    (unsigned long long)punted, lcore, (unsigned long long)dropped, lcore,
		    (unsigned long long)__atomic_load_n(&s->busy_cycles, __ATOMIC_RELAXED));
	}
	SAY("dpdk.rx %llu\ndpdk.answered %llu\ndpdk.answered.cookie %llu\ndpdk.answered.ecs %llu\n"
	    "dpdk.slipped %llu\ndpdk.dnstap.dropped %llu\n",
	    (unsigned long long)t.rx, (unsigned long long)t.answered,
	    (unsigned long long)t.with_cookie, (unsigned long long)t.with_ecs,
	    (unsigned long long)t.slipped, (unsigned long long)t.tap_dropped);
	for (int i = 1; i < PUNT_COUNT; i++)
		SAY("dpdk.punted.%s %llu\n", frame_verdict_names[i], (unsigned long long)t.punt[i]);
	for (int i = 0; i < DROP_COUNT; i++)
		SAY("dpdk.dropped.%s %llu\n", frame_verdict_names[PUNT_COUNT + i],
		    (unsigned long long)t.drop[i]);
	/* the exception thread's drops: the kernel's port or a worker's ring full */
	t.to_kernel_fail += __atomic_load_n(&dp.exc_stats.to_kernel_fail, __ATOMIC_RELAXED);
	t.kernel_tx_fail += __atomic_load_n(&dp.exc_stats.kernel_tx_fail, __ATOMIC_RELAXED);
	SAY("dpdk.dropped.wire-tx-full %llu\ndpdk.dropped.kernel-tx-full %llu\n"
	    "dpdk.dropped.to-kernel-full %llu\ndpdk.dropped.link-down %llu\n"
	    "dpdk.from-kernel %llu\ndpdk.link-up %d\ndpdk.link-downs %llu\n",
	    (unsigned long long)t.tx_wire_fail, (unsigned long long)t.kernel_tx_fail,
	    (unsigned long long)t.to_kernel_fail, (unsigned long long)t.link_down_drop,
	    (unsigned long long)t.from_kernel, __atomic_load_n(&dp.link_up, __ATOMIC_RELAXED),
	    (unsigned long long)dp.link_downs);
	SAY("dpdk.entries %d\ndpdk.entry-bytes %llu\ndpdk.variant-bytes %llu\n"
	    "dpdk.entry-memory %llu\n",
	    rte_hash_count(dp.table), (unsigned long long)dp.entry_bytes,
	    (unsigned long long)dp.variant_bytes, (unsigned long long)dp.slab.held);
	return n < len ? n : len;
}

static size_t dp_status_text(char *buf, size_t len)
{
	size_t n = 0;
	char name[RTE_ETH_NAME_MAX_LEN];
	struct rte_ether_addr mac;
	unsigned lcore;

	rte_eth_dev_get_name_by_port(dp.port, name);
	rte_eth_macaddr_get(dp.port, &mac);
	SAY("dataplane dpdk\nport %u %s mac " RTE_ETHER_ADDR_PRT_FMT " link %s queues %u\n",
	    dp.port, name, RTE_ETHER_ADDR_BYTES(&mac),
	    __atomic_load_n(&dp.link_up, __ATOMIC_RELAXED) ? "up" : "down", dp.nq);
	rte_eth_dev_get_name_by_port(dp.tap, name);
	SAY("exception %u %s iface %s\n", dp.tap, name, dp.tap_iface);
	RTE_LCORE_FOREACH_WORKER(lcore)
	SAY("lcore %u queue %u\n", lcore, dp.lc[lcore].queue);
	SAY("entries %d\n", rte_hash_count(dp.table));
	return n < len ? n : len;
#undef SAY
}

const struct fp_ops dp_ops = {
	.name = "dpdk",
	.publish = dp_publish,
	.publish_batch = dp_publish_batch,
	.withdraw = dp_withdraw,
	.cookies = dp_cookies,
	.rrl = dp_rrl,
	.tap = dp_tap,
	.tap_drain = dp_tap_drain,
	.poll = dp_reclaim,
	.stats = dp_stats_text,
	.status = dp_status_text,
	.stop = dp_stop,
};
