/* xfr.c -- secondary zones. One thread checks each zone's SOA on its
 * timers (and at once on a NOTIFY or `carouselctl refresh`), pulls IXFR
 * (RFC 1995) or AXFR over TCP with TSIG verified on every message that
 * carries it, writes the new zone beside the kept file, and asks the main
 * thread to swap it in as a reload does: a zone the loader refuses (no
 * SOA or NS, conflicts with a pool) never serves, and the old data stays.
 * The zone file and a small state file (serial, timers) survive restarts. */
#include "xfr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libknot/libknot.h>
#include <libzscanner/scanner.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tsig.h"
#include "wire.h"

#define XFR_SOA_TIMEOUT_MS 2000
#define XFR_MSG_TIMEOUT_MS 10000
#define XFR_TOTAL_TIMEOUT_S 300
#define XFR_NOTIFY_OPCODE 4
#define RCODE_NOTAUTH 9	     /* RFC 8945 */
#define XFR_RETRY_NO_DATA 10 /* seconds between tries while we have nothing */

/* One record of a zone, canonical (lower-case owner and RDATA names). */
struct xrec {
	struct xrec *next;
	uint32_t hash;
	uint32_t ttl;
	uint16_t type, rdlen;
	uint8_t olen;
	uint8_t data[]; /* owner, then RDATA */
};

struct store {
	struct xrec **b;
	size_t mask, n;
	struct xrec *soa;
};

struct xfr_zone {
	struct xfr_zone_public pub; /* first: what z->xfr points at */
	struct xfr_zone *next;
	struct xfr *x;
	uint8_t apex[DNAME_MAXLEN];
	char name[DNAME_STRLEN];
	/* from the config in force (under x->lock) */
	char cfg_file[4096];
	unsigned nprimaries;
	struct fleet_addr primaries[FLEET_MAX_PRIMARIES];
	bool has_key;
	struct tsig_key key;
	char key_name[DNAME_STRLEN];
	bool present;
	/* wake-ups from workers and the control socket */
	_Atomic bool notified, forced;
	/* the thread's, read under x->lock by `zones` */
	char file[4096]; /* cfg_file, taken by the thread at each refresh */
	bool have_data, store_loaded;
	uint32_t serial, refresh, retry, expire;
	time_t last_ok, last_attempt, next_check, expire_at;
	char result[256];
	char last_primary[64];
	uint64_t n_soa, n_notify, n_ixfr, n_axfr, n_uptodate, n_failed;
	struct store st;
};

struct xfr {
	struct xfr_hooks hooks;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int wake_fd; /* eventfd: the thread looks again */
	int main_fd; /* eventfd: the main thread has a swap to do */
	int stop_fd; /* eventfd: carouseld stops, network waits end */
	bool stop;
	struct xfr_zone *zones;
	/* one swap request at a time, answered by the main thread */
	struct xfr_zone *req;
	const char *req_file;
	uint64_t *req_count; /* a transfer's counter, serial and state, set by */
	uint32_t req_serial; /* the main thread as the swap that serves it is done */
	bool req_done;
	int req_rc;
	char req_err[CFG_ERR_LEN];
};

/* --- the record store --- */

static uint32_t rec_hash(const uint8_t *owner, size_t olen, uint16_t type, const uint8_t *rd,
			 size_t rdlen)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < olen; i++)
		h = (h ^ owner[i]) * 16777619u;
	h = (h ^ type) * 16777619u;
	for (size_t i = 0; i < rdlen; i++)
		h = (h ^ rd[i]) * 16777619u;
	return h;
}

static void store_clear(struct store *st)
{
	for (size_t i = 0; st->b && i <= st->mask; i++) {
		struct xrec *r = st->b[i];

		while (r) {
			struct xrec *next = r->next;

			free(r);
			r = next;
		}
	}
	free(st->b);
	memset(st, 0, sizeof(*st));
}

static struct xrec **store_slot(struct store *st, const uint8_t *owner, size_t olen, uint16_t type,
				const uint8_t *rd, size_t rdlen, uint32_t h)
{
	struct xrec **p = &st->b[h & st->mask];

	for (; *p; p = &(*p)->next) {
		struct xrec *r = *p;

		if (r->hash == h && r->type == type && r->olen == olen && r->rdlen == rdlen &&
		    memcmp(r->data, owner, olen) == 0 && memcmp(r->data + olen, rd, rdlen) == 0)
			return p;
	}
	return p;
}

static void store_grow(struct store *st)
{
	size_t size = st->b ? (st->mask + 1) * 2 : 1024;
	struct xrec **b = calloc(size, sizeof(*b));

	if (!b)
		abort();
	for (size_t i = 0; st->b && i <= st->mask; i++) {
		struct xrec *r = st->b[i];

		while (r) {
			struct xrec *next = r->next;

			r->next = b[r->hash & (size - 1)];
			b[r->hash & (size - 1)] = r;
			r = next;
		}
	}
	free(st->b);
	st->b = b;
	st->mask = size - 1;
}

static bool is_apex_soa(const struct xfr_zone *z, const uint8_t *owner, uint16_t type)
{
	return type == TYPE_SOA && dname_equal(owner, z->apex);
}

static void store_add(struct xfr_zone *z, struct store *st, const uint8_t *owner, uint16_t type,
		      uint32_t ttl, const uint8_t *rd, uint16_t rdlen)
{
	size_t olen = dname_len(owner);

	if (!st->b || st->n >= st->mask)
		store_grow(st);
	if (is_apex_soa(z, owner, type) && st->soa) {
		/* one SOA: a new one replaces the old */
		struct xrec *old = st->soa;
		struct xrec **p = store_slot(st, old->data, old->olen, old->type,
					     old->data + old->olen, old->rdlen, old->hash);

		*p = old->next;
		free(old);
		st->n--;
		st->soa = NULL;
	}
	uint32_t h = rec_hash(owner, olen, type, rd, rdlen);
	struct xrec **p = store_slot(st, owner, olen, type, rd, rdlen, h);

	if (*p) {
		(*p)->ttl = ttl;
		return;
	}
	struct xrec *r = malloc(sizeof(*r) + olen + rdlen);

	if (!r)
		abort();
	r->next = NULL;
	r->hash = h;
	r->ttl = ttl;
	r->type = type;
	r->rdlen = rdlen;
	r->olen = (uint8_t)olen;
	memcpy(r->data, owner, olen);
	memcpy(r->data + olen, rd, rdlen);
	*p = r;
	st->n++;
	if (is_apex_soa(z, owner, type))
		st->soa = r;
}

static int store_del(struct xfr_zone *z, struct store *st, const uint8_t *owner, uint16_t type,
		     const uint8_t *rd, uint16_t rdlen)
{
	size_t olen = dname_len(owner);

	if (!st->b)
		return -1;
	uint32_t h = rec_hash(owner, olen, type, rd, rdlen);
	struct xrec **p = store_slot(st, owner, olen, type, rd, rdlen, h);
	struct xrec *r = *p;

	if (!r)
		return -1;
	*p = r->next;
	if (is_apex_soa(z, owner, type))
		st->soa = NULL;
	free(r);
	st->n--;
	return 0;
}

static uint32_t soa_field(const uint8_t *rd, uint16_t rdlen, int k)
{
	/* serial, refresh, retry, expire, minimum: the last 20 bytes */
	return rdlen >= 20 ? wire_read32(rd + rdlen - 20 + 4 * k) : 0;
}

/* RDATA names to lower case, as the zone loader keeps them. */
static int canonical_rdata(uint16_t type, const uint8_t *owner, const uint8_t *rd, uint16_t len,
			   uint8_t *out)
{
	knot_rrset_t rr;
	uint8_t o[DNAME_MAXLEN];

	memcpy(o, owner, dname_len(owner));
	knot_rrset_init(&rr, o, type, KNOT_CLASS_IN, 0);
	if (knot_rrset_add_rdata(&rr, rd, len, NULL) != KNOT_EOK)
		return -1;
	int rc = knot_rrset_rr_to_canonical(&rr);
	knot_rdata_t *d = knot_rdataset_at(&rr.rrs, 0);

	if (rc == KNOT_EOK)
		memcpy(out, d->data, d->len);
	knot_rdataset_clear(&rr.rrs, NULL);
	return rc == KNOT_EOK ? 0 : -1;
}

struct file_load {
	struct xfr_zone *z;
	struct store *st;
	int err;
};

static void file_record(zs_scanner_t *s)
{
	struct file_load *fl = s->process.data;
	uint8_t owner[DNAME_MAXLEN], rd[65535];

	if (s->r_owner_length > DNAME_MAXLEN || s->r_class != CLASS_IN ||
	    canonical_rdata(s->r_type, s->r_owner, s->r_data, (uint16_t)s->r_data_length, rd) < 0) {
		fl->err = 1;
		s->state = ZS_STATE_STOP;
		return;
	}
	memcpy(owner, s->r_owner, s->r_owner_length);
	dname_lower(owner);
	store_add(fl->z, fl->st, owner, s->r_type, s->r_ttl, rd, (uint16_t)s->r_data_length);
}

static void file_error(zs_scanner_t *s)
{
	struct file_load *fl = s->process.data;

	fl->err = 1;
	s->state = ZS_STATE_STOP;
}

/* The kept file (what serves now) into the store. */
static int store_load_file(struct xfr_zone *z, const char *file)
{
	zs_scanner_t *s = calloc(1, sizeof(*s));
	struct file_load fl = {.z = z, .st = &z->st};

	store_clear(&z->st);
	if (!s)
		abort();
	if (zs_init(s, z->name, CLASS_IN, 3600) != 0 || zs_set_input_file(s, file) != 0) {
		zs_deinit(s);
		free(s);
		return -1;
	}
	zs_set_processing(s, file_record, file_error, &fl);
	zs_parse_all(s);
	zs_deinit(s);
	free(s);
	if (fl.err || !z->st.soa) {
		store_clear(&z->st);
		return -1;
	}
	return 0;
}

static int dump_one(FILE *f, const struct xrec *r, char **buf, size_t *size)
{
	static const knot_dump_style_t style = {.show_class = true, .show_ttl = true};
	knot_rrset_t rr;
	uint8_t owner[DNAME_MAXLEN];

	memcpy(owner, r->data, r->olen);
	knot_rrset_init(&rr, owner, r->type, KNOT_CLASS_IN, r->ttl);
	if (knot_rrset_add_rdata(&rr, r->data + r->olen, r->rdlen, NULL) != KNOT_EOK)
		return -1;
	int n = knot_rrset_txt_dump(&rr, buf, size, &style);

	knot_rdataset_clear(&rr.rrs, NULL);
	if (n < 0)
		return -1;
	return fputs(*buf, f) < 0 ? -1 : 0;
}

/* The store as a master file (SOA first), written whole to path. */
static int store_write(const struct store *st, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t size = 4096;
	char *buf = malloc(size);
	int rc = 0;

	if (!f || !buf) {
		if (f)
			fclose(f);
		free(buf);
		return -1;
	}
	fprintf(f, ";; transferred by carouseld; replaced on every transfer\n");
	rc = dump_one(f, st->soa, &buf, &size);
	for (size_t i = 0; rc == 0 && i <= st->mask; i++)
		for (const struct xrec *r = st->b[i]; r && rc == 0; r = r->next)
			if (r != st->soa)
				rc = dump_one(f, r, &buf, &size);
	free(buf);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* --- kept state --- */

static void state_path(const struct xfr_zone *z, char *out, size_t len)
{
	snprintf(out, len, "%s.state", z->file);
}

/* Serial and timers beside the zone file, replaced atomically. */
static void state_save(struct xfr_zone *z)
{
	char path[4200], tmp[4300];

	state_path(z, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");

	if (!f) {
		log_warn("event=xfr-state zone=%s error=\"%s: %s\"", z->name, tmp, strerror(errno));
		return;
	}
	fprintf(f, "serial %u\nlast-refresh %lld\nexpire-at %lld\n", z->serial,
		(long long)z->last_ok, (long long)z->expire_at);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, path) != 0)
		log_warn("event=xfr-state zone=%s error=\"%s\"", z->name, strerror(errno));
}

static void state_load(struct xfr_zone *z)
{
	char path[4200], key[32];
	long long v;
	FILE *f;

	state_path(z, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return;
	while (fscanf(f, "%31s %lld", key, &v) == 2) {
		if (strcmp(key, "last-refresh") == 0)
			z->last_ok = (time_t)v;
		else if (strcmp(key, "expire-at") == 0)
			z->expire_at = (time_t)v;
	}
	fclose(f);
}

/* --- the network --- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait for fd, until deadline or until carouseld stops (stop_fd). */
static int wait_fd(int fd, short ev, uint64_t deadline, int stop_fd)
{
	for (;;) {
		uint64_t now = now_ms();

		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p[2] = {{.fd = fd, .events = ev}, {.fd = stop_fd, .events = POLLIN}};
		int k = poll(p, 2, (int)(deadline - now));

		if (k > 0 && p[1].revents) {
			errno = ECANCELED;
			return -1;
		}
		if (k > 0)
			return 0;
		if (k < 0 && errno != EINTR)
			return -1;
	}
}

/* Connect a socket; when the ephemeral ports are used up (EAGAIN for UDP,
 * EADDRNOTAVAIL for TCP), from a random port of our own choosing. */
static int connect_from_any_port(int fd, const struct fleet_addr *a)
{
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 || errno == EINPROGRESS)
		return 0;
	for (int tries = 0; tries < 32 && (errno == EAGAIN || errno == EADDRNOTAVAIL); tries++) {
		struct sockaddr_storage ss = {.ss_family = a->ss.ss_family};
		uint16_t port;

		if (getrandom(&port, sizeof(port), 0) != sizeof(port))
			break;
		port = (uint16_t)(1024 + port % (65535 - 1024));
		if (a->ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		if (bind(fd, (struct sockaddr *)&ss, a->len) < 0) {
			errno = EAGAIN;
			continue;
		}
		if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 ||
		    errno == EINPROGRESS)
			return 0;
		return -1;
	}
	return -1;
}

/* A query for the zone: SOA, AXFR, or IXFR with our SOA in the authority
 * section (RFC 1995 3); signed when the zone has a key. */
static size_t build_query(struct xfr_zone *z, uint16_t qtype, uint8_t *buf, size_t max,
			  uint8_t *mac, size_t *mac_len)
{
	struct wire_buf b;
	uint16_t id;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)now_ms();
	wire_buf_init(&b, buf, max);
	wire_put_u16(&b, id);
	wire_put_u16(&b, 0);
	wire_put_u16(&b, 1);
	wire_put_u16(&b, 0);
	wire_put_u16(&b, qtype == TYPE_IXFR ? 1 : 0);
	wire_put_u16(&b, 0);
	wire_put_name(&b, z->apex, false);
	wire_put_u16(&b, qtype);
	wire_put_u16(&b, CLASS_IN);
	if (qtype == TYPE_IXFR) {
		const struct xrec *soa = z->st.soa;

		wire_put_name(&b, z->apex, false);
		wire_put_u16(&b, TYPE_SOA);
		wire_put_u16(&b, CLASS_IN);
		wire_put_u32(&b, soa->ttl);
		wire_put_u16(&b, soa->rdlen);
		wire_put_bytes(&b, soa->data + soa->olen, soa->rdlen);
	}
	if (b.err)
		return 0;
	*mac_len = 0;
	if (!z->has_key)
		return b.len;
	return tsig_sign(&z->key, buf, b.len, max, NULL, 0, (uint64_t)time(NULL), mac, mac_len);
}

/* Check a response's header against the query; its rcode, or -1. */
static int response_rcode(const uint8_t *q, const uint8_t *r, size_t len)
{
	if (len < WIRE_HDR_LEN || wire_read16(r) != wire_read16(q) ||
	    !(wire_read16(r + 2) & WIRE_QR))
		return -1;
	return r[3] & 0xf;
}

static const char *rcode_name(int rc)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
					    "NXRRSET", "NOTAUTH", "NOTZONE"};

	return rc >= 0 && rc <= 10 ? names[rc] : "rcode?";
}

/* The primary's SOA serial over UDP (TCP when truncated is not needed:
 * an SOA always fits). 0, or -1 with why. */
static int soa_query(struct xfr_zone *z, const struct fleet_addr *a, uint32_t *serial, char *why,
		     size_t why_len)
{
	uint8_t q[1024], r[4096], mac[TSIG_MAC_MAX];
	size_t mac_len, ql = build_query(z, TYPE_SOA, q, sizeof(q), mac, &mac_len);
	int fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint64_t deadline = now_ms() + XFR_SOA_TIMEOUT_MS;
	int rc = -1;

	if (fd < 0 || !ql || connect_from_any_port(fd, a) < 0 ||
	    send(fd, q, ql, 0) != (ssize_t)ql) {
		snprintf(why, why_len, "SOA query to %s: %s", a->text, strerror(errno));
		goto out;
	}
	for (;;) {
		if (wait_fd(fd, POLLIN, deadline, z->x->stop_fd) < 0) {
			snprintf(why, why_len, "SOA query to %s: no answer", a->text);
			goto out;
		}
		ssize_t n = recv(fd, r, sizeof(r), 0);

		if (n < 0) {
			snprintf(why, why_len, "SOA query to %s: %s", a->text, strerror(errno));
			goto out;
		}
		int rcode = response_rcode(q, r, (size_t)n);

		if (rcode < 0)
			continue; /* not the answer to this query */
		if (rcode != 0) {
			snprintf(why, why_len, "SOA query to %s: %s", a->text, rcode_name(rcode));
			goto out;
		}
		const char *bad;

		if (z->has_key) {
			struct tsig_stream ts;

			tsig_stream_init(&ts, &z->key, mac, mac_len);
			int k = tsig_stream_next(&ts, r, (size_t)n, (uint64_t)time(NULL), &bad);

			if (k == 0)
				k = tsig_stream_end(&ts, &bad);
			tsig_stream_free(&ts);
			if (k < 0) {
				snprintf(why, why_len, "SOA answer from %s: TSIG: %s", a->text,
					 bad);
				goto out;
			}
		}
		knot_pkt_t *pkt = knot_pkt_new(r, (uint16_t)n, NULL);

		if (!pkt || knot_pkt_parse(pkt, KNOT_PF_KEEPWIRE) != KNOT_EOK) {
			knot_pkt_free(pkt);
			snprintf(why, why_len, "SOA answer from %s: malformed", a->text);
			goto out;
		}
		const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);

		for (uint16_t i = 0; i < an->count; i++) {
			const knot_rrset_t *rr = knot_pkt_rr(an, i);
			const knot_rdata_t *d = rr->rrs.rdata;

			if (rr->type == TYPE_SOA && dname_equal(rr->owner, z->apex) &&
			    d->len >= 22) {
				*serial = soa_field(d->data, d->len, 0);
				rc = 0;
			}
		}
		knot_pkt_free(pkt);
		if (rc < 0)
			snprintf(why, why_len, "SOA answer from %s: no SOA for the zone", a->text);
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

enum xfer_phase { XP_FIRST, XP_SECOND, XP_FULL, XP_DEL, XP_ADD, XP_DONE };

struct xfer {
	struct xfr_zone *z;
	bool ixfr;
	enum xfer_phase phase;
	uint32_t new_serial, cur;
	bool full;
	struct store fresh;
	uint8_t first_owner[DNAME_MAXLEN];
	uint32_t first_ttl;
	uint8_t first_rd[600]; /* an SOA: two names and 20 bytes */
	uint16_t first_rdlen;
	unsigned changes;
	const char *err;
};

/* One record of the answer stream (RFC 1995 4 / RFC 5936 2.2). */
static int xfer_rr(struct xfer *x, const knot_rrset_t *rr)
{
	struct xfr_zone *z = x->z;
	const knot_rdata_t *d = rr->rrs.rdata;
	bool soa = is_apex_soa(z, rr->owner, rr->type);
	uint32_t serial = soa ? soa_field(d->data, d->len, 0) : 0;

	if (rr->rclass != KNOT_CLASS_IN) {
		x->err = "a record of another class";
		return -1;
	}
	if (soa && d->len < 22) {
		x->err = "a malformed SOA";
		return -1;
	}
	if (!soa && !dname_is_sub(rr->owner, z->apex)) {
		x->err = "a record outside the zone";
		return -1;
	}
	switch (x->phase) {
	case XP_FIRST:
		if (!soa || d->len > sizeof(x->first_rd)) {
			x->err = "the answer does not start with the zone's SOA";
			return -1;
		}
		x->new_serial = serial;
		memcpy(x->first_owner, rr->owner, dname_len(rr->owner));
		x->first_ttl = rr->ttl;
		memcpy(x->first_rd, d->data, d->len);
		x->first_rdlen = d->len;
		/* IXFR: one SOA not newer than ours says we are up to date */
		x->phase = XP_SECOND;
		return 0;
	case XP_SECOND:
		if (x->ixfr && soa && serial == z->serial && x->new_serial != z->serial) {
			x->phase = XP_DEL; /* incremental: the first diff starts */
			x->cur = z->serial;
			if (store_del(z, &z->st, rr->owner, rr->type, d->data, d->len) < 0) {
				x->err = "the IXFR starts from an SOA that is not ours";
				return -1;
			}
			return 0;
		}
		/* a whole zone (AXFR, or IXFR answered AXFR-style) */
		x->full = true;
		x->phase = XP_FULL;
		store_add(z, &x->fresh, x->first_owner, TYPE_SOA, x->first_ttl, x->first_rd,
			  x->first_rdlen);
		/* fall through */
	case XP_FULL:
		if (soa) {
			if (serial != x->new_serial) {
				x->err = "a second SOA with another serial inside the zone";
				return -1;
			}
			x->phase = XP_DONE;
			return 0;
		}
		store_add(z, &x->fresh, rr->owner, rr->type, rr->ttl, d->data, d->len);
		x->changes++;
		return 0;
	case XP_DEL:
		if (soa) {
			x->cur = serial;
			x->phase = XP_ADD;
			store_add(z, &z->st, rr->owner, rr->type, rr->ttl, d->data, d->len);
			return 0;
		}
		if (store_del(z, &z->st, rr->owner, rr->type, d->data, d->len) < 0) {
			x->err = "the IXFR deletes a record we do not have";
			return -1;
		}
		x->changes++;
		return 0;
	case XP_ADD:
		if (soa) {
			if (serial == x->new_serial && x->cur == x->new_serial) {
				x->phase = XP_DONE;
				return 0;
			}
			if (serial != x->cur) {
				x->err = "the IXFR's differences are out of sequence";
				return -1;
			}
			x->phase = XP_DEL;
			if (store_del(z, &z->st, rr->owner, rr->type, d->data, d->len) < 0) {
				x->err = "the IXFR deletes an SOA we do not have";
				return -1;
			}
			return 0;
		}
		store_add(z, &z->st, rr->owner, rr->type, rr->ttl, d->data, d->len);
		x->changes++;
		return 0;
	case XP_DONE:
		x->err = "records after the closing SOA";
		return -1;
	}
	return -1;
}

static int read_full(int fd, uint8_t *buf, size_t len, uint64_t deadline, int stop_fd)
{
	for (size_t off = 0; off < len;) {
		if (wait_fd(fd, POLLIN, deadline, stop_fd) < 0)
			return -1;
		ssize_t k = recv(fd, buf + off, len - off, 0);

		if (k == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		off += (size_t)k;
	}
	return 0;
}

enum xfer_result { XR_OK, XR_FALLBACK, XR_FAIL };

/* One transfer (qtype IXFR or AXFR) from one primary over TCP. */
static enum xfer_result transfer(struct xfr_zone *z, const struct fleet_addr *a, uint16_t qtype,
				 struct xfer *x, char *why, size_t why_len)
{
	uint8_t q[2048], mac[TSIG_MAC_MAX], lenb[2];
	uint8_t *msg = malloc(WIRE_TCP_MAX);
	size_t mac_len, ql = build_query(z, qtype, q + 2, sizeof(q) - 2, mac, &mac_len);
	const char *what = qtype == TYPE_IXFR ? "IXFR" : "AXFR";
	uint64_t total = now_ms() + XFR_TOTAL_TIMEOUT_S * 1000ULL;
	struct tsig_stream ts;
	enum xfer_result res = XR_FALLBACK;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	memset(x, 0, sizeof(*x));
	x->z = z;
	x->ixfr = qtype == TYPE_IXFR;
	tsig_stream_init(&ts, &z->key, mac, mac_len);
	if (!msg)
		abort();
	if (fd < 0 || !ql) {
		snprintf(why, why_len, "%s from %s: %s", what, a->text, strerror(errno));
		goto out;
	}
	wire_write16(q, (uint16_t)ql);
	if (connect_from_any_port(fd, a) < 0 ||
	    wait_fd(fd, POLLOUT, now_ms() + XFR_SOA_TIMEOUT_MS, z->x->stop_fd) < 0) {
		snprintf(why, why_len, "%s from %s: connect: %s", what, a->text, strerror(errno));
		goto out;
	}
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr || send(fd, q, ql + 2, MSG_NOSIGNAL) != (ssize_t)(ql + 2)) {
		snprintf(why, why_len, "%s from %s: connect: %s", what, a->text,
			 strerror(soerr ? soerr : errno));
		goto out;
	}
	for (unsigned nmsg = 0; x->phase != XP_DONE; nmsg++) {
		uint64_t deadline = now_ms() + XFR_MSG_TIMEOUT_MS;

		if (deadline > total)
			deadline = total;
		if (read_full(fd, lenb, 2, deadline, z->x->stop_fd) < 0 ||
		    read_full(fd, msg, wire_read16(lenb), deadline, z->x->stop_fd) < 0) {
			snprintf(why, why_len, "%s from %s: %s after %u messages", what, a->text,
				 errno == ETIMEDOUT ? "timed out" : strerror(errno), nmsg);
			goto out;
		}
		size_t n = wire_read16(lenb);
		int rcode = response_rcode(q + 2, msg, n);

		if (rcode < 0) {
			snprintf(why, why_len, "%s from %s: an answer to another query", what,
				 a->text);
			res = XR_FAIL;
			goto out;
		}
		if (rcode != 0) {
			/* RFC 1995 / 5936: NOTIMP, REFUSED, SERVFAIL, ...: try AXFR */
			snprintf(why, why_len, "%s from %s: %s", what, a->text, rcode_name(rcode));
			res = rcode == RCODE_NOTAUTH ? XR_FAIL : XR_FALLBACK;
			goto out;
		}
		const char *bad = NULL;

		if (z->has_key && tsig_stream_next(&ts, msg, n, (uint64_t)time(NULL), &bad) < 0) {
			snprintf(why, why_len, "%s from %s: TSIG on message %u: %s", what, a->text,
				 nmsg + 1, bad);
			res = XR_FAIL;
			goto out;
		}
		knot_pkt_t *pkt = knot_pkt_new(msg, (uint16_t)n, NULL);

		if (!pkt || knot_pkt_parse(pkt, KNOT_PF_KEEPWIRE) != KNOT_EOK) {
			knot_pkt_free(pkt);
			snprintf(why, why_len, "%s from %s: message %u is malformed", what, a->text,
				 nmsg + 1);
			goto out;
		}
		const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
		int rc = 0;

		for (uint16_t i = 0; i < an->count && rc == 0; i++)
			rc = xfer_rr(x, knot_pkt_rr(an, i));
		knot_pkt_free(pkt);
		if (rc < 0) {
			snprintf(why, why_len, "%s from %s: %s", what, a->text, x->err);
			goto out;
		}
		/* an IXFR answered with our own serial: nothing to do */
		if (x->phase == XP_SECOND && x->ixfr && !xfr_serial_gt(x->new_serial, z->serial))
			x->phase = XP_DONE;
		if (x->phase == XP_SECOND && an->count == 0) {
			snprintf(why, why_len, "%s from %s: an empty message", what, a->text);
			goto out;
		}
	}
	if (z->has_key) {
		const char *bad = NULL;

		if (tsig_stream_end(&ts, &bad) < 0) {
			snprintf(why, why_len, "%s from %s: TSIG: %s", what, a->text, bad);
			res = XR_FAIL;
			goto out;
		}
	}
	res = XR_OK;
out:
	tsig_stream_free(&ts);
	if (fd >= 0)
		close(fd);
	free(msg);
	return res;
}

/* --- the thread --- */

static void set_result(struct xfr_zone *z, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_result(struct xfr_zone *z, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&z->x->lock);
	va_start(ap, fmt);
	vsnprintf(z->result, sizeof(z->result), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&z->x->lock);
}

static int swap_in(struct xfr *x, struct xfr_zone *z, const char *staged, uint64_t *count,
		   uint32_t serial, char *err, size_t len);

/* The zone stopped (or started) answering: a new generation, so the fast
 * paths drop (or get back) the entries of its pools. */
static void republish(struct xfr_zone *z)
{
	char err[CFG_ERR_LEN];

	if (swap_in(z->x, z, NULL, NULL, 0, err, sizeof(err)) < 0)
		log_warn("event=xfr zone=%s note=\"reload for the fast paths failed: %s\"", z->name,
			 err);
}

static void timers_from_soa(struct xfr_zone *z, const struct xrec *soa)
{
	const uint8_t *rd = soa->data + soa->olen;

	z->serial = soa_field(rd, soa->rdlen, 0);
	z->refresh = soa_field(rd, soa->rdlen, 1);
	z->retry = soa_field(rd, soa->rdlen, 2);
	z->expire = soa_field(rd, soa->rdlen, 3);
	if (z->refresh == 0)
		z->refresh = 1;
	if (z->retry == 0)
		z->retry = 1;
}

/* A successful refresh: the expire clock starts again. */
static void refreshed(struct xfr_zone *z, time_t now)
{
	pthread_mutex_lock(&z->x->lock);
	z->last_ok = now;
	z->next_check = now + z->refresh;
	z->expire_at = now + z->expire;
	pthread_mutex_unlock(&z->x->lock);
	if (atomic_exchange(&z->pub.expired, false)) {
		log_info("event=zone-unexpired zone=%s serial=%u", z->name, z->serial);
		republish(z);
	}
	state_save(z);
}

static void failed(struct xfr_zone *z, time_t now)
{
	pthread_mutex_lock(&z->x->lock);
	z->n_failed++;
	z->next_check = now + (z->have_data ? z->retry : XFR_RETRY_NO_DATA);
	pthread_mutex_unlock(&z->x->lock);
}

/* Ask the main thread to load the zone from staged; its answer. */
static int swap_in(struct xfr *x, struct xfr_zone *z, const char *staged, uint64_t *count,
		   uint32_t serial, char *err, size_t len)
{
	uint64_t one = 1;
	int rc;

	pthread_mutex_lock(&x->lock);
	x->req = z;
	x->req_file = staged;
	x->req_count = count;
	x->req_serial = serial;
	x->req_done = false;
	if (write(x->main_fd, &one, sizeof(one)) < 0)
		log_warn("event=xfr error=\"eventfd: %s\"", strerror(errno));
	while (!x->req_done && !x->stop)
		pthread_cond_wait(&x->cond, &x->lock);
	rc = x->req_done ? x->req_rc : -1;
	snprintf(err, len, "%s", x->req_done ? x->req_err : "stopping");
	x->req = NULL;
	pthread_mutex_unlock(&x->lock);
	return rc;
}

/* Write the new data beside the kept file, have it swapped in, keep it;
 * the swap counts it in *count and shows its serial. */
static int install(struct xfr *x, struct xfr_zone *z, const struct store *st, uint64_t *count,
		   uint32_t serial, char *err, size_t len)
{
	char staged[4200];

	snprintf(staged, sizeof(staged), "%s.xfr", z->file);
	if (store_write(st, staged) < 0) {
		snprintf(err, len, "cannot write %.512s: %s", staged, strerror(errno));
		unlink(staged);
		return -1;
	}
	if (swap_in(x, z, staged, count, serial, err, len) < 0) {
		unlink(staged);
		return -1;
	}
	return 0;
}

static void refresh_zone(struct xfr *x, struct xfr_zone *z)
{
	time_t now = time(NULL);
	char why[512] = "", err[CFG_ERR_LEN];
	struct fleet_addr prim[FLEET_MAX_PRIMARIES];
	unsigned np;

	pthread_mutex_lock(&x->lock);
	np = z->nprimaries;
	memcpy(prim, z->primaries, sizeof(prim));
	if (strcmp(z->file, z->cfg_file) != 0) {
		/* the file moved in the config: what it holds is what serves */
		memcpy(z->file, z->cfg_file, sizeof(z->file));
		z->store_loaded = false;
		z->have_data = access(z->file, F_OK) == 0;
	}
	z->last_attempt = now;
	z->n_soa++;
	pthread_mutex_unlock(&x->lock);
	if (z->have_data && !z->store_loaded) {
		if (store_load_file(z, z->file) < 0) {
			log_warn(
			    "event=xfr zone=%s note=\"kept file unreadable, transferring whole\"",
			    z->name);
			z->have_data = false;
		} else {
			timers_from_soa(z, z->st.soa); /* the serial the IXFR starts from */
		}
		z->store_loaded = true;
	}
	for (unsigned i = 0; i < np; i++) {
		const struct fleet_addr *a = &prim[i];
		uint32_t serial;

		if (soa_query(z, a, &serial, why, sizeof(why)) < 0)
			continue;
		snprintf(z->last_primary, sizeof(z->last_primary), "%s", a->text);
		if (z->have_data && serial == z->serial) {
			pthread_mutex_lock(&x->lock);
			z->n_uptodate++;
			pthread_mutex_unlock(&x->lock);
			set_result(z, "up to date (serial %u at %s)", serial, a->text);
			refreshed(z, now);
			return;
		}
		if (z->have_data && !xfr_serial_gt(serial, z->serial)) {
			/* RFC 1982: a serial that goes back is not newer */
			log_warn(
			    "event=xfr zone=%s primary=%s note=\"primary serial %u is older than "
			    "ours (%u): ignored\"",
			    z->name, a->text, serial, z->serial);
			set_result(z, "primary serial %u is older than ours (%u): ignored", serial,
				   z->serial);
			refreshed(z, now);
			return;
		}
		struct xfer xf;
		enum xfer_result r = XR_FALLBACK;
		bool ixfr = z->have_data;

		if (ixfr) {
			r = transfer(z, a, TYPE_IXFR, &xf, why, sizeof(why));
			if (r != XR_OK) {
				/* the store may be half-changed: back to what serves */
				log_info("event=xfr zone=%s primary=%s note=\"%s%s\"", z->name,
					 a->text, why, r == XR_FALLBACK ? "; trying AXFR" : "");
				store_clear(&xf.fresh);
				if (store_load_file(z, z->file) < 0)
					z->have_data = false;
			}
		}
		if (r == XR_FALLBACK) {
			ixfr = false;
			r = transfer(z, a, TYPE_AXFR, &xf, why, sizeof(why));
		}
		if (r != XR_OK) {
			store_clear(&xf.fresh);
			continue;
		}
		if (xf.ixfr && !xf.full && xf.phase == XP_DONE && xf.new_serial == z->serial) {
			set_result(z, "up to date (serial %u at %s)", z->serial, a->text);
			refreshed(z, now);
			return;
		}
		struct store *st = xf.full ? &xf.fresh : &z->st;

		if (!st->soa ||
		    soa_field(st->soa->data + st->soa->olen, st->soa->rdlen, 0) != xf.new_serial) {
			snprintf(why, sizeof(why), "%s from %s: the result has no SOA of serial %u",
				 ixfr ? "IXFR" : "AXFR", a->text, xf.new_serial);
			store_clear(&xf.fresh);
			if (store_load_file(z, z->file) < 0)
				z->have_data = false;
			continue;
		}
		bool by_ixfr = ixfr && !xf.full;

		if (install(x, z, st, by_ixfr ? &z->n_ixfr : &z->n_axfr, xf.new_serial, err,
			    sizeof(err)) < 0) {
			log_error("event=xfr zone=%s primary=%s serial=%u result=rejected kept=old "
				  "error=\"%s\"",
				  z->name, a->text, xf.new_serial, err);
			set_result(z, "transfer of serial %u rejected, old data kept: %s",
				   xf.new_serial, err);
			store_clear(&xf.fresh);
			if (store_load_file(z, z->file) < 0)
				z->have_data = false;
			failed(z, now);
			return;
		}
		if (xf.full) {
			store_clear(&z->st);
			z->st = xf.fresh;
		}
		timers_from_soa(z, z->st.soa);
		log_info("event=xfr zone=%s primary=%s type=%s serial=%u records=%zu changes=%u",
			 z->name, a->text, by_ixfr ? "ixfr" : "axfr", z->serial, z->st.n,
			 xf.changes);
		set_result(z, "transferred by %s from %s: serial %u, %zu records",
			   by_ixfr ? "IXFR" : "AXFR", a->text, z->serial, z->st.n);
		refreshed(z, now);
		return;
	}
	log_warn("event=xfr zone=%s result=failed error=\"%s\"", z->name, why);
	set_result(z, "failed: %s", why);
	failed(z, now);
}

static bool stopping(struct xfr *x)
{
	pthread_mutex_lock(&x->lock);
	bool stop = x->stop;

	pthread_mutex_unlock(&x->lock);
	return stop;
}

static void *xfr_thread(void *arg)
{
	struct xfr *x = arg;

	for (;;) {
		time_t now = time(NULL), next = now + 3600;

		pthread_mutex_lock(&x->lock);
		if (x->stop) {
			pthread_mutex_unlock(&x->lock);
			break;
		}
		struct xfr_zone *zones = x->zones;

		pthread_mutex_unlock(&x->lock);
		/* zones are only ever added at the head: the list from here on is fixed */
		for (struct xfr_zone *z = zones; z && !stopping(x); z = z->next) {
			if (!z->present)
				continue;
			/* a NOTIFY (or carouselctl refresh) goes before zones
			 * that are only due */
			for (struct xfr_zone *u = zones; u; u = u->next) {
				bool notified = atomic_exchange(&u->notified, false);
				bool forced = atomic_exchange(&u->forced, false);

				if (u->present && (notified || forced))
					refresh_zone(x, u);
			}
			if (time(NULL) >= z->next_check)
				refresh_zone(x, z);
			now = time(NULL);
			if (z->have_data && now >= z->expire_at &&
			    !atomic_exchange(&z->pub.expired, true)) {
				/* RFC 1034 4.3.5: no longer authoritative */
				log_error("event=zone-expired zone=%s serial=%u last-refresh=%lld",
					  z->name, z->serial, (long long)z->last_ok);
				set_result(z, "expired: no successful refresh for %u s", z->expire);
				republish(z);
			}
			if (z->next_check < next)
				next = z->next_check;
			if (z->have_data && !atomic_load(&z->pub.expired) && z->expire_at < next)
				next = z->expire_at;
		}
		int ms = next > now ? (int)(next - now) * 1000 : 0;
		struct pollfd p = {.fd = x->wake_fd, .events = POLLIN};

		if (poll(&p, 1, ms) > 0) {
			uint64_t v;

			if (read(x->wake_fd, &v, sizeof(v)) < 0)
				continue;
		}
	}
	return NULL;
}

/* --- main thread --- */

struct xfr *xfr_create(const struct xfr_hooks *hooks)
{
	struct xfr *x = calloc(1, sizeof(*x));

	if (!x)
		abort();
	x->hooks = *hooks;
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	x->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->main_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->wake_fd < 0 || x->main_fd < 0 || x->stop_fd < 0 ||
	    pthread_create(&x->thread, NULL, xfr_thread, x) != 0) {
		log_error("event=xfr error=\"cannot start: %s\"", strerror(errno));
		abort();
	}
	return x;
}

static struct xfr_zone *find_zone(struct xfr *x, const uint8_t *apex)
{
	for (struct xfr_zone *z = x->zones; z; z = z->next)
		if (dname_equal(z->apex, apex))
			return z;
	return NULL;
}

static void wake(struct xfr *x)
{
	uint64_t one = 1;

	if (write(x->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("event=xfr error=\"eventfd: %s\"", strerror(errno));
}

void xfr_adopt(struct xfr *x, struct config *cfg)
{
	const struct fleet_config *f = &cfg->fleet;
	time_t now = time(NULL);

	pthread_mutex_lock(&x->lock);
	for (struct xfr_zone *z = x->zones; z; z = z->next)
		z->present = false;
	for (unsigned i = 0; i < f->nsecondaries; i++) {
		const struct secondary *s = &f->secondaries[i];
		struct xfr_zone *z = find_zone(x, s->apex);

		if (!z) {
			z = calloc(1, sizeof(*z));
			if (!z)
				abort();
			z->x = x;
			memcpy(z->apex, s->apex, dname_len(s->apex));
			snprintf(z->name, sizeof(z->name), "%s", s->name_text);
			snprintf(z->file, sizeof(z->file), "%s", s->file);
			snprintf(z->cfg_file, sizeof(z->cfg_file), "%s", s->file);
			snprintf(z->result, sizeof(z->result), "not checked yet");
			z->next_check = now;
			if (s->zone->soa) {
				/* the kept file serves until expire (timers kept too) */
				const struct rr *soa = s->zone->soa->head;

				z->have_data = true;
				z->serial = wire_read32(soa->data + soa->len - 20);
				z->refresh = wire_read32(soa->data + soa->len - 16);
				z->retry = wire_read32(soa->data + soa->len - 12);
				z->expire = wire_read32(soa->data + soa->len - 8);
				z->expire_at = now + z->expire;
				state_load(z);
				if (z->expire_at <= now) {
					atomic_store(&z->pub.expired, true);
					snprintf(z->result, sizeof(z->result),
						 "expired while carouseld was stopped");
				}
			}
			z->next = x->zones;
			x->zones = z;
		}
		snprintf(z->cfg_file, sizeof(z->cfg_file), "%s", s->file);
		z->nprimaries = s->nprimaries;
		memcpy(z->primaries, s->primaries, sizeof(z->primaries));
		z->has_key = s->key != NULL;
		if (s->key)
			z->key = *s->key;
		snprintf(z->key_name, sizeof(z->key_name), "%s", s->key ? s->key_name : "");
		z->present = true;
		s->zone->xfr = z;
	}
	pthread_mutex_unlock(&x->lock);
	wake(x);
}

int xfr_fd(const struct xfr *x)
{
	return x->main_fd;
}

void xfr_run(struct xfr *x)
{
	uint64_t v;
	char err[CFG_ERR_LEN] = "";

	if (read(x->main_fd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&x->lock);
	struct xfr_zone *z = x->req_done ? NULL : x->req;
	const char *staged = x->req_file;

	pthread_mutex_unlock(&x->lock);
	if (!z)
		return;
	/* the new generation reads the zone from the staged file; kept only
	 * once it serves */
	fleet_stage(z->apex, staged);
	int rc = x->hooks.apply(x->hooks.arg, err, sizeof(err));

	fleet_stage(NULL, NULL);
	if (rc == 0 && staged && rename(staged, z->file) < 0) {
		log_error("event=xfr zone=%s error=\"rename %s: %s\"", z->name, staged,
			  strerror(errno));
	}
	pthread_mutex_lock(&x->lock);
	if (rc == 0 && x->req_count) {
		/* counted and shown as it starts serving, not a moment later */
		(*x->req_count)++;
		z->serial = x->req_serial;
		z->have_data = true;
	}
	x->req_rc = rc;
	snprintf(x->req_err, sizeof(x->req_err), "%s", err);
	x->req_done = true;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

void xfr_destroy(struct xfr *x)
{
	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	x->stop = true;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
	wake(x);
	uint64_t one = 1;

	if (write(x->stop_fd, &one, sizeof(one)) < 0)
		log_warn("event=xfr error=\"eventfd: %s\"", strerror(errno));
	pthread_join(x->thread, NULL);
	for (struct xfr_zone *z = x->zones; z;) {
		struct xfr_zone *next = z->next;

		store_clear(&z->st);
		explicit_bzero(&z->key, sizeof(z->key));
		free(z);
		z = next;
	}
	close(x->wake_fd);
	close(x->main_fd);
	close(x->stop_fd);
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->cond);
	free(x);
}

/* --- carouselctl --- */

static int put_time(char *buf, size_t len, time_t t, time_t now)
{
	struct tm tm;
	char when[32];

	if (!t)
		return snprintf(buf, len, "never");
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (t <= now)
		return snprintf(buf, len, "%s (%lld s ago)", when, (long long)(now - t));
	return snprintf(buf, len, "%s (in %lld s)", when, (long long)(t - now));
}

size_t xfr_ctl(struct xfr *x, const char *cmd, char *buf, size_t len, bool *ok)
{
	size_t n = 0;
	time_t now = time(NULL);

#define SAY(...)                                                                                   \
	do {                                                                                       \
		int k_ = snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__);                    \
		if (k_ > 0)                                                                        \
			n += (size_t)k_;                                                           \
	} while (0)
	if (strncmp(cmd, "refresh", 7) == 0 && (cmd[7] == ' ' || cmd[7] == '\0')) {
		uint8_t apex[DNAME_MAXLEN];

		if (!x || cmd[7] == '\0' || dname_from_str(cmd + 8, apex, sizeof(apex)) < 0) {
			*ok = false;
			SAY("error: usage: refresh ZONE\n");
			return n < len ? n : len;
		}
		dname_lower(apex);
		pthread_mutex_lock(&x->lock);
		struct xfr_zone *z = find_zone(x, apex);

		if (!z || !z->present) {
			pthread_mutex_unlock(&x->lock);
			*ok = false;
			SAY("error: %s is not a secondary zone\n", cmd + 8);
			return n < len ? n : len;
		}
		atomic_store(&z->forced, true);
		pthread_mutex_unlock(&x->lock);
		wake(x);
		SAY("refresh of %s started (see carouselctl zones)\n", z->name);
		return n < len ? n : len;
	}
	if (strcmp(cmd, "zones") != 0)
		return (size_t)-1;
	if (!x) {
		SAY("no secondary zones\n");
		return n < len ? n : len;
	}
	pthread_mutex_lock(&x->lock);
	unsigned shown = 0;

	for (struct xfr_zone *z = x->zones; z; z = z->next) {
		char t1[96], t2[96], t3[96];

		if (!z->present)
			continue;
		shown++;
		put_time(t1, sizeof(t1), z->last_attempt, now);
		put_time(t2, sizeof(t2), z->next_check, now);
		put_time(t3, sizeof(t3), z->have_data ? z->expire_at : 0, now);
		SAY("%s\n  serial        %u\n  state         %s\n  primary       ", z->name,
		    z->serial,
		    !z->have_data		   ? "no data (SERVFAIL until the first transfer)"
		    : atomic_load(&z->pub.expired) ? "expired (SERVFAIL)"
						   : "serving");
		for (unsigned i = 0; i < z->nprimaries; i++)
			SAY("%s%s", i ? ", " : "", z->primaries[i].text);
		SAY("%s%s%s\n", z->has_key ? " (key " : "", z->key_name, z->has_key ? ")" : "");
		SAY("  last-refresh  %s: %s\n  next-refresh  %s\n  expire        %s\n", t1,
		    z->result, t2, t3);
		SAY("  transfers     ixfr %llu, axfr %llu, up-to-date %llu, failed %llu, "
		    "notify %llu\n",
		    (unsigned long long)z->n_ixfr, (unsigned long long)z->n_axfr,
		    (unsigned long long)z->n_uptodate, (unsigned long long)z->n_failed,
		    (unsigned long long)z->n_notify);
	}
	pthread_mutex_unlock(&x->lock);
	if (!shown)
		SAY("no secondary zones\n");
#undef SAY
	return n < len ? n : len;
}

size_t xfr_stats(struct xfr *x, char *buf, size_t len)
{
	uint64_t t[6] = {0};

	if (!x)
		return 0;
	pthread_mutex_lock(&x->lock);
	for (struct xfr_zone *z = x->zones; z; z = z->next) {
		t[0] += z->n_soa;
		t[1] += z->n_ixfr;
		t[2] += z->n_axfr;
		t[3] += z->n_failed;
		t[4] += z->n_notify;
		t[5] += z->present && atomic_load(&z->pub.expired);
	}
	pthread_mutex_unlock(&x->lock);
	int k =
	    snprintf(buf, len,
		     "xfr.soa-checks %llu\nxfr.ixfr %llu\nxfr.axfr %llu\nxfr.failed %llu\n"
		     "xfr.notify %llu\nxfr.zones-expired %llu\n",
		     (unsigned long long)t[0], (unsigned long long)t[1], (unsigned long long)t[2],
		     (unsigned long long)t[3], (unsigned long long)t[4], (unsigned long long)t[5]);
	return k < 0 ? 0 : (size_t)k < len ? (size_t)k : len;
}

size_t xfr_metrics(struct xfr *x, char *buf, size_t len)
{
	size_t n = 0;

#define PUT(...)                                                                                   \
	do {                                                                                       \
		int k_ =                                                                           \
		    snprintf(buf ? buf + n : NULL, buf && n < len ? len - n : 0, __VA_ARGS__);     \
		if (k_ > 0)                                                                        \
			n += (size_t)k_;                                                           \
	} while (0)
	if (!x)
		return 0;
	PUT("# HELP carousel_zone_transfers_total Zone transfers that were swapped in, by "
	    "type.\n# TYPE carousel_zone_transfers_total counter\n");
	pthread_mutex_lock(&x->lock);
	for (struct xfr_zone *z = x->zones; z; z = z->next)
		if (z->present)
			PUT("carousel_zone_transfers_total{zone=\"%s\",type=\"ixfr\"} %llu\n"
			    "carousel_zone_transfers_total{zone=\"%s\",type=\"axfr\"} %llu\n",
			    z->name, (unsigned long long)z->n_ixfr, z->name,
			    (unsigned long long)z->n_axfr);
	PUT("# HELP carousel_zone_refresh_failures_total Refreshes that failed (no primary "
	    "answered, transfer broken or rejected).\n"
	    "# TYPE carousel_zone_refresh_failures_total counter\n");
	for (struct xfr_zone *z = x->zones; z; z = z->next)
		if (z->present)
			PUT("carousel_zone_refresh_failures_total{zone=\"%s\"} %llu\n", z->name,
			    (unsigned long long)z->n_failed);
	PUT("# HELP carousel_zone_notifies_total NOTIFY messages accepted from a primary.\n"
	    "# TYPE carousel_zone_notifies_total counter\n");
	for (struct xfr_zone *z = x->zones; z; z = z->next)
		if (z->present)
			PUT("carousel_zone_notifies_total{zone=\"%s\"} %llu\n", z->name,
			    (unsigned long long)z->n_notify);
	PUT("# HELP carousel_zone_serial The serial served.\n# TYPE carousel_zone_serial gauge\n");
	for (struct xfr_zone *z = x->zones; z; z = z->next)
		if (z->present)
			PUT("carousel_zone_serial{zone=\"%s\"} %u\n", z->name, z->serial);
	PUT("# HELP carousel_zone_expired 1 while the zone answers SERVFAIL (expired or never "
	    "transferred).\n# TYPE carousel_zone_expired gauge\n");
	for (struct xfr_zone *z = x->zones; z; z = z->next)
		if (z->present)
			PUT("carousel_zone_expired{zone=\"%s\"} %d\n", z->name,
			    !z->have_data || atomic_load(&z->pub.expired));
	pthread_mutex_unlock(&x->lock);
#undef PUT
	return n;
}

/* --- NOTIFY, on a worker --- */

static bool from_primary(const struct secondary *s, const struct sockaddr *sa)
{
	for (unsigned i = 0; i < s->nprimaries; i++) {
		const struct sockaddr *p = (const struct sockaddr *)&s->primaries[i].ss;

		if (p->sa_family == AF_INET && sa->sa_family == AF_INET &&
		    ((const struct sockaddr_in *)p)->sin_addr.s_addr ==
			((const struct sockaddr_in *)sa)->sin_addr.s_addr)
			return true;
		if (p->sa_family == AF_INET6 && sa->sa_family == AF_INET6 &&
		    memcmp(&((const struct sockaddr_in6 *)p)->sin6_addr,
			   &((const struct sockaddr_in6 *)sa)->sin6_addr, 16) == 0)
			return true;
	}
	return false;
}

size_t xfr_notify_answer(const struct config *cfg, const struct sockaddr *client,
			 const uint8_t *query, size_t qlen, uint8_t *out, size_t out_max)
{
	uint8_t qname[DNAME_MAXLEN];
	size_t pos = WIRE_HDR_LEN;
	unsigned rcode = RCODE_NOERROR;
	struct tsig_rr t;

	if (qlen < WIRE_HDR_LEN || (wire_read16(query + 2) & WIRE_QR))
		return 0;
	if (out_max < 512)
		return 0;
	/* RFC 1996 3.7: one question, the zone's SOA */
	int tf = tsig_find(query, qlen, &t);

	if (wire_read16(query + 4) != 1 || wire_name_read(query, qlen, &pos, qname) < 0 ||
	    pos + 4 > qlen || tf < 0) {
		memcpy(out, query, 4);
		memset(out + 4, 0, 8);
		out[2] = (uint8_t)((XFR_NOTIFY_OPCODE << 3) | 0x80);
		out[3] = RCODE_FORMERR;
		return WIRE_HDR_LEN;
	}
	size_t qend = pos + 4;

	dname_lower(qname);
	const struct zone *z = config_find_zone(cfg, qname);
	const struct secondary *s = z && dname_equal(z->apex, qname) ? z->secondary : NULL;
	int terr = 0;

	if (!s || !client || !from_primary(s, client))
		rcode = RCODE_REFUSED;
	else if (tf == 1)
		terr = tsig_verify_request(s->key, query, qlen, &t, (uint64_t)time(NULL));
	else if (s->key)
		rcode = RCODE_REFUSED; /* the zone wants signed NOTIFYs */
	if (terr)
		rcode = RCODE_NOTAUTH;
	/* header, question echoed (RFC 1996 4.7) */
	memcpy(out, query, qend);
	wire_write16(out + 2, (uint16_t)((wire_read16(query + 2) & 0x7900) | WIRE_QR |
					 (rcode == RCODE_NOERROR ? WIRE_AA : 0) | rcode));
	wire_write16(out + 6, 0);
	wire_write16(out + 8, 0);
	wire_write16(out + 10, 0);
	size_t n = qend;

	if (rcode == RCODE_NOTAUTH && tf == 1) {
		/* RFC 8945 5.2: an unsigned answer that says why */
		size_t k =
		    tsig_append_error(out, n, out_max, &t, (uint16_t)terr, (uint64_t)time(NULL));

		n = k ? k : n;
	} else if (rcode == RCODE_NOERROR && tf == 1 && s->key) {
		uint8_t mac[TSIG_MAC_MAX];
		size_t ml, k = tsig_sign(s->key, out, n, out_max, t.mac, t.mac_len,
					 (uint64_t)time(NULL), mac, &ml);

		n = k ? k : n;
	}
	if (rcode == RCODE_NOERROR && z->xfr) {
		struct xfr_zone *xz = z->xfr;

		pthread_mutex_lock(&xz->x->lock);
		xz->n_notify++;
		pthread_mutex_unlock(&xz->x->lock);
		atomic_store(&xz->notified, true);
		wake(xz->x);
	}
	return n;
}
