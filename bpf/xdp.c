/* xdp.c -- XDP loader: skeleton open -> rodata -> load -> attach (native,
 * else generic with a warning), map sync, counters, clean detach. */
#include "xdp.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "carousel.skel.h"
#include "carousel_xdp.h"
#include "log.h"
#include "wire.h"

#define XDP_PUNT_NAME(id, name) "punted." name,
#define XDP_DROP_NAME(id, name) "dropped." name,
static const char *const counter_names[XC_COUNT] = {
	"rx", "tx", "slipped", "answered.cookie", "answered.ecs", "dnstap.dropped",
	FP_PUNTS(XDP_PUNT_NAME) FP_DROPS(XDP_DROP_NAME)};

static struct {
	struct carousel_bpf *skel;
	int ifindex;
	__u32 attach_flags;
	char ifname[IF_NAMESIZE];
	const char *mode;
	char driver[32];
	char why[128];      /* why this mode: the status output says it */
	enum xdp_mode want; /* the configured xdp-mode */
	bool warned;
	/* XDP_TX verdicts and the driver's XDP transmit errors at attach and
	 * when last read: "answered" is what left, not what the program sent */
	uint64_t tx_base, err_base, err_seen;
	uint64_t next_watch, watch_tx, watch_errs;
	struct xdp_policy policy; /* cookies and rate limits, as the map has them */
	struct ring_buffer *tap_rb; /* dnstap copies from the program */
	struct tap_call {
		fp_tap_fn *fn;
		void *arg;
		unsigned n;
	} tap_call;
	uint32_t generation;
} x;

static uint64_t mono_ns(void);

/* What the kernel allocates for one element of a BPF_F_NO_PREALLOC hash
 * map with this value size: struct htab_elem (48 bytes), the key, the
 * value (8-aligned) and bpf_mem_alloc's list node, from the kmalloc size
 * class above it (a power of two at these sizes; whole pages, still a
 * power of two, beyond 8 KiB). Measured on Linux 6.18 (MemFree and Slab
 * over 50 000 inserts): 1024 bytes for struct xdp_small, 16384 for
 * struct xdp_entry. */
#define ELEM_NEED(value) (48 + sizeof(uint64_t) + (((value) + 7) & ~(size_t)7) + 8)

static size_t elem_cost(size_t value)
{
	size_t need = ELEM_NEED(value), cost = 64;

	while (cost < need)
		cost <<= 1;
	return cost;
}

#define SMALL_COST elem_cost(sizeof(struct xdp_small))
#define LARGE_COST elem_cost(sizeof(struct xdp_entry))

/* The kernel memory of maps holding that many elements. */
static double kernel_mib(uint64_t large, uint64_t small)
{
	return ((double)large * LARGE_COST + (double)small * SMALL_COST) / (1 << 20);
}

/* The two maps' capacities. Both get dataplane.max-entries: a key lives
 * in one of them and an element is allocated only while held. A capacity
 * sized to the config is held to an eighth of the machine's memory for
 * the two together (at least 1024 entries each) unless the operator set
 * dataplane.max-entries: the small map first, with up to seven eighths of
 * that, since typical entries are small (a million names, two million
 * entries, take 2 GiB there); the large map gets the rest, at least an
 * eighth, for cached answers, topology and larger pools. With one large
 * map alone, an eighth of 24 GiB held only 180 000 entries. The names
 * beyond are answered by carouseld, counted as not-held. */
static void xdp_capacity(const struct fp_config *c, unsigned *large, unsigned *small)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t budget = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 8 : 0;
	uint64_t fit_small = (budget - budget / 8) / SMALL_COST, fit_large;

	*large = *small = c->max_entries;
	if (!c->max_entries_sized || !budget)
		return;
	if (*small > fit_small)
		*small = fit_small < 1024 ? 1024 : (unsigned)fit_small;
	fit_large = (uint64_t)*small * SMALL_COST < budget
			? (budget - (uint64_t)*small * SMALL_COST) / LARGE_COST
			: 0;
	if (*large > fit_large)
		*large = fit_large < 1024 ? 1024 : (unsigned)fit_large;
	if (*large == c->max_entries && *small == c->max_entries)
		return;
	log_warn("event=xdp-capacity entries=%u small-entries=%u sized-to-config=%u "
		 "kernel-mib-max=%.0f note=\"the XDP maps hold %u entries in the large class "
		 "(%zu bytes each) and %u in the small one (%zu bytes each), an eighth of this "
		 "machine's memory; the rest of the config's names are answered by carouseld; set "
		 "dataplane.max-entries to hold more\"",
		 *large, *small, c->max_entries,
		 kernel_mib(*large, *small), *large,
		 LARGE_COST, *small, SMALL_COST);
}

/* The kernel memory the two maps take when full. */
static double kernel_mib_max(void)
{
	return kernel_mib(bpf_map__max_entries(x.skel->maps.entries),
			  bpf_map__max_entries(x.skel->maps.entries_small));
}

/* The keys the large map holds, so that a publish to the small map
 * deletes the key from the large one only where it is (the other way, a
 * million publishes would make a million more system calls). Open
 * addressing, linear probing, deletion by backward shift; 0 marks a free
 * slot (the key 0 is kept apart). */
static struct {
	uint64_t *slot;
	size_t mask, n;
	bool zero;
} large_keys;

static size_t lk_home(uint64_t key)
{
	return (size_t)(key * 0x9e3779b97f4a7c15ULL >> 32) & large_keys.mask;
}

static bool lk_has(uint64_t key)
{
	if (key == 0)
		return large_keys.zero;
	if (!large_keys.slot)
		return false;
	for (size_t i = lk_home(key);; i = (i + 1) & large_keys.mask) {
		if (large_keys.slot[i] == key)
			return true;
		if (large_keys.slot[i] == 0)
			return false;
	}
}

static int lk_add(uint64_t key)
{
	if (key == 0) {
		large_keys.zero = true;
		return 0;
	}
	if (2 * (large_keys.n + 1) > large_keys.mask + 1 || !large_keys.slot) {
		size_t size = large_keys.slot ? 2 * (large_keys.mask + 1) : 1024;
		uint64_t *old = large_keys.slot, *slot = calloc(size, sizeof(*slot));
		size_t old_size = old ? large_keys.mask + 1 : 0;

		if (!slot)
			return -1;
		large_keys.slot = slot;
		large_keys.mask = size - 1;
		large_keys.n = 0;
		for (size_t i = 0; i < old_size; i++)
			if (old[i])
				lk_add(old[i]);
		free(old);
	}
	size_t i = lk_home(key);

	while (large_keys.slot[i] && large_keys.slot[i] != key)
		i = (i + 1) & large_keys.mask;
	if (!large_keys.slot[i])
		large_keys.n++;
	large_keys.slot[i] = key;
	return 0;
}

static void lk_del(uint64_t key)
{
	size_t i, j;

	if (key == 0) {
		large_keys.zero = false;
		return;
	}
	if (!large_keys.slot)
		return;
	for (i = lk_home(key); large_keys.slot[i] != key; i = (i + 1) & large_keys.mask)
		if (large_keys.slot[i] == 0)
			return;
	/* pull back every later key of the run that may sit at i */
	for (j = (i + 1) & large_keys.mask; large_keys.slot[j]; j = (j + 1) & large_keys.mask) {
		size_t home = lk_home(large_keys.slot[j]);

		if (((j - home) & large_keys.mask) >= ((j - i) & large_keys.mask)) {
			large_keys.slot[i] = large_keys.slot[j];
			i = j;
		}
	}
	large_keys.slot[i] = 0;
	large_keys.n--;
}

static void lk_clear(void)
{
	free(large_keys.slot);
	memset(&large_keys, 0, sizeof(large_keys));
}

static uint64_t counter(unsigned idx);

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ethtool(8)'s ioctl on the interface: the driver's name. */
static int eth_ioctl(const char *ifname, void *cmd)
{
	struct ifreq ifr = {.ifr_data = cmd};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	rc = ioctl(fd, SIOCETHTOOL, &ifr);
	close(fd);
	return rc;
}

static void eth_driver(const char *ifname, char *drv, size_t len)
{
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};

	snprintf(drv, len, "%s", eth_ioctl(ifname, &info) == 0 ? info.driver : "unknown");
}

/* The sum of the driver's statistics that count XDP_TX frames it could not
 * send (veth: rx_queue_N_xdp_tx_errors; mlx5: rx_xdp_tx_err; virtio_net:
 * ..._xdp_tx_drops). -1 when the driver has none. */
static int eth_xdp_tx_errors(const char *ifname, uint64_t *sum)
{
	struct {
		struct ethtool_sset_info hdr;
		__u32 count;
	} sset = {.hdr = {.cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << ETH_SS_STATS}};
	struct ethtool_gstrings *names = NULL;
	struct ethtool_stats *stats = NULL;
	int found = -1;

	if (eth_ioctl(ifname, &sset) < 0 || !(sset.hdr.sset_mask & (1ULL << ETH_SS_STATS)) ||
	    sset.count == 0 || sset.count > 65536)
		return -1;
	names = calloc(1, sizeof(*names) + (size_t)sset.count * ETH_GSTRING_LEN);
	stats = calloc(1, sizeof(*stats) + (size_t)sset.count * sizeof(__u64));
	if (!names || !stats)
		goto out;
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_STATS;
	names->len = sset.count;
	stats->cmd = ETHTOOL_GSTATS;
	stats->n_stats = sset.count;
	if (eth_ioctl(ifname, names) < 0 || eth_ioctl(ifname, stats) < 0)
		goto out;
	*sum = 0;
	for (__u32 i = 0; i < sset.count && i < stats->n_stats; i++) {
		char name[ETH_GSTRING_LEN + 1] = {0};

		memcpy(name, names->data + (size_t)i * ETH_GSTRING_LEN, ETH_GSTRING_LEN);
		if (strstr(name, "xdp_tx_err") || strstr(name, "xdp_tx_drop")) {
			*sum += stats->data[i];
			found = 0;
		}
	}
out:
	free(names);
	free(stats);
	return found;
}

/* veth hands a natively XDP_TX'd frame to its peer only when the peer runs
 * an XDP program of its own (it needs the peer's NAPI): a plain kernel
 * client on the peer never sees the answer, and the frame shows up only in
 * the sender's rx_queue_N_xdp_tx_errors. We cannot see the peer (it is
 * usually in another namespace), so auto picks generic mode there. */
static const char *native_tx_unsafe(const char *driver)
{
	if (strcmp(driver, "veth") == 0)
		return "veth drops native XDP_TX frames unless its peer runs an XDP program";
	return NULL;
}

static int attach(unsigned flags, const char *mode)
{
	int err = bpf_xdp_attach(x.ifindex, bpf_program__fd(x.skel->progs.carousel_xdp), flags,
				 NULL);

	if (err == 0) {
		x.attach_flags = flags;
		x.mode = mode;
	}
	return err;
}

int xdp_init(const struct fp_config *c, bool attach_it)
{
	const char *unsafe;
	int err;

	libbpf_set_print(libbpf_log);
	x.skel = carousel_bpf__open();
	if (!x.skel) {
		log_error("event=xdp-init error=\"cannot open the XDP program: %s\"", strerror(errno));
		return -1;
	}
	if (c->has_ip4)
		memcpy((void *)&x.skel->rodata->our_ip4, c->ip4, 4);
	if (c->has_ip6) {
		memcpy((void *)x.skel->rodata->our_ip6, c->ip6, 16);
		x.skel->rodata->has_ip6 = 1;
	}
	x.skel->rodata->our_port = c->dns_port;
	/* BPF_F_NO_PREALLOC: the kernel allocates an element per entry held
	 * (elem_cost), not the maximum up front */
	if (c->max_entries) {
		unsigned large, small;

		xdp_capacity(c, &large, &small);
		bpf_map__set_max_entries(x.skel->maps.entries, large);
		bpf_map__set_max_entries(x.skel->maps.entries_small, small);
	}
	err = carousel_bpf__load(x.skel);
	if (err) {
		log_error("event=xdp-init error=\"the kernel refused the XDP program: %s (needs "
			  "BPF, bounded loops, bpf_xdp_store_bytes: Linux 5.18 or later)\"",
			  strerror(-err));
		goto cleanup;
	}
	if (!attach_it)
		return 0;
	snprintf(x.ifname, sizeof(x.ifname), "%s", c->interface);
	x.ifindex = (int)if_nametoindex(c->interface);
	if (x.ifindex == 0) {
		log_error("event=xdp-init error=\"no interface %s\"", c->interface);
		goto cleanup;
	}
	eth_driver(x.ifname, x.driver, sizeof(x.driver));
	unsafe = native_tx_unsafe(x.driver);
	x.want = c->xdp_mode;
	switch (c->xdp_mode) {
	case XDP_MODE_NATIVE:
		err = attach(XDP_FLAGS_DRV_MODE, "native");
		if (err) {
			log_error("event=xdp-init error=\"%s cannot run XDP in native mode: %s\"",
				  c->interface, strerror(-err));
			goto cleanup;
		}
		snprintf(x.why, sizeof(x.why), "asked for");
		if (unsafe)
			log_warn("event=xdp-init interface=%s driver=%s mode=native warning=\"%s: "
				 "answers reach the wire only if the peer has one (watch "
				 "xdp.tx-errors in carouselctl stats, or ethtool -S %s); "
				 "xdp-mode: generic always delivers\"",
				 x.ifname, x.driver, unsafe, x.ifname);
		break;
	case XDP_MODE_AUTO:
		if (unsafe) {
			snprintf(x.why, sizeof(x.why), "%s", unsafe);
			err = -EOPNOTSUPP;
		} else {
			err = attach(XDP_FLAGS_DRV_MODE, "native");
			snprintf(x.why, sizeof(x.why), "%s%s",
				 err ? "native attach failed: " : "the driver runs XDP",
				 err ? strerror(-err) : "");
		}
		if (!err)
			break;
		/* fall through */
	case XDP_MODE_GENERIC:
		if (c->xdp_mode == XDP_MODE_GENERIC)
			snprintf(x.why, sizeof(x.why), "asked for");
		err = attach(XDP_FLAGS_SKB_MODE, "generic");
		if (err) {
			log_error("event=xdp-init error=\"cannot attach XDP to %s: %s\"", c->interface,
				  strerror(-err));
			goto cleanup;
		}
		break;
	}
	x.tx_base = counter(XC_TX);
	if (eth_xdp_tx_errors(x.ifname, &x.err_base) < 0)
		x.err_base = 0;
	x.err_seen = x.err_base;
	log_info("event=xdp-init interface=%s driver=%s mode=%s max-entries=%u "
		 "small-max-entries=%u kernel-mib-max=%.0f xdp-mode=%s reason=\"%s\"",
		 x.ifname, x.driver, x.mode, bpf_map__max_entries(x.skel->maps.entries),
		 bpf_map__max_entries(x.skel->maps.entries_small), kernel_mib_max(),
		 c->xdp_mode == XDP_MODE_AUTO ? "auto" : c->xdp_mode == XDP_MODE_NATIVE ? "native"
											: "generic",
		 x.why);
	return 0;
cleanup:
	carousel_bpf__destroy(x.skel);
	x.skel = NULL;
	x.ifindex = 0;
	return -1;
}

/* The driver's XDP transmit errors since attach, read now. */
static void refresh_tx_errors(void)
{
	uint64_t errs;

	if (!x.ifindex || eth_xdp_tx_errors(x.ifname, &errs) < 0)
		return;
	if (errs < x.err_seen) /* the driver reset its statistics */
		x.err_base = errs - (x.err_seen - x.err_base);
	x.err_seen = errs;
}

uint64_t xdp_tx_errors(void)
{
	refresh_tx_errors();
	return x.err_seen - x.err_base;
}

static void xdp_watch(void)
{
	uint64_t now = mono_ns(), tx, errs;

	if (!x.skel || !x.ifindex || now < x.next_watch)
		return;
	x.next_watch = now + 250 * 1000000ULL;
	errs = xdp_tx_errors();
	tx = counter(XC_TX) - x.tx_base;
	if (errs == x.watch_errs || tx == x.watch_tx) {
		x.watch_errs = errs;
		x.watch_tx = tx;
		return;
	}
	x.watch_errs = errs;
	x.watch_tx = tx;
	/* answers are leaving the program and the driver drops them */
	if (x.want == XDP_MODE_AUTO && x.attach_flags == XDP_FLAGS_DRV_MODE) {
		log_warn("event=xdp-fallback interface=%s driver=%s tx-errors=%llu note=\"the "
			 "driver drops native XDP_TX answers; moving to generic mode\"",
			 x.ifname, x.driver, (unsigned long long)errs);
		bpf_xdp_detach(x.ifindex, XDP_FLAGS_DRV_MODE, NULL);
		if (attach(XDP_FLAGS_SKB_MODE, "generic") < 0) {
			log_error("event=xdp-fallback interface=%s error=\"cannot attach in generic "
				  "mode; the kernel path answers everything\"",
				  x.ifname);
			x.ifindex = 0;
			return;
		}
		snprintf(x.why, sizeof(x.why), "native XDP_TX answers were dropped by the driver");
		return;
	}
	if (!x.warned) {
		x.warned = true;
		log_warn("event=xdp-tx-errors interface=%s driver=%s mode=%s tx-errors=%llu "
			 "fix=\"the driver drops the program's answers: use dataplane.xdp-mode: "
			 "generic (or auto), or on veth attach an XDP program to the peer\"",
			 x.ifname, x.driver, x.mode, (unsigned long long)errs);
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A prebuild's answers into a value of either class (the same field
 * names in struct xdp_entry and struct xdp_small). */
#define PUT_PREBUILT(val, pre)                                                                  \
	do {                                                                                    \
		_Static_assert(sizeof((val)->var[0]) == sizeof((pre)->v[0]), "variant layout"); \
		(val)->nvariants = (pre)->nvariants;                                            \
		(val)->pb_sched_len = (pre)->sched_len;                                         \
		(val)->pb_flags = (pre)->flags;                                                 \
		(val)->pb_an = (pre)->ancount;                                                  \
		(val)->pb_ns = (pre)->nscount;                                                  \
		(val)->pb_ar = (pre)->arcount;                                                  \
		memcpy((val)->var, (pre)->v, (pre)->nvariants * sizeof((pre)->v[0]));           \
		memcpy((val)->step_variant, (pre)->step_variant, (pre)->sched_len);             \
	} while (0)

static void convert(const struct entry *e, struct xdp_entry *v)
{
	memset(v, 0, sizeof(*v));
	if (e->expires) {
		int64_t left = (int64_t)e->expires - (int64_t)time(NULL);

		v->expires_ns = mono_ns() + (uint64_t)(left > 0 ? left : 0) * 1000000000ULL;
	}
	v->rot_id = e->rot_id;
	v->rr_ttl = e->rr_ttl;
	v->qtype = e->qtype;
	v->qclass = e->qclass;
	v->hdr_flags = e->hdr_flags;
	v->rcode = e->rcode;
	v->name_len = e->name_len;
	v->head_an = e->head_an;
	v->tail_an = e->tail_an;
	v->tail_ns = e->tail_ns;
	v->tail_ar = e->tail_ar;
	v->head_len = e->head_len;
	v->tail_len = e->tail_len;
	v->rr_len = e->rr_len;
	v->rr_ttl_off = e->rr_ttl_off;
	v->rr_count = e->rr_count;
	v->answer_count = e->answer_count;
	v->sched_len = e->sched_len;
	v->nttl = e->nttl;
	memcpy(v->name, e->name, e->name_len);
	memcpy(v->live, e->live, sizeof(v->live));
	memcpy(v->sched, e->sched, sizeof(v->sched));
	memcpy(v->ttl_off, e->ttl_off, sizeof(v->ttl_off));
	memcpy(v->ttl, e->ttl, sizeof(v->ttl));
	memcpy(v->bytes, e->bytes, sizeof(v->bytes));
	v->head_sum = entry_sum(e->bytes, e->head_len);
	for (unsigned i = 0; i < e->rr_count && i < XDP_RR_MAX; i++)
		v->rr_sum[i] = entry_sum(e->bytes + e->head_len + i * e->rr_len, e->rr_len);
	v->tail_sum = entry_sum(e->bytes + e->head_len + (size_t)e->rr_count * e->rr_len,
				e->tail_len);
	static struct entry_prebuilt pb; /* the main thread only */

	if (entry_prebuild(e, &pb, v->vbytes, sizeof(v->vbytes)) >= 0) {
		PUT_PREBUILT(v, &pb);
		if (e->ngroups) {
			_Static_assert(sizeof(v->topo) == sizeof(e->topo), "one topology layout");
			v->ntopo = e->ntopo;
			v->ngroups = e->ngroups;
			memcpy(v->tg_base, pb.group_base, sizeof(v->tg_base));
			memcpy(v->tg_n, pb.group_n, sizeof(v->tg_n));
			memcpy(v->tg_an, pb.group_an, sizeof(v->tg_an));
			memcpy(v->topo, e->topo, sizeof(v->topo));
		}
	}
}

/* e's small-class value (carousel_xdp.h) when it fits: prebuilt answers
 * only, every variant with its OPT template inside vbytes. Built straight
 * from e: a million names are not first written out as two million
 * 10 KiB large values. */
static bool small_from_entry(const struct entry *e, struct xdp_small *sm)
{
	static struct entry_prebuilt pb; /* the main thread only */

	if (e->expires || e->ngroups || e->name_len > XDP_SMALL_NAME_MAX)
		return false;
	memset(sm, 0, sizeof(*sm));
	if (entry_prebuild(e, &pb, sm->vbytes, XDP_SMALL_BYTES_MAX) < 0 || !pb.nvariants ||
	    pb.nvariants > XDP_SMALL_VARIANTS || pb.sched_len > XDP_SMALL_SCHED)
		return false;
	sm->rot_id = e->rot_id;
	sm->qtype = e->qtype;
	sm->qclass = e->qclass;
	sm->name_len = e->name_len;
	PUT_PREBUILT(sm, &pb); /* nvariants <= XDP_SMALL_VARIANTS: fits its __u8 */
	memcpy(sm->name, e->name, e->name_len);
	return true;
}

/* A key the small map took now: out of the large one if it was there. */
static void small_took(uint64_t key)
{
	if (!lk_has(key))
		return;
	bpf_map_delete_elem(bpf_map__fd(x.skel->maps.entries), &key);
	lk_del(key);
}

/* A key the large map took now: out of the small one unless the large
 * map held it already (then the small one does not). */
static int large_took(uint64_t key)
{
	if (lk_has(key))
		return 0;
	if (lk_add(key) != 0) {
		bpf_map_delete_elem(bpf_map__fd(x.skel->maps.entries), &key);
		return -1;
	}
	bpf_map_delete_elem(bpf_map__fd(x.skel->maps.entries_small), &key);
	return 0;
}

/* m values of one map in one system call (the kernel updates element by
 * element); where it stops short, the rest one by one, so each entry
 * gets its own answer: ok[at[k]] = 0 where held. */
static void update_batch(int fd, const uint64_t *keys, const void *values, size_t size,
			 unsigned m, const unsigned *at, int *ok)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	__u32 count = m;

	if (m && bpf_map_update_batch(fd, keys, values, &count, &opts) != 0 && count > m)
		count = 0;
	for (unsigned k = 0; k < m; k++)
		ok[at[k]] = k < count || bpf_map_update_elem(fd, &keys[k],
							     (const char *)values + k * size,
							     BPF_ANY) == 0
				    ? 0
				    : -1;
}

/* A batch: one system call for the small entries, one for the large.
 * Each key goes to one map, its class's: the other loses it after the
 * update, so a query finds the old answer or the new one, never none
 * (the program looks in the small map first). The kernel links a new
 * element, then frees the old one after a grace period
 * (BPF_F_NO_PREALLOC). */
static void xdp_publish_batch(const struct entry *const *e, unsigned n, int *ok)
{
	static struct xdp_entry v[FP_BATCH_MAX]; /* the main thread only */
	static struct xdp_small sv[FP_BATCH_MAX];
	uint64_t keys[FP_BATCH_MAX], skeys[FP_BATCH_MAX];
	unsigned at[FP_BATCH_MAX] = {0}, sat[FP_BATCH_MAX] = {0}, m = 0, ms = 0;

	if (n > FP_BATCH_MAX) {
		xdp_publish_batch(e, FP_BATCH_MAX, ok);
		xdp_publish_batch(e + FP_BATCH_MAX, n - FP_BATCH_MAX, ok + FP_BATCH_MAX);
		return;
	}
	if (!x.skel) {
		for (unsigned i = 0; i < n; i++)
			ok[i] = -1;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		ok[i] = -1;
		if (small_from_entry(e[i], &sv[ms])) {
			skeys[ms] = e[i]->digest;
			sat[ms++] = i;
			continue;
		}
		convert(e[i], &v[m]);
		if (e[i]->ngroups && !v[m].ngroups)
			continue; /* a topology pool too large to prebuild: carouseld's */
		keys[m] = e[i]->digest;
		at[m++] = i;
	}
	update_batch(bpf_map__fd(x.skel->maps.entries_small), skeys, sv, sizeof(sv[0]), ms, sat,
		     ok);
	for (unsigned k = 0; k < ms; k++)
		if (ok[sat[k]] == 0)
			small_took(skeys[k]);
	update_batch(bpf_map__fd(x.skel->maps.entries), keys, v, sizeof(v[0]), m, at, ok);
	for (unsigned k = 0; k < m; k++)
		if (ok[at[k]] == 0)
			ok[at[k]] = large_took(keys[k]);
}

/* One entry: a batch of one. */
static int xdp_publish(const struct entry *e)
{
	int ok;

	xdp_publish_batch(&e, 1, &ok);
	return ok;
}

/* The policy map's value, rewritten whole on every change. */
static void policy_write(void)
{
	struct timespec tai, real;
	__u32 zero = 0;

	/* the program reads CLOCK_TAI (bpf_ktime_get_tai_ns); cookies and
	 * RRL count unix time: the offset is whole seconds (leap seconds) */
	clock_gettime(CLOCK_TAI, &tai);
	clock_gettime(CLOCK_REALTIME, &real);
	x.policy.tai_offset_ns = (int64_t)(tai.tv_sec - real.tv_sec +
					   (tai.tv_nsec - real.tv_nsec > 500000000L ? 1
					    : tai.tv_nsec - real.tv_nsec < -500000000L ? -1
										    : 0)) *
				 1000000000LL;
	if (x.skel)
		bpf_map_update_elem(bpf_map__fd(x.skel->maps.policy), &zero, &x.policy, BPF_ANY);
}

static void xdp_cookies(const struct fp_cookies *k)
{
	x.policy.enable = k->enable;
	x.policy.has_previous = k->has_previous;
	memcpy(x.policy.secret, k->secret, sizeof(x.policy.secret));
	memcpy(x.policy.previous, k->previous, sizeof(x.policy.previous));
	policy_write();
}

static void xdp_rrl(const struct fp_rrl *r)
{
	x.policy.rrl_enable = r->enable;
	x.policy.rrl_rate = r->rate;
	x.policy.rrl_slip = r->slip;
	x.policy.rrl_v4_prefix = r->v4_prefix;
	x.policy.rrl_v6_prefix = r->v6_prefix;
	policy_write();
}

static void xdp_tap(unsigned sample)
{
	x.policy.tap_sample = sample;
	policy_write();
}

_Static_assert(XDP_TOPO_MAX == ENTRY_TOPO_MAX, "one topology table size");
_Static_assert(sizeof(struct xdp_small) == 2 * XDP_SMALL_BYTES_MAX,
	       "the small class's fields fit in the verifier's slack after its variant bytes");
_Static_assert(ELEM_NEED(sizeof(struct xdp_small)) <= 1024,
	       "an element of the small map fits kmalloc-1k (elem_cost)");
_Static_assert(sizeof(struct xdp_tap) == sizeof(struct fp_tap) &&
		       offsetof(struct xdp_tap, response) == offsetof(struct fp_tap, response) &&
		       offsetof(struct xdp_tap, client_port) == offsetof(struct fp_tap, client_port),
	       "the ring buffer's record is lib/fastpath.h's struct fp_tap");

static int tap_record(void *ctx, void *data, size_t len)
{
	struct tap_call *c = ctx;

	if (len >= sizeof(struct fp_tap)) {
		c->fn((const struct fp_tap *)data, c->arg);
		c->n++;
	}
	return 0;
}

static unsigned xdp_tap_drain(fp_tap_fn *fn, void *arg)
{
	struct tap_call c = {.fn = fn, .arg = arg};

	if (!x.tap_rb) {
		if (!x.skel)
			return 0;
		x.tap_rb = ring_buffer__new(bpf_map__fd(x.skel->maps.tap_ring), tap_record, &x.tap_call,
					    NULL);
		if (!x.tap_rb)
			return 0;
	}
	x.tap_call = c;
	ring_buffer__consume(x.tap_rb);
	return x.tap_call.n;
}

/* From the map that holds it: the large one if large_keys says so, else
 * the small one (a key is never in both). */
static void xdp_withdraw(uint64_t digest)
{
	if (!x.skel)
		return;
	if (lk_has(digest)) {
		bpf_map_delete_elem(bpf_map__fd(x.skel->maps.entries), &digest);
		lk_del(digest);
		return;
	}
	bpf_map_delete_elem(bpf_map__fd(x.skel->maps.entries_small), &digest);
}

static void xdp_stop(void)
{
	if (!x.skel)
		return;
	ring_buffer__free(x.tap_rb);
	x.tap_rb = NULL;
	if (x.ifindex)
		bpf_xdp_detach(x.ifindex, x.attach_flags, NULL);
	carousel_bpf__destroy(x.skel);
	x.skel = NULL;
	x.ifindex = 0;
	lk_clear();
}

int xdp_prog_fd(void)
{
	return x.skel ? bpf_program__fd(x.skel->progs.carousel_xdp) : -1;
}

int xdp_map_fd(bool small)
{
	if (!x.skel)
		return -1;
	return bpf_map__fd(small ? x.skel->maps.entries_small : x.skel->maps.entries);
}

static uint64_t counter(unsigned idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v, sum = 0;
	__u32 key = idx;

	if (ncpu <= 0 || !x.skel)
		return 0;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (v && bpf_map_lookup_elem(bpf_map__fd(x.skel->maps.counters), &key, v) == 0)
		for (int i = 0; i < ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
}

/* Frames the program answered that the driver did send. */
static uint64_t answered(void)
{
	uint64_t tx = counter(XC_TX), errs = xdp_tx_errors();

	return tx > errs ? tx - errs : 0;
}

uint64_t xdp_counter(const char *name)
{
	if (strcmp(name, "answered") == 0)
		return answered();
	if (strcmp(name, "tx-errors") == 0)
		return xdp_tx_errors();
	for (unsigned i = 0; i < XC_COUNT; i++)
		if (strcmp(counter_names[i], name) == 0)
			return counter(i);
	return 0;
}

static size_t xdp_stats_text(char *buf, size_t len)
{
	int n = snprintf(buf, len, "xdp.answered %llu\nxdp.tx-errors %llu\n",
			 (unsigned long long)answered(), (unsigned long long)xdp_tx_errors());
	size_t k = n < 0 ? 0 : (size_t)n;

	for (unsigned i = 0; i < XC_COUNT && k < len; i++)
		k += (size_t)snprintf(buf + k, len - k, "xdp.%s %llu\n", counter_names[i],
				      (unsigned long long)counter(i));
	return k < len ? k : len;
}

static size_t xdp_status_text(char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "dataplane xdp\ninterface %s driver %s mode %s (%s)\n"
			 "map-capacity %u\nsmall-map-capacity %u\nlarge-entries %zu\n"
			 "kernel-mib-max %.0f\ntx-errors %llu\n",
			 x.ifname, x.driver[0] ? x.driver : "none", x.mode ? x.mode : "none",
			 x.why[0] ? x.why : "not attached",
			 x.skel ? bpf_map__max_entries(x.skel->maps.entries) : 0,
			 x.skel ? bpf_map__max_entries(x.skel->maps.entries_small) : 0,
			 large_keys.n + large_keys.zero, x.skel ? kernel_mib_max() : 0.0,
			 (unsigned long long)xdp_tx_errors());

	return n < 0 ? 0 : ((size_t)n < len ? (size_t)n : len);
}

const struct fp_ops xdp_ops = {
	.name = "xdp",
	.publish = xdp_publish,
	.publish_batch = xdp_publish_batch,
	.withdraw = xdp_withdraw,
	.cookies = xdp_cookies,
	.rrl = xdp_rrl,
	.tap = xdp_tap,
	.tap_drain = xdp_tap_drain,
	.poll = xdp_watch,
	.stats = xdp_stats_text,
	.status = xdp_status_text,
	.stop = xdp_stop,
};
