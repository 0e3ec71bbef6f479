/* test_xdp.c -- the XDP program run by the kernel on crafted frames
 * (bpf_prog_test_run_opts): answers equal carouseld's socket answers byte
 * for byte at every rotation step (IPv4 and IPv6, with and without OPT),
 * every pass reason leaves the frame untouched, malformed frames are passed
 * or dropped, never answered. Needs root (BPF); exits 77 otherwise. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <time.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "cookie.h"
#include "engine.h"
#include "frame_util.h"
#include "publish.h"
#include "socket_answer.h"
#include "carousel_xdp.h"
#include "xdp.h"

static struct config *pub;

/* Run the program once; out gets the resulting frame. */
static int run(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	uint8_t buf[2048];

	memcpy(buf, in, len);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = 2048, .repeat = 1);
	int rc = bpf_prog_test_run_opts(xdp_prog_fd(), &opts);

	assert_int_equal(rc, 0);
	*out_len = opts.data_size_out;
	return (int)opts.retval;
}

/* Every step answered by the program as carouseld answers it from ref. */
static void answers_as(const struct config *ref, const char *asked, uint16_t qtype, bool v6,
		       int edns, int steps, uint16_t id)
{
	for (int step = 0; step < steps; step++) {
		uint8_t dns[512], frame[2048], out[2048];
		size_t dl = fu_dns_query(dns, (uint16_t)(id + step), asked, qtype, edns, step & 1);
		size_t fl = fu_frame(frame, v6, dns, dl, 41000), ol;

		assert_int_equal(run(frame, fl, out, &ol), XDP_TX);
		fu_assert_socket_answer(ref, NULL, dns, dl, out, ol, 41000);
	}
}

static void same_as_socket(const char *asked, uint16_t qtype, bool v6, int edns, int steps)
{
	struct config *ref = fu_load_bundled();

	answers_as(ref, asked, qtype, v6, edns, steps, 0x200);
	config_free(ref);
}

static void test_hits(void **state)
{
	(void)state;
	/* each helper call starts from a fresh reference config (counters at
	 * 0): run them on a fresh program state too, by name: www, shop, web
	 * share the web pool's counter, so use one name per family here */
	same_as_socket("WwW.Example.test", TYPE_A, false, 0, 6);
}

static void test_hits_v6_edns(void **state)
{
	(void)state;
	same_as_socket("shop.example.test", TYPE_AAAA, true, 1232, 4);
}

static void test_weighted(void **state)
{
	(void)state;
	same_as_socket("app.example.test", TYPE_A, false, 0, 14);
}

static void expect(const uint8_t *f, size_t len, int action, const char *what)
{
	uint8_t out[2048];
	size_t ol;
	int a = run(f, len, out, &ol);

	if (a != action)
		fail_msg("%s: action %d, want %d", what, a, action);
	if (action == XDP_PASS && (ol != len || memcmp(out, f, len) != 0))
		fail_msg("%s: a passed frame was changed", what);
}

static void test_pass_reasons(void **state)
{
	uint8_t dns[600], f[2048];
	size_t dl, fl;
	uint64_t miss = xdp_counter("punted.miss");

	(void)state;
	dl = fu_dns_query(dns, 1, "static.example.test", TYPE_A, 0, false);
	fl = fu_frame(f, false, dns, dl, 1234);
	expect(f, fl, XDP_PASS, "a name only carouseld knows");
	assert_int_equal(xdp_counter("punted.miss"), miss + 1);
	dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 0, false);
	fl = fu_frame(f, false, dns, dl, 1234);
	wire_write16(f + 12, 0x0806);
	expect(f, fl, XDP_PASS, "ARP");
	fl = fu_frame(f, false, dns, dl, 1234);
	f[14 + 9] = 6;
	expect(f, fl, XDP_PASS, "TCP");
	fl = fu_frame(f, false, dns, dl, 1234);
	f[14 + 19] = 9;
	expect(f, fl, XDP_PASS, "another destination");
	fl = fu_frame(f, false, dns, dl, 1234);
	wire_write16(f + 34 + 2, 5353);
	expect(f, fl, XDP_PASS, "another port");
	fl = fu_frame(f, false, dns, dl, 1234);
	wire_write16(f + 14 + 6, 0x2000);
	expect(f, fl, XDP_PASS, "a fragment");
	fl = fu_frame(f, true, dns, dl, 1234);
	f[14 + 6] = 44;
	expect(f, fl, XDP_PASS, "an IPv6 fragment");
	fl = fu_frame(f, false, dns, dl, 1234);
	f[14] = 0x46;
	expect(f, fl, XDP_PASS, "IPv4 options");
	dns[2] |= 0x80;
	fl = fu_frame(f, false, dns, dl, 1234);
	expect(f, fl, XDP_PASS, "QR=1");
	dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 1232, false);
	dns[dl - 5] = 1;
	fl = fu_frame(f, false, dns, dl, 1234);
	expect(f, fl, XDP_PASS, "EDNS version 1");
	static const uint8_t ptr_q[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1};
	fl = fu_frame(f, false, ptr_q, sizeof(ptr_q), 1234);
	expect(f, fl, XDP_PASS, "a label pointer");
	/* a name of 256 bytes */
	memset(dns, 0, 12);
	dns[5] = 1;
	size_t pos = 12;

	for (int i = 0; i < 4; i++) {
		dns[pos] = 63;
		memset(dns + pos + 1, 'x', 63);
		pos += 64;
	}
	dns[pos++] = 0;
	memcpy(dns + pos, "\0\1\0\1", 4);
	fl = fu_frame(f, false, dns, pos + 4, 1234);
	expect(f, fl, XDP_PASS, "qname > 255");
	/* lengths that lie and short frames: dropped, never answered */
	dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 0, false);
	fl = fu_frame(f, false, dns, dl, 1234);
	wire_write16(f + 14 + 2, 1400);
	expect(f, fl, XDP_DROP, "IPv4 length beyond the frame");
	fl = fu_frame(f, false, dns, dl, 1234);
	expect(f, 20, XDP_DROP, "a truncated frame");
	fl = fu_frame(f, false, dns, dl, 1234);
	wire_write16(f + 34 + 4, 3);
	expect(f, fl, XDP_DROP, "UDP length below its header");
}

static void test_expired_and_too_big(void **state)
{
	uint8_t dns[512], f[2048], n[DNAME_MAXLEN];
	struct entry *e = aligned_alloc(64, sizeof(*e));

	(void)state;
	dname_from_str("www.example.test", n, sizeof(n));
	assert_int_equal(engine_build_entry(pub, n, TYPE_A, e), 0);
	size_t dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 0, false);
	size_t fl = fu_frame(f, false, dns, dl, 1234);
	uint64_t expired = xdp_counter("punted.expired"), big = xdp_counter("punted.too-big");

	e->expires = (uint64_t)time(NULL) - 1; /* a cached answer past its TTL */
	assert_int_equal(xdp_ops.publish(e), 0);
	expect(f, fl, XDP_PASS, "an expired entry");
	assert_int_equal(xdp_counter("punted.expired"), expired + 1);
	e->expires = 0;
	e->tail_len = 480; /* no longer fits 512 bytes without EDNS */
	assert_int_equal(xdp_ops.publish(e), 0);
	expect(f, fl, XDP_PASS, "an answer larger than the client takes");
	assert_int_equal(xdp_counter("punted.too-big"), big + 1);
	assert_int_equal(engine_build_entry(pub, n, TYPE_A, e), 0);
	assert_int_equal(xdp_ops.publish(e), 0); /* put it back */
	free(e);
}

static void test_withdraw(void **state)
{
	uint8_t dns[512], f[2048];
	struct entry *e = aligned_alloc(64, sizeof(*e));
	uint8_t n[DNAME_MAXLEN];

	(void)state;
	dname_from_str("www.example.test", n, sizeof(n));
	assert_int_equal(engine_build_entry(pub, n, TYPE_A, e), 0);
	xdp_ops.withdraw(e->digest);
	size_t dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 0, false);
	size_t fl = fu_frame(f, false, dns, dl, 1234);

	expect(f, fl, XDP_PASS, "a withdrawn entry");
	assert_int_equal(xdp_ops.publish(e), 0);
	free(e);
}

/* A query with EDNS options: the program answers it exactly as carouseld
 * does, or passes it to carouseld untouched (ECS: carouseld echoes it). */
static void options_case(const char *name, const char *what, const uint8_t *opts, size_t olen,
			 size_t echo, int want)
{
	struct config *ref = fu_load_bundled();
	uint8_t dns[512], frame[2048], out[2048], sock[WIRE_TCP_MAX];
	size_t dl = fu_dns_query(dns, 0x4343, name, TYPE_A, 1232, false);
	struct engine_result r;
	size_t ol;

	memcpy(dns + dl, opts, olen);
	wire_write16(dns + dl - 2, (uint16_t)olen);
	dl += olen;
	size_t sl = engine_answer(ref, &(struct engine_ctx){.worker = 0}, dns, dl, sock,
				  sizeof(sock), false, &r);
	size_t fl = fu_frame(frame, false, dns, dl, 41000);
	int a = run(frame, fl, out, &ol);

	if (a != want)
		fail_msg("%s: action %d, want %d", what, a, want);
	/* rotation differs by CPU and step: compare all but the addresses;
	 * the OPT at the end, with `echo` bytes of echoed option */
	size_t head = dl - olen - WIRE_OPT_RR_LEN; /* header and question */

	if (a == XDP_TX && (ol != 42 + sl || memcmp(out + 42 + 2, sock + 2, head - 2) != 0 ||
			    memcmp(out + ol - 11 - echo, sock + sl - 11 - echo, 11 + echo) != 0 ||
			    !fu_checksums_ok(out, ol)))
		fail_msg("%s: answered, not as carouseld does", what);
	config_free(ref);
}

static void test_edns_options(void **state)
{
	static const uint8_t ecs4[] = {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
	static const uint8_t ecs6[] = {0, 8, 0, 11, 0, 2, 56, 0, 0x20, 1, 0xd, 0xb8, 0, 0, 0x12};
	static const uint8_t ecs_bad[] = {0, 8, 0, 7, 0, 1, 16, 0, 198, 51, 100};
	static const uint8_t ecs_scope[] = {0, 8, 0, 7, 0, 1, 24, 8, 198, 51, 100};
	static const uint8_t ecs_twice[] = {0, 8, 0, 4, 0, 1, 0, 0, 0, 8, 0, 4, 0, 1, 0, 0};
	static const uint8_t cookies2[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
					   0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t pad[] = {0, 12, 0, 4, 0, 0, 0, 0};
	static const uint8_t two[] = {0, 3, 0, 0, 0xfd, 0xe9, 0, 2, 1, 2};
	static const uint8_t ecs_pad[] = {0, 12, 0, 2, 0, 0, 0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
	const char *www = "www.example.test", *shop = "shop.example.test";

	(void)state;
	options_case(www, "ECS IPv4 /24", ecs4, sizeof(ecs4), sizeof(ecs4), XDP_TX);
	options_case(www, "ECS IPv6 /56", ecs6, sizeof(ecs6), sizeof(ecs6), XDP_TX);
	options_case(shop, "ECS, odd offsets", ecs4, sizeof(ecs4), sizeof(ecs4), XDP_TX);
	options_case(shop, "ECS IPv6, odd offsets", ecs6, sizeof(ecs6), sizeof(ecs6), XDP_TX);
	options_case(www, "padding, then ECS", ecs_pad, sizeof(ecs_pad), 11, XDP_TX);
	options_case(www, "ECS with bits past its prefix", ecs_bad, sizeof(ecs_bad), 0, XDP_PASS);
	options_case(www, "ECS with a scope", ecs_scope, sizeof(ecs_scope), 0, XDP_PASS);
	options_case(www, "two ECS", ecs_twice, sizeof(ecs_twice), 0, XDP_PASS);
	options_case(www, "two COOKIEs", cookies2, sizeof(cookies2), 0, XDP_PASS);
	options_case(www, "padding", pad, sizeof(pad), 0, XDP_TX);
	options_case(www, "NSID and an unknown option", two, sizeof(two), 0, XDP_TX);
}

static const uint8_t cookie_secret[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t cookie_previous[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

/* cookies on: the program answers every cookie case as carouseld does
 * (the server cookie's second may differ across a boundary: retried) */
static void cookie_case(const char *name, const char *what, const uint8_t *server, size_t slen,
			const uint8_t *extra, size_t elen, int want)
{
	static const uint8_t client[8] = {0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8};
	struct config *ref = fu_load_bundled();
	uint8_t dns[512], frame[2048], out[2048], sock[WIRE_TCP_MAX], o[64];
	size_t dl = fu_dns_query(dns, 0x4444, name, TYPE_A, 1232, false), olen, sl = 0, ol = 0;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct engine_result r;
	int a = 0;

	memcpy(&sin.sin_addr, fu_client_ip4, 4);
	ref->cookies.enable = true;
	ref->cookies.has_previous = true;
	memcpy(ref->cookies.secret, cookie_secret, 16);
	memcpy(ref->cookies.previous, cookie_previous, 16);
	wire_write16(o, 10);
	wire_write16(o + 2, (uint16_t)(8 + slen));
	memcpy(o + 4, client, 8);
	if (slen)
		memcpy(o + 12, server, slen);
	olen = 12 + slen;
	if (elen)
		memcpy(o + olen, extra, elen);
	olen += elen;
	memcpy(dns + dl, o, olen);
	wire_write16(dns + dl - 2, (uint16_t)olen);
	dl += olen;
	/* carouseld reads time() (the kernel's coarse clock, a tick behind
	 * at most), the program the fine one: an exchange counts when both
	 * ends are inside one second and clear of its start by more than a
	 * tick; otherwise it is done again (a few hundred microseconds each) */
	for (int tries = 0; tries < 1000; tries++) {
		struct timespec before, after;

		clock_gettime(CLOCK_REALTIME, &before);
		sl = engine_answer(ref, &(struct engine_ctx){.worker = 0,
							 .client = (struct sockaddr *)&sin},
				   dns, dl, sock, sizeof(sock), false, &r);
		size_t fl = fu_frame(frame, false, dns, dl, 41000);

		a = run(frame, fl, out, &ol);
		clock_gettime(CLOCK_REALTIME, &after);
		if (before.tv_sec == after.tv_sec && before.tv_nsec > 20000000L)
			break;
	}
	if (a != want)
		fail_msg("%s: action %d, want %d", what, a, want);
	size_t tail = 11 + 28 + elen, head = dl - olen - WIRE_OPT_RR_LEN;

	if (a == XDP_TX && (ol != 42 + sl || memcmp(out + 42 + 2, sock + 2, head - 2) != 0 ||
			    memcmp(out + ol - tail, sock + sl - tail, tail) != 0 ||
			    !fu_checksums_ok(out, ol)))
		fail_msg("%s: answered, not as carouseld does", what);
	config_free(ref);
}

static void test_cookies(void **state)
{
	static const uint8_t client[8] = {0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8};
	static const uint8_t ecs4[] = {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
	uint8_t server[16], junk[16] = {1, 0, 0, 0, 0x60, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9};
	uint32_t now = (uint32_t)time(NULL);
	struct fp_cookies k = {.enable = true, .has_previous = true};
	const char *www = "www.example.test", *shop = "shop.example.test";

	(void)state;
	memcpy(k.secret, cookie_secret, 16);
	memcpy(k.previous, cookie_previous, 16);
	xdp_ops.cookies(&k);
	uint64_t with_cookie = xdp_counter("answered.cookie"), with_ecs = xdp_counter("answered.ecs");

	cookie_case(www, "client cookie only", NULL, 0, NULL, 0, XDP_TX);
	cookie_case(shop, "client cookie only, odd offsets", NULL, 0, NULL, 0, XDP_TX);
	cookie_make(cookie_secret, client, fu_client_ip4, 4, now - 10, server);
	cookie_case(www, "a valid server cookie: echoed", server, 16, NULL, 0, XDP_TX);
	cookie_make(cookie_secret, client, fu_client_ip4, 4, now - 2000, server);
	cookie_case(www, "a worn server cookie: renewed", server, 16, NULL, 0, XDP_TX);
	cookie_make(cookie_previous, client, fu_client_ip4, 4, now - 10, server);
	cookie_case(www, "the previous secret's: renewed", server, 16, NULL, 0, XDP_TX);
	cookie_case(www, "a bad server cookie: a new one", junk, 16, NULL, 0, XDP_TX);
	cookie_case(www, "a server cookie of 5 bytes: FORMERR", junk, 5, NULL, 0, XDP_PASS);
	cookie_case(www, "cookie and ECS", NULL, 0, ecs4, sizeof(ecs4), XDP_TX);
	assert_true(xdp_counter("answered.cookie") - with_cookie >= 7);
	assert_true(xdp_counter("answered.ecs") - with_ecs >= 1);
	k.enable = false;
	xdp_ops.cookies(&k);
}

/* RRL: one client's flood within a second gets what carouseld's limiter
 * gives it (control/rrl.c, the same buckets): exactly `rate` answers,
 * then one in `slip` limited ones truncated (TC, question only; at
 * random), the rest dropped; a valid server cookie is exempt; another
 * prefix is not hurt. */
static void rrl_flood(const uint8_t *src4, int n, bool with_cookie, int *answered, int *slipped,
		      int *dropped)
{
	uint8_t dns[512], f[2048], out[2048];
	size_t dl = fu_dns_query(dns, 0x5555, "www.example.test", TYPE_A, with_cookie ? 1232 : 0,
				 false);
	size_t ol;

	if (with_cookie) {
		static const uint8_t client[8] = {9, 8, 7, 6, 5, 4, 3, 2};
		uint8_t o[28];

		wire_write16(o, 10);
		wire_write16(o + 2, 24);
		memcpy(o + 4, client, 8);
		cookie_make(cookie_secret, client, src4, 4, (uint32_t)time(NULL), o + 12);
		memcpy(dns + dl, o, sizeof(o));
		wire_write16(dns + dl - 2, sizeof(o));
		dl += sizeof(o);
	}
	size_t fl = fu_frame(f, false, dns, dl, 42000);

	memcpy(f + 14 + 12, src4, 4); /* the flood's source address */
	wire_write16(f + 14 + 10, 0);
	uint32_t h = 0;

	for (int i = 0; i < 20; i += 2)
		h += wire_read16(f + 14 + i);
	while (h >> 16)
		h = (h & 0xffff) + (h >> 16);
	wire_write16(f + 14 + 10, (uint16_t)~h);
	*answered = *slipped = *dropped = 0;
	for (int i = 0; i < n; i++) {
		int a = run(f, fl, out, &ol);

		if (a == XDP_DROP) {
			(*dropped)++;
		} else if (a == XDP_TX && (out[42 + 2] & 0x02)) {
			(*slipped)++;
			assert_int_equal(ol, 42 + dl - (with_cookie ? 39 : 0));
			assert_int_equal(wire_read16(out + 42 + 6), 0);
			assert_true(fu_checksums_ok(out, ol));
		} else if (a == XDP_TX) {
			(*answered)++;
		}
	}
}

static void test_rrl(void **state)
{
	static const uint8_t other[4] = {203, 0, 113, 9};
	uint8_t flood[4] = {198, 51, 100, 77};
	struct fp_rrl r = {.enable = true, .rate = 20, .slip = 2, .v4_prefix = 24,
			   .v6_prefix = 56};
	struct fp_cookies k = {.enable = true};
	int ans, slip, drop;

	(void)state;
	memcpy(k.secret, cookie_secret, 16);
	/* a flood that crossed a second's boundary (or began within a tick
	 * of one) is retried from a fresh /24, whose bucket starts empty */
	for (int tries = 0; tries < 20; tries++) {
		struct timespec before, after;

		clock_gettime(CLOCK_REALTIME, &before);
		flood[2] = (uint8_t)(100 + tries);
		xdp_ops.rrl(&r);
		rrl_flood(flood, 100, false, &ans, &slip, &drop);
		clock_gettime(CLOCK_REALTIME, &after);
		if (before.tv_sec == after.tv_sec && before.tv_nsec > 20000000L)
			break;
	}
	printf("rrl: answered %d slipped %d dropped %d\n", ans, slip, drop);
	assert_int_equal(ans, 20);
	assert_in_range(slip, 20, 60); /* one in two of the 80 limited, at random */
	assert_int_equal(slip + drop, 80);
	/* another /24 has its own budget */
	rrl_flood(other, 5, false, &ans, &slip, &drop);
	assert_int_equal(ans, 5);
	/* a valid server cookie is exempt, as on the socket path */
	xdp_ops.cookies(&k);
	rrl_flood(flood, 30, true, &ans, &slip, &drop);
	assert_int_equal(ans, 30);
	k.enable = false;
	xdp_ops.cookies(&k);
	r.enable = false;
	xdp_ops.rrl(&r);
}


/* Which entry map holds key: 1 the small class's, 2 the large one's, 3
 * both (never right), 0 neither. */
static int held_in(uint64_t key)
{
	static struct xdp_entry large;
	struct xdp_small small;

	return (bpf_map_lookup_elem(xdp_map_fd(true), &key, &small) == 0) |
	       (bpf_map_lookup_elem(xdp_map_fd(false), &key, &large) == 0) << 1;
}

static unsigned long long status_value(const char *key)
{
	char st[512], *at;

	xdp_ops.status(st, sizeof(st));
	at = strstr(st, key);
	assert_non_null(at);
	return strtoull(at + strlen(key), NULL, 10);
}

/* A 63-byte label: two make a name longer than the small class holds. */
#define LONG_LABEL "lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"

/* A pool config (fu_load_pools) of one pool: name, n members, answer-count. */
static char *one_pool(const char *name, int n, int answer_count)
{
	size_t cap = 64 + strlen(name) + (size_t)n * 32, len;
	char *text = malloc(cap);

	assert_non_null(text);
	len = (size_t)snprintf(text, cap, "pools:\n  - {name: %s, answer-count: %d, members: [", name,
			       answer_count);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s{address: 192.0.2.%d}", i ? ", " : "",
					100 + i);
	snprintf(text + len, cap - len, "]}\n");
	return text;
}

/* Publish name's A entry from pools (alone or as a batch) on rotation slot
 * rot, check the class that holds it, then ask it at `steps` rotation
 * steps: every answer is carouseld's for that config. */
static void class_case(const char *pools, const char *name, uint32_t rot, bool batch,
		       int want_map, uint16_t edns, int steps)
{
	struct config *cfg = fu_load_pools(pools), *ref = fu_load_pools(pools);
	struct entry *e = aligned_alloc(64, sizeof(*e));
	uint8_t n[DNAME_MAXLEN];
	int ok = -1;

	assert_non_null(cfg);
	assert_non_null(ref);
	dname_from_str(name, n, sizeof(n));
	assert_int_equal(engine_build_entry(cfg, n, TYPE_A, e), 0);
	e->rot_id = rot;
	if (batch)
		xdp_ops.publish_batch((const struct entry *const[]){e}, 1, &ok);
	else
		ok = xdp_ops.publish(e);
	assert_int_equal(ok, 0);
	if (held_in(e->digest) != want_map)
		fail_msg("%s: held in map %d, want %d", name, held_in(e->digest), want_map);
	answers_as(ref, name, TYPE_A, false, edns, steps, 0xa00);
	free(e);
	config_free(cfg);
	config_free(ref);
}

/* The two classes of entry (carousel_xdp.h): the bundled config's pools
 * and aliases are all small; a pool too large for the small class (40
 * members, prebuilt or assembled; a long name; topology: test_topology)
 * is held in the large map; a pool that grows from 2 members to 40 and
 * back moves between the two on every publish, single or batched, and is
 * always answered from the one map that holds it, as carouseld answers. */
static void test_classes(void **state)
{
	static const char *const names[] = {"www.example.test", "shop.example.test",
					    "web.example.test", "api.example.test",
					    "app.example.test", "mx.example.test",
					    "imap.example.test"};
	struct entry *e = aligned_alloc(64, sizeof(*e));
	const char *grow = "grow.example.test.";
	char *two = one_pool(grow, 2, 0), *forty_two = one_pool(grow, 40, 2);
	char *forty = one_pool(grow, 40, 0);
	char longname[160], *lng;
	uint8_t n[DNAME_MAXLEN];
	unsigned long long large0 = status_value("large-entries ");

	(void)state;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (int t = 0; t < 2; t++) {
			dname_from_str(names[i], n, sizeof(n));
			assert_int_equal(engine_build_entry(pub, n, t ? TYPE_AAAA : TYPE_A, e), 0);
			if (held_in(e->digest) != 1)
				fail_msg("%s %s: held in map %d, want the small one (1)", names[i],
					 t ? "AAAA" : "A", held_in(e->digest));
		}
	printf("the bundled config: small\n");
	/* each phase on a rotation slot of its own, as ref's counters start
	 * at 0 */
	class_case(two, grow, ENTRY_ROT_SLOTS - 100, false, 1, 0, 4);
	class_case(forty_two, grow, ENTRY_ROT_SLOTS - 101, true, 2, 0, 44);
	assert_int_equal(status_value("large-entries "), large0 + 1);
	class_case(forty, grow, ENTRY_ROT_SLOTS - 102, false, 2, 1232, 6);
	class_case(two, grow, ENTRY_ROT_SLOTS - 103, true, 1, 1232, 4);
	assert_int_equal(status_value("large-entries "), large0);
	class_case(forty_two, grow, ENTRY_ROT_SLOTS - 104, false, 2, 0, 5);
	class_case(two, grow, ENTRY_ROT_SLOTS - 105, false, 1, 0, 3);
	printf("2 -> 40 -> 40 (all) -> 2 -> 40 -> 2 members: answered from its class's map\n");
	/* withdrawn from either: passed to the kernel */
	dname_from_str(grow, n, sizeof(n));
	uint64_t key = entry_digest(n, dname_len(n), TYPE_A, CLASS_IN);
	uint8_t dns[512], frame[2048];
	size_t dl = fu_dns_query(dns, 1, grow, TYPE_A, 0, false);
	size_t fl = fu_frame(frame, false, dns, dl, 1234);

	xdp_ops.withdraw(key);
	assert_int_equal(held_in(key), 0);
	expect(frame, fl, XDP_PASS, "a withdrawn small entry");
	class_case(forty_two, grow, ENTRY_ROT_SLOTS - 106, true, 2, 0, 3);
	xdp_ops.withdraw(key);
	assert_int_equal(held_in(key), 0);
	expect(frame, fl, XDP_PASS, "a withdrawn large entry");
	assert_int_equal(status_value("large-entries "), large0);
	/* a name longer than the small class holds (138 bytes) */
	snprintf(longname, sizeof(longname), "%.60s.%.60s.x.example.test.",
		 "llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll",
		 "oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo");
	lng = one_pool(longname, 2, 0);
	class_case(lng, longname, ENTRY_ROT_SLOTS - 107, false, 2, 0, 3);
	dname_from_str(longname, n, sizeof(n));
	xdp_ops.withdraw(entry_digest(n, dname_len(n), TYPE_A, CLASS_IN));
	printf("a %zu-byte name: large\n", strlen(longname) + 1);
	free(lng);
	free(two);
	free(forty_two);
	free(forty);
	free(e);
}

/* Topology pools (frame_util.h fu_topology): the program picks the
 * client's group from its ECS address or source and answers exactly as
 * carouseld does, ECS SCOPE included, at every step. Each case rotates on
 * its own counter slot, so the program's steps match carouseld's. */
static void test_topology(void **state)
{
	uint8_t n[DNAME_MAXLEN];
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};

	(void)state;
	dname_from_str("near.example.test", n, sizeof(n));
	memcpy(&sin.sin_addr, fu_client_ip4, 4);
	memcpy(&sin6.sin6_addr, fu_client_ip6, 16);
	for (unsigned i = 0; i < sizeof(fu_topology) / sizeof(fu_topology[0]); i++) {
		const struct fu_topology_case *c = &fu_topology[i];
		struct config *cfg = fu_load_pools(fu_topology_pools);
		struct config *ref = fu_load_pools(fu_topology_pools);
		struct entry *e = aligned_alloc(64, sizeof(*e));

		assert_non_null(cfg);
		assert_non_null(ref);
		assert_int_equal(engine_build_entry(cfg, n, TYPE_A, e), 0);
		e->rot_id = ENTRY_ROT_SLOTS - 1 - i;
		assert_int_equal(xdp_ops.publish(e), 0);
		assert_int_equal(held_in(e->digest), 2); /* topology: the large class */
		for (unsigned step = 0; step < 7; step++) {
			uint8_t dns[512], frame[2048], out[2048];
			size_t dl = fu_dns_query(dns, (uint16_t)(0x900 + step), "near.example.test",
						 TYPE_A, c->ecs_len ? 1232 : 0, false);
			size_t ol;

			if (c->ecs_len) {
				memcpy(dns + dl, c->ecs, c->ecs_len);
				wire_write16(dns + dl - 2, (uint16_t)c->ecs_len);
				dl += c->ecs_len;
			}
			size_t fl = fu_frame(frame, c->v6, dns, dl, 41000);

			assert_int_equal(run(frame, fl, out, &ol), XDP_TX);
			printf("%s, step %u\n", c->what, step);
			fu_assert_socket_answer(ref,
						c->v6 ? (struct sockaddr *)&sin6
						      : (struct sockaddr *)&sin,
						dns, dl, out, ol, 41000);
		}
		printf("%s: answered, as carouseld\n", c->what);
		xdp_ops.withdraw(e->digest);
		free(e);
		config_free(cfg);
		config_free(ref);
	}
}

/* POOLS one-member pools, every 25th under a name too long for the small
 * class, their addresses shifted by shift. */
static char *batch_pools(int pools, int shift)
{
	size_t cap = 32 + (size_t)pools * 256, n;
	char *text = malloc(cap);

	assert_non_null(text);
	n = (size_t)snprintf(text, cap, "pools:\n");
	for (int i = 0; i < pools; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "  - {name: p%d.%s%sexample.test., members: [{address: "
				      "198.51.%d.%d}]}\n",
				      i, i % 25 ? "" : LONG_LABEL ".", i % 25 ? "" : LONG_LABEL ".",
				      100 + (i + shift) / 250, 1 + (i + shift) % 250);
	return text;
}

/* A publish of many batches, small and large entries mixed in each:
 * when publish_config returns, every entry is in its map and answers as
 * carouseld does, and the counts are whole; a republish with every
 * address changed replaces them all the same way. */
static void test_batches(void **state)
{
	enum { POOLS = 600 }; /* 1200 entries: 38 batches */
	struct publisher *p = publish_create(&xdp_ops);
	unsigned long long large0 = status_value("large-entries ");
	char st[512], asked[192];

	(void)state;
	for (int shift = 0; shift <= 7; shift += 7) {
		char *text = batch_pools(POOLS, shift);
		struct config *cfg = fu_load_pools(text), *ref = fu_load_pools(text);

		assert_non_null(cfg);
		assert_non_null(ref);
		publish_config(p, cfg);
		publish_status(p, st, sizeof(st));
		assert_non_null(strstr(st, "entries-published 1200 "));
		assert_non_null(strstr(st, "not-held 0 "));
		assert_int_equal(status_value("large-entries "), large0 + 2 * (POOLS / 25));
		for (int i = 0; i < POOLS; i++) {
			snprintf(asked, sizeof(asked), "p%d.%s%sexample.test", i,
				 i % 25 ? "" : LONG_LABEL ".", i % 25 ? "" : LONG_LABEL ".");
			answers_as(ref, asked, TYPE_A, false, 0, 1, (uint16_t)i);
		}
		printf("%d pools, addresses shifted by %d: every name answered from the maps\n",
		       POOLS, shift);
		config_free(ref);
		config_free(cfg);
		free(text);
	}
	publish_destroy(p);
}

/* A map smaller than the config: what does not fit is counted (not-held)
 * and answered by carouseld (the program passes it); a capacity sized to
 * a config too large for the machine is held to an eighth of its memory,
 * both maps together.
 * Runs last: it loads the program again. */
static void test_capacity(void **state)
{
	enum { POOLS = 700 }; /* 1400 entries (A, and AAAA's NODATA) */
	size_t cap = 64 + POOLS * 96;
	char *text = malloc(cap), st[512];
	size_t n = (size_t)snprintf(text, cap, "dataplane: {interface: lo, address: 192.0.2.53, max-entries: 1024}\npools:\n");
	struct publisher *p;

	(void)state;
	assert_non_null(text);
	for (int i = 0; i < POOLS; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "  - {name: cap%d.example.test., members: [{address: 192.0.2.%d}]}\n",
				      i, 1 + i % 200);
	struct config *cfg = fu_load_pools(text);

	free(text);
	assert_non_null(cfg);
	assert_false(cfg->dp.max_entries_sized);
	fu_dp_addresses(cfg);
	xdp_ops.stop();
	assert_int_equal(xdp_init(&cfg->dp, false), 0);
	xdp_ops.status(st, sizeof(st));
	assert_non_null(strstr(st, "\nmap-capacity 1024\n"));
	assert_non_null(strstr(st, "small-map-capacity 1024\n"));
	p = publish_create(&xdp_ops);
	publish_config(p, cfg);
	publish_status(p, st, sizeof(st));
	unsigned long long held = strtoull(strstr(st, "entries-published ") + 18, NULL, 10);
	unsigned long long not_held = strtoull(strstr(st, "not-held ") + 9, NULL, 10);

	assert_true(held <= 1024 && held > 0);
	assert_int_equal(held + not_held, 2 * POOLS);
	/* the last pool's A did not fit: the kernel answers it */
	uint8_t dns[512], frame[2048], out[2048];
	size_t dl = fu_dns_query(dns, 0x77, "cap699.example.test", TYPE_A, 0, 0);
	size_t fl = fu_frame(frame, false, dns, dl, 41000), ol;

	assert_int_equal(run(frame, fl, out, &ol), XDP_PASS);
	publish_destroy(p);
	xdp_ops.stop();
	/* sized to a config of 64 M entries: the two maps together held to
	 * what an eighth of memory takes (kernel-mib-max, rounded), most of
	 * it for the small class */
	cfg->dp.max_entries = 1u << 26;
	cfg->dp.max_entries_sized = true;
	assert_int_equal(xdp_init(&cfg->dp, false), 0);
	unsigned long long large = status_value("\nmap-capacity ");
	unsigned long long small = status_value("small-map-capacity ");
	unsigned long long mib = status_value("kernel-mib-max ");
	unsigned long long eighth = (unsigned long long)sysconf(_SC_PHYS_PAGES) *
				    (unsigned long long)sysconf(_SC_PAGESIZE) / 8 / (1 << 20);

	printf("sized to 64 M entries: large %llu small %llu kernel-mib-max %llu of %llu\n", large,
	       small, mib, eighth);
	assert_true(large < (1u << 26) && small < (1u << 26));
	assert_true(mib <= eighth + 1);
	assert_true(mib + 1 >= eighth || large == 1024);
	assert_true(small > large);
	config_free(cfg);
}

int main(void)
{
	cpu_set_t one;

	if (geteuid() != 0) {
		printf("SKIP: needs root to load BPF programs\n");
		return 77;
	}
	/* the rotation counters are per CPU: stay on one */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	pub = fu_load_bundled();
	if (!pub)
		return 1;
	fu_dp_addresses(pub);
	if (xdp_init(&pub->dp, false) < 0) {
		printf("FAIL: the XDP program did not load (verifier log above)\n");
		return 1;
	}
	struct publisher *publisher = publish_create(&xdp_ops);

	publish_config(publisher, pub);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hits),
		cmocka_unit_test(test_hits_v6_edns),
		cmocka_unit_test(test_weighted),
		cmocka_unit_test(test_pass_reasons),
		cmocka_unit_test(test_expired_and_too_big),
		cmocka_unit_test(test_withdraw),
		cmocka_unit_test(test_edns_options),
		cmocka_unit_test(test_cookies),
		cmocka_unit_test(test_rrl),
		cmocka_unit_test(test_topology),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_capacity),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	xdp_ops.stop();
	publish_destroy(publisher);
	config_free(pub);
	return rc;
}
