/* test_frame.c -- fast-path entries and frames without DPDK: an entry's
 * answer is byte-identical to carouseld's socket answer at every rotation
 * step, IPv4/IPv6 with and without OPT, checksums verify, every punt and
 * drop reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>
#include <ctype.h>

#include "cookie.h"
#include "engine.h"
#include "frame.h"
#include "frame_util.h"
#include "socket_answer.h"

static struct entry *build(const struct config *cfg, const char *name, uint16_t qtype)
{
	uint8_t n[DNAME_MAXLEN];
	struct entry *e = calloc(1, sizeof(*e));

	dname_from_str(name, n, sizeof(n));
	dname_lower(n);
	assert_int_equal(engine_build_entry(cfg, n, qtype, e), 0);
	return e;
}

/* For each step, the fast path's DNS payload equals the socket path's. */
static void same_as_socket(const char *name, const char *asked, uint16_t qtype, bool v6,
			   int edns, int steps)
{
	struct config *pub = fu_load_bundled(), *ref = fu_load_bundled();
	struct entry *e = build(pub, name, qtype);
	struct frame_addrs addrs = fu_addrs();

	for (int step = 0; step < steps; step++) {
		uint8_t dns[512], frame[2048];
		struct frame_query q;
		size_t dlen = fu_dns_query(dns, (uint16_t)(0x100 + step), asked, qtype, edns, step & 1);
		size_t flen = fu_frame(frame, v6, dns, dlen, 40000);

		assert_int_equal(frame_parse(frame, flen, &addrs, &q), FRAME_HIT);
		assert_int_equal(q.digest, e->digest);
		assert_true(entry_matches(e, q.name, q.name_len, q.qtype, q.qclass));
		int len = frame_respond(frame, sizeof(frame), &q, e, (uint64_t)step, 0);

		assert_true(len > 0);
		fu_assert_socket_answer(ref, NULL, dns, dlen, frame, (size_t)len, 40000);
	}
	free(e);
	config_free(pub);
	config_free(ref);
}

static void test_alias_v4(void **state)
{
	(void)state;
	same_as_socket("www.example.test", "WwW.Example.TEST", TYPE_A, false, 0, 7);
}

static void test_alias_v4_edns(void **state)
{
	(void)state;
	same_as_socket("www.example.test", "www.example.test", TYPE_A, false, 1232, 7);
}

static void test_alias_v6(void **state)
{
	(void)state;
	same_as_socket("shop.example.test", "shop.example.test", TYPE_AAAA, true, 0, 5);
	same_as_socket("web.example.test", "web.example.test", TYPE_A, true, 4096, 5);
}

static void test_weighted(void **state)
{
	(void)state;
	/* answer-count 1, smooth WRR 5:1:1 over 14 steps */
	same_as_socket("app.example.test", "app.example.test", TYPE_A, false, 0, 14);
}

static void test_nodata_entry(void **state)
{
	(void)state;
	/* api has no IPv6 members: NODATA with SOA, served as fixed bytes */
	same_as_socket("api.example.test", "api.example.test", TYPE_AAAA, false, 1232, 2);
}

static void test_ttl_left(void **state)
{
	struct config *cfg = fu_load_bundled();
	struct entry *e = build(cfg, "www.example.test", TYPE_A);
	uint8_t out[ENTRY_MAX_BYTES];
	uint16_t counts[3];

	(void)state;
	e->expires = 1000;
	int n = entry_write(e, 0, 990, out, sizeof(out), counts);

	assert_true(n > 0);
	assert_int_equal(counts[0], 4);
	/* the CNAME (head) and every A record show 10 s left, not 30 */
	assert_int_equal(wire_read32(out + e->ttl_off[0]), 10);
	for (int i = 0; i < 3; i++)
		assert_int_equal(wire_read32(out + e->head_len + i * e->rr_len + e->rr_ttl_off), 10);
	free(e);
	config_free(cfg);
}

static enum frame_verdict verdict(uint8_t *f, size_t len)
{
	struct frame_addrs a = fu_addrs();
	struct frame_query q;

	return frame_parse(f, len, &a, &q);
}

static void test_punt_reasons(void **state)
{
	uint8_t dns[512], f[2048];
	size_t dl, fl;

	(void)state;
	dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 0, false);
	fl = fu_frame(f, false, dns, dl, 1234);
	assert_int_equal(verdict(f, fl), FRAME_HIT);
	wire_write16(f + 12, 0x0806); /* ARP */
	assert_int_equal(verdict(f, fl), PUNT_NOT_IP);
	fl = fu_frame(f, false, dns, dl, 1234);
	f[14 + 9] = 6; /* TCP */
	assert_int_equal(verdict(f, fl), PUNT_NOT_UDP);
	fl = fu_frame(f, false, dns, dl, 1234);
	f[14 + 19] = 9; /* another destination */
	assert_int_equal(verdict(f, fl), PUNT_NOT_OURS);
	fl = fu_frame(f, false, dns, dl, 1234);
	wire_write16(f + 34 + 2, 5353); /* another port */
	assert_int_equal(verdict(f, fl), PUNT_NOT_OURS);
	fl = fu_frame(f, false, dns, dl, 1234);
	f[14] = 0x46; /* IPv4 options */
	assert_int_equal(verdict(f, fl), PUNT_IP_OPTIONS);
	fl = fu_frame(f, false, dns, dl, 1234);
	wire_write16(f + 14 + 6, 0x2000); /* MF */
	assert_int_equal(verdict(f, fl), PUNT_FRAGMENT);
	fl = fu_frame(f, true, dns, dl, 1234);
	f[14 + 6] = 44; /* IPv6 fragment header */
	assert_int_equal(verdict(f, fl), PUNT_FRAGMENT);
	fl = fu_frame(f, true, dns, dl, 1234);
	f[14 + 6] = 0; /* hop-by-hop options */
	assert_int_equal(verdict(f, fl), PUNT_IP_OPTIONS);
	dns[2] |= 0x80; /* QR */
	fl = fu_frame(f, false, dns, dl, 1234);
	assert_int_equal(verdict(f, fl), PUNT_DNS_HEADER);
	dns[2] = 0x01 | (4 << 3); /* NOTIFY */
	fl = fu_frame(f, false, dns, dl, 1234);
	assert_int_equal(verdict(f, fl), PUNT_DNS_HEADER);
	dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 0, false);
	dns[7] = 1; /* ancount */
	fl = fu_frame(f, false, dns, dl, 1234);
	assert_int_equal(verdict(f, fl), PUNT_DNS_HEADER);
	/* a compressed question name: carouseld's parser decides */
	static const uint8_t ptr_q[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1};
	fl = fu_frame(f, false, ptr_q, sizeof(ptr_q), 1234);
	assert_int_equal(verdict(f, fl), PUNT_QNAME);
	dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 1232, false);
	dns[dl - 5] = 1; /* EDNS version 1 */
	fl = fu_frame(f, false, dns, dl, 1234);
	assert_int_equal(verdict(f, fl), PUNT_EDNS);
	dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 1232, false);
	wire_write16(dns + dl - 2, 4); /* rdlength says 4, nothing follows */
	fl = fu_frame(f, false, dns, dl, 1234);
	assert_int_equal(verdict(f, fl), PUNT_EDNS);
	/* a well-formed option (a cookie) is fine: ignored, as carouseld does */
	static const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 1232, false);
	wire_write16(dns + dl - 2, sizeof(cookie));
	memcpy(dns + dl, cookie, sizeof(cookie));
	fl = fu_frame(f, false, dns, dl + sizeof(cookie), 1234);
	assert_int_equal(verdict(f, fl), FRAME_HIT);
	/* lengths that lie: dropped */
	dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 0, false);
	fl = fu_frame(f, false, dns, dl, 1234);
	assert_int_equal(verdict(f, fl - 1), DROP_BAD_LENGTH);
	assert_int_equal(verdict(f, 13), DROP_BAD_LENGTH);
	wire_write16(f + 34 + 4, 4); /* UDP length below its header */
	assert_int_equal(verdict(f, fl), DROP_BAD_LENGTH);
	fl = fu_frame(f, true, dns, dl, 1234);
	assert_int_equal(verdict(f, 50), DROP_BAD_LENGTH);
}

static void test_too_big(void **state)
{
	struct config *cfg = fu_load_bundled();
	struct entry *e = build(cfg, "www.example.test", TYPE_A);
	struct frame_addrs a = fu_addrs();
	struct frame_query q;
	uint8_t dns[512], f[2048];

	(void)state;
	e->tail_len = 480; /* pretend: the answer no longer fits in 512 */
	size_t dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 0, false);
	size_t fl = fu_frame(f, false, dns, dl, 1234);
	uint8_t copy[2048];

	memcpy(copy, f, fl);
	assert_int_equal(frame_parse(f, fl, &a, &q), FRAME_HIT);
	assert_int_equal(frame_respond(f, sizeof(f), &q, e, 0, 0), -PUNT_TOO_BIG);
	assert_memory_equal(f, copy, fl); /* punted untouched */
	/* with EDNS 1232 it fits */
	dl = fu_dns_query(dns, 1, "www.example.test", TYPE_A, 1232, false);
	fl = fu_frame(f, false, dns, dl, 1234);
	assert_int_equal(frame_parse(f, fl, &a, &q), FRAME_HIT);
	assert_true(frame_respond(f, sizeof(f), &q, e, 0, 0) > 0);
	free(e);
	config_free(cfg);
}

static void test_checksum_reference(void **state)
{
	/* RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2 */
	static const uint8_t words[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

	(void)state;
	assert_int_equal(frame_csum_fold(frame_csum_add(0, words, sizeof(words))),
			 (uint16_t)~0xddf2);
}

/* Insert one 802.1Q tag after the MAC addresses. */
static size_t add_vlan(uint8_t *f, size_t len)
{
	memmove(f + 16, f + 12, len - 12);
	wire_write16(f + 12, 0x8100);
	wire_write16(f + 14, 42);
	return len + 4;
}

/* The prebuilt variant (frame_answer) against the assembled answer
 * (frame_respond, carouseld's bytes by the tests above) for every entry
 * of the bundled config, at every rotation step, for every variant a
 * query can ask: no EDNS, UDP 512/1232/4096 with DO 0 and 1, lower, upper
 * and mixed case, IPv4 and IPv6, with and without a VLAN tag. */
static void test_prebuilt_same_as_assembled(void **state)
{
	static const int sizes[] = {0, 512, 1232, 4096};
	struct config *cfg = fu_load_bundled();
	struct frame_addrs addrs = fu_addrs();
	unsigned compared = 0, entries = 0;

	(void)state;
	for (unsigned p = 0; p < cfg->npools; p++)
		for (unsigned j = 0; j <= cfg->pools[p]->naliases; j++)
			for (int t = 0; t < 2; t++) {
				const uint8_t *n = j ? cfg->pools[p]->aliases[j - 1] : cfg->pools[p]->name;
				uint16_t qtype = t ? TYPE_AAAA : TYPE_A;
				struct entry *e = calloc(1, sizeof(*e));
				char text[1024];

				if (engine_build_entry(cfg, n, qtype, e) < 0) {
					free(e);
					continue;
				}
				struct frame_entry *f = frame_entry_build(e);

				assert_non_null(f);
				assert_null(f->slow);
				entries++;
				dname_to_str(n, text, sizeof(text));
				for (unsigned step = 0; step < 2u * f->sched_len; step++)
					for (int v = 0; v < 28; v++) {
						int edns = sizes[v % 4], dok = v / 4 % 2, form = v / 8;
						char asked[1024];
						uint8_t dns[512], a[2048], b[2048];
						struct frame_query q;

						for (size_t i = 0; text[i] && i + 1 < sizeof(asked); i++)
							asked[i] = form == 1   ? (char)toupper(text[i])
								   : form == 2 ? (char)(i % 2 ? toupper(text[i])
											      : text[i])
									       : text[i];
						asked[strlen(text)] = '\0';
						size_t dl = fu_dns_query(dns, (uint16_t)step, asked, qtype,
									 edns, edns && dok);
						size_t fl = fu_frame(a, (v + step) % 2, dns, dl, 40000);

						if (v >= 24)
							fl = add_vlan(a, fl);
						memcpy(b, a, fl);
						assert_int_equal(frame_parse(a, fl, &addrs, &q), FRAME_HIT);
						assert_true(frame_entry_matches(f, &q));
						int la = frame_respond(a, sizeof(a), &q, e,
								       step % f->sched_len, 0);
						int lb = frame_answer(b, sizeof(b), &q, f,
								      step % f->sched_len);

						assert_int_equal(la, lb);
						if (la > 0) {
							assert_memory_equal(a, b, (size_t)la);
							assert_true(fu_checksums_ok(b, (size_t)lb));
						}
						compared++;
					}
				free(f);
				free(e);
			}
	printf("%u entries, %u replies compared\n", entries, compared);
	assert_true(entries >= 8);
	config_free(cfg);
}

/* An entry that expires (a promoted cache answer) is not prebuilt: its
 * TTLs count down, so it is assembled per hit. */
static void test_expiring_entry_assembled(void **state)
{
	struct config *cfg = fu_load_bundled();
	struct entry *e = build(cfg, "www.example.test", TYPE_A);

	(void)state;
	e->expires = 2000000000;
	struct frame_entry *f = frame_entry_build(e);

	assert_non_null(f);
	assert_non_null(f->slow);
	assert_memory_equal(f->slow, e, sizeof(*e));
	free(f);
	free(e);
	config_free(cfg);
}

/* A query with an OPT carrying `opts` (raw option bytes): the fast path
 * answers it exactly as carouseld does, or punts it to carouseld. */
/* cookies: carouseld's `cookies:` on, with a fixed secret (and a previous
 * one), the query from fu_client_ip4 */
static const uint8_t test_secret[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t test_previous[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

static void check_options_with(const char *name, const char *what, const uint8_t *opts,
			       size_t olen, bool cookies)
{
	struct config *cfg = fu_load_bundled();
	struct entry *e = build(cfg, name, TYPE_A);
	struct frame_entry *f = frame_entry_build(e);
	struct frame_addrs addrs = fu_addrs();
	uint8_t dns[512], frame[2048], sock[WIRE_TCP_MAX];
	size_t dl = fu_dns_query(dns, 0x4242, name, TYPE_A, 1232, false), sl = 0, fl = 0;
	struct frame_query q;
	struct engine_result r;
	struct fp_cookies k = {.enable = cookies, .has_previous = true};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	enum frame_verdict v = FRAME_HIT;
	int len = 0;

	memcpy(&sin.sin_addr, fu_client_ip4, 4);
	memcpy(k.secret, test_secret, 16);
	memcpy(k.previous, test_previous, 16);
	cfg->cookies.enable = cookies;
	cfg->cookies.has_previous = true;
	memcpy(cfg->cookies.secret, test_secret, 16);
	memcpy(cfg->cookies.previous, test_previous, 16);
	/* the options go into the OPT's RDATA, the last bytes of the query */
	memcpy(dns + dl, opts, olen);
	wire_write16(dns + dl - 2, (uint16_t)olen);
	dl += olen;
	/* carouseld's server cookie carries its clock's second: retry across
	 * a second's boundary */
	for (int tries = 0; tries < 3; tries++) {
		uint32_t now = (uint32_t)time(NULL);

		sl = engine_answer(cfg,
				   &(struct engine_ctx){.worker = 0,
							.client = (struct sockaddr *)&sin},
				   dns, dl, sock, sizeof(sock), false, &r);
		fl = fu_frame(frame, false, dns, dl, 40000);
		v = frame_parse(frame, fl, &addrs, &q);
		if (v != FRAME_HIT)
			break;
		len = frame_options(&q, frame, &k, now);
		if (len == 0)
			len = frame_answer(frame, sizeof(frame), &q, f, 0);
		if (now == (uint32_t)time(NULL))
			break;
	}
	if (v == FRAME_HIT && len < 0)
		v = (enum frame_verdict)(-len);
	if (v == FRAME_HIT && ((size_t)len - q.dns_off != sl ||
			       memcmp(frame + q.dns_off, sock, sl) != 0))
		fail_msg("%s: the fast path answered, not as carouseld does", what);
	printf("%s: %s\n", what, v == FRAME_HIT ? "answered, as carouseld" : "punted");
	if (v == FRAME_HIT && q.ecs_len) {
		/* the assembled answer echoes it too, at every step */
		for (unsigned step = 0; step < f->sched_len; step++) {
			uint8_t a[2048], b[2048];
			struct frame_query qa;

			fl = fu_frame(a, step & 1, dns, dl, 40000);
			memcpy(b, a, fl);
			assert_int_equal(frame_parse(a, fl, &addrs, &qa), FRAME_HIT);
			assert_int_equal(frame_options(&qa, a, NULL, 0), 0);
			int la = frame_respond(a, sizeof(a), &qa, e, step, 0);
			int lb = frame_answer(b, sizeof(b), &qa, f, step);

			assert_int_equal(la, lb);
			assert_memory_equal(a, b, (size_t)la);
			assert_true(fu_checksums_ok(b, (size_t)lb));
		}
	}
	free(f);
	free(e);
	config_free(cfg);
}

static void check_options_for(const char *name, const char *what, const uint8_t *opts,
			      size_t olen)
{
	check_options_with(name, what, opts, olen, false);
}

static void check_options(const char *what, const uint8_t *opts, size_t olen)
{
	check_options_for("www.example.test", what, opts, olen);
}

/* A COOKIE option: client cookie, then server cookie bytes. */
static size_t cookie_opt(uint8_t *o, const uint8_t *server, size_t slen)
{
	static const uint8_t client[8] = {0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8};

	wire_write16(o, 10);
	wire_write16(o + 2, (uint16_t)(8 + slen));
	memcpy(o + 4, client, 8);
	if (slen)
		memcpy(o + 12, server, slen);
	return 12 + slen;
}

/* cookies on: the fast path answers every cookie case as carouseld does */
static void test_cookies(void **state)
{
	static const uint8_t client[8] = {0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8};
	static const uint8_t ecs4[] = {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
	uint8_t o[64], server[16], junk[16] = {1, 0, 0, 0, 0x60, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9};
	uint32_t now = (uint32_t)time(NULL);
	size_t n;

	(void)state;
	n = cookie_opt(o, NULL, 0);
	check_options_with("www.example.test", "client cookie only", o, n, true);
	check_options_with("shop.example.test", "client cookie only, odd offsets", o, n, true);
	cookie_make(test_secret, client, fu_client_ip4, 4, now - 10, server);
	n = cookie_opt(o, server, 16);
	check_options_with("www.example.test", "a valid server cookie: echoed", o, n, true);
	cookie_make(test_secret, client, fu_client_ip4, 4, now - 2000, server);
	n = cookie_opt(o, server, 16);
	check_options_with("www.example.test", "a worn server cookie: renewed", o, n, true);
	cookie_make(test_previous, client, fu_client_ip4, 4, now - 10, server);
	n = cookie_opt(o, server, 16);
	check_options_with("www.example.test", "the previous secret's: renewed", o, n, true);
	n = cookie_opt(o, junk, 16);
	check_options_with("www.example.test", "a bad server cookie: a new one", o, n, true);
	n = cookie_opt(o, junk, 5);
	check_options_with("www.example.test", "a server cookie of 5 bytes (FORMERR)", o, n, true);
	n = cookie_opt(o, NULL, 0);
	memcpy(o + n, ecs4, sizeof(ecs4));
	check_options_with("www.example.test", "cookie and ECS", o, n + sizeof(ecs4), true);
}

static void test_edns_options(void **state)
{
	static const uint8_t ecs4[] = {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
	static const uint8_t ecs_bad[] = {0, 8, 0, 7, 0, 1, 16, 0, 198, 51, 100};
	static const uint8_t pad[] = {0, 12, 0, 4, 0, 0, 0, 0};
	static const uint8_t nsid[] = {0, 3, 0, 0};
	static const uint8_t unknown[] = {0xfd, 0xe9, 0, 2, 1, 2};
	static const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t cookie_bad[] = {0, 10, 0, 5, 1, 2, 3, 4, 5};
	static const uint8_t two[] = {0, 12, 0, 0, 0xfd, 0xe9, 0, 0};
	static const uint8_t ecs6[] = {0, 8, 0, 11, 0, 2, 56, 0, 0x20, 1, 0xd, 0xb8, 0, 0, 0x12};
	static const uint8_t ecs0[] = {0, 8, 0, 4, 0, 1, 0, 0};
	static const uint8_t ecs_scope[] = {0, 8, 0, 7, 0, 1, 24, 8, 198, 51, 100};
	static const uint8_t ecs_twice[] = {0, 8, 0, 4, 0, 1, 0, 0, 0, 8, 0, 4, 0, 1, 0, 0};
	static const uint8_t cookies2[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
					   0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t ecs_pad[] = {0, 12, 0, 2, 0, 0, 0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};

	(void)state;
	check_options("ECS IPv4 /24", ecs4, sizeof(ecs4));
	check_options("ECS with more address than its prefix", ecs_bad, sizeof(ecs_bad));
	check_options("padding", pad, sizeof(pad));
	check_options("NSID", nsid, sizeof(nsid));
	check_options("an unknown option", unknown, sizeof(unknown));
	check_options("COOKIE, client only (cookies off)", cookie, sizeof(cookie));
	check_options("COOKIE of a bad length", cookie_bad, sizeof(cookie_bad));
	check_options("two options", two, sizeof(two));
	check_options("ECS IPv6 /56", ecs6, sizeof(ecs6));
	check_options("ECS /0", ecs0, sizeof(ecs0));
	check_options("ECS with a scope (FORMERR)", ecs_scope, sizeof(ecs_scope));
	check_options("two ECS (FORMERR)", ecs_twice, sizeof(ecs_twice));
	check_options("two COOKIEs (FORMERR)", cookies2, sizeof(cookies2));
	check_options("padding, then ECS at the end", ecs_pad, sizeof(ecs_pad));
	/* a name of odd length: the answer and the OPT start at odd offsets */
	check_options_for("shop.example.test", "ECS IPv4 /24, odd offsets", ecs4, sizeof(ecs4));
	check_options_for("shop.example.test", "ECS IPv6 /56, odd offsets", ecs6, sizeof(ecs6));
}


/* Topology pools (frame_util.h fu_topology): for each client, with and
 * without ECS, at every step, the fast path's reply (prebuilt and
 * assembled) equals carouseld's byte for byte, ECS SCOPE included. */
static void check_topology(const char *what, bool v6, const uint8_t *ecs, size_t ecs_len,
			   const char *want_first)
{
	struct config *pub = fu_load_pools(fu_topology_pools), *ref = fu_load_pools(fu_topology_pools);
	struct entry *e;
	struct frame_entry *f;
	struct frame_addrs addrs = fu_addrs();
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};

	assert_non_null(pub);
	assert_non_null(ref);
	e = build(pub, "near.example.test", TYPE_A);
	assert_true(e->ngroups > 1);
	f = frame_entry_build(e);
	assert_non_null(f);
	assert_null(f->slow);
	assert_non_null(f->topo);
	memcpy(&sin.sin_addr, fu_client_ip4, 4);
	memcpy(&sin6.sin6_addr, fu_client_ip6, 16);
	for (unsigned step = 0; step < 7; step++) {
		uint8_t dns[512], a[2048], b[2048];
		size_t dl = fu_dns_query(dns, (uint16_t)(0x700 + step), "near.example.test", TYPE_A,
					 ecs ? 1232 : 0, false);
		struct frame_query qa, qb;

		if (ecs) {
			memcpy(dns + dl, ecs, ecs_len);
			wire_write16(dns + dl - 2, (uint16_t)ecs_len);
			dl += ecs_len;
		}
		size_t fl = fu_frame(a, v6, dns, dl, 40000);

		memcpy(b, a, fl);
		assert_int_equal(frame_parse(a, fl, &addrs, &qa), FRAME_HIT);
		assert_int_equal(frame_parse(b, fl, &addrs, &qb), FRAME_HIT);
		frame_topology(&qa, a, f->topo->t, f->topo->ntopo);
		frame_topology(&qb, b, e->topo, e->ntopo);
		assert_int_equal(qa.group, qb.group);
		assert_int_equal(frame_options(&qa, a, NULL, 0), 0);
		assert_int_equal(frame_options(&qb, b, NULL, 0), 0);
		int la = frame_answer(a, sizeof(a), &qa, f, step % f->sched_len);
		int lb = frame_respond(b, sizeof(b), &qb, e, step, 0);

		assert_true(la > 0);
		printf("%s, step %u\n", what, step);
		fu_assert_socket_answer(ref, v6 ? (struct sockaddr *)&sin6 : (struct sockaddr *)&sin,
					dns, dl, a, (size_t)la, 40000);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, (size_t)la);
		if (step == 0) {
			/* the first member address in the reply (after the CNAME) */
			char got[INET_ADDRSTRLEN] = "none";

			for (size_t at = qa.dns_off + qa.question_end; at + 4 <= (size_t)la; at++)
				if (a[at] == 192 && a[at + 1] == 0 && a[at + 2] == 2 &&
				    a[at + 3] / 10 == 3) {
					inet_ntop(AF_INET, a + at, got, sizeof(got));
					break;
				}
			assert_string_equal(got, want_first);
		}
	}
	printf("%s: answered, as carouseld\n", what);
	free(f);
	free(e);
	config_free(pub);
	config_free(ref);
}

static void test_topology(void **state)
{
	(void)state;
	for (unsigned i = 0; i < sizeof(fu_topology) / sizeof(fu_topology[0]); i++) {
		const struct fu_topology_case *c = &fu_topology[i];

		check_topology(c->what, c->v6, c->ecs_len ? c->ecs : NULL, c->ecs_len, c->first);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alias_v4),
		cmocka_unit_test(test_alias_v4_edns),
		cmocka_unit_test(test_alias_v6),
		cmocka_unit_test(test_weighted),
		cmocka_unit_test(test_nodata_entry),
		cmocka_unit_test(test_ttl_left),
		cmocka_unit_test(test_punt_reasons),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_checksum_reference),
		cmocka_unit_test(test_prebuilt_same_as_assembled),
		cmocka_unit_test(test_expiring_entry_assembled),
		cmocka_unit_test(test_edns_options),
		cmocka_unit_test(test_cookies),
		cmocka_unit_test(test_topology),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
