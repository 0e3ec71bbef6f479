/* test_zone.c -- zone data and its lookup (control/zone.c, and the RFC
 * 1034 4.3.2 walk over it in control/engine.c) on a zone made for the
 * hard cases: empty non-terminals exist as nodes and answer NODATA, and
 * stop a wildcard above them (RFC 4592 2.2.1); a wildcard answers any
 * depth below its closest encloser, by type (NODATA for a type it lacks),
 * with the query's name as owner, and never for a name that exists;
 * a delegation answers everything at and below its cut with a referral
 * (glue in additional, no AA), occluding data and wildcards below it,
 * but DS at the cut from the parent side; names are matched without case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "frame_util.h"
#include "wire.h"
#include "zone.h"

#define TYPE_DS 43 /* RFC 4034 5 */

static char dir[64];
static struct config *cfg;

static const char zone_text[] =
	"$ORIGIN zt.example.\n"
	"$TTL 600\n"
	"@        SOA  ns.zt.example. hostmaster.zt.example. 1 7200 3600 1209600 120\n"
	"@        NS   ns.zt.example.\n"
	"ns       A    192.0.2.1\n"
	/* a wildcard, a name that exists beside it, an ENT below its parent */
	"*.w      A    192.0.2.10\n"
	"*.w      TXT  \"wild\"\n"
	"x.w      TXT  \"x\"\n"
	"host.b.w A    192.0.2.11\n"
	/* ENTs: y, x.y, e.x.y (and the RRset's lowest TTL wins, RFC 2181 5.2) */
	"Deep.E.x.Y 300 A 192.0.2.20\n"
	"deep.e.x.y 100 A 192.0.2.21\n"
	/* a delegation with glue, data and a wildcard below it (occluded) */
	"sub      NS   ns.sub.zt.example.\n"
	"ns.sub   A    192.0.2.53\n"
	"*.sub    A    192.0.2.99\n"
	"in.sub   TXT  \"occluded\"\n"
	/* a wildcard CNAME: the chain restarts at its target */
	"*.c      CNAME ns.zt.example.\n";

static int setup(void **state)
{
	char path[128], err[CFG_ERR_LEN];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/carousel-zone-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/zt.zone", dir);
	f = fopen(path, "w");
	fputs(zone_text, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	f = fopen(path, "w");
	fputs("server:\n  listen: [127.0.0.1@5353]\n"
	      "zones:\n  - {name: zt.example., file: zt.zone}\n", f);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	if (!cfg)
		fprintf(stderr, "%s\n", err);
	return cfg ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	config_free(cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static const struct node *find(const char *text)
{
	uint8_t n[DNAME_MAXLEN];
	int len = dname_from_str(text, n, sizeof(n));

	assert_true(len > 0);
	dname_lower(n);
	return zone_find(config_find_zone(cfg, n), n, (size_t)len);
}

/* One answer, as a client sees it. */
struct reply {
	unsigned rcode;
	bool aa;
	uint16_t an, ns, ar;
	uint16_t type[8]; /* of every record, in order */
	uint32_t ttl[8];
	uint8_t owner[8][DNAME_MAXLEN]; /* lower case */
	const uint8_t *rdata[8];
	uint8_t msg[WIRE_EDNS_UDP];
};

static void ask(const char *name, uint16_t qtype, struct reply *r)
{
	uint8_t q[512], qname[DNAME_MAXLEN];
	struct engine_result res;
	size_t qlen = fu_dns_query(q, 0x5a5a, name, qtype, 0, false);
	size_t len = engine_answer(cfg, &(struct engine_ctx){.worker = 0}, q, qlen, r->msg,
				   sizeof(r->msg), false, &res);
	size_t pos = WIRE_HDR_LEN;

	assert_true(len > WIRE_HDR_LEN);
	r->rcode = r->msg[3] & 0xf;
	r->aa = wire_read16(r->msg + 2) & WIRE_AA;
	r->an = wire_read16(r->msg + 6);
	r->ns = wire_read16(r->msg + 8);
	r->ar = wire_read16(r->msg + 10);
	assert_true(r->an + r->ns + r->ar <= 8);
	assert_true(wire_name_read(r->msg, len, &pos, qname) > 0);
	pos += 4;
	for (unsigned i = 0; i < (unsigned)(r->an + r->ns + r->ar); i++) {
		assert_true(wire_name_read(r->msg, len, &pos, r->owner[i]) > 0);
		dname_lower(r->owner[i]);
		assert_true(pos + 10 <= len);
		r->type[i] = wire_read16(r->msg + pos);
		r->ttl[i] = wire_read32(r->msg + pos + 4);
		r->rdata[i] = r->msg + pos + 10;
		pos += 10 + wire_read16(r->msg + pos + 8);
		assert_true(pos <= len);
	}
	assert_int_equal(pos, len);
}

static void assert_owner(const struct reply *r, unsigned i, const char *text)
{
	uint8_t n[DNAME_MAXLEN];

	assert_true(dname_from_str(text, n, sizeof(n)) > 0);
	dname_lower(n);
	assert_memory_equal(r->owner[i], n, dname_len(n));
}

/* NODATA or NXDOMAIN: nothing in answer, the SOA at the negative TTL. */
static void assert_negative(const struct reply *r, unsigned rcode)
{
	assert_int_equal(r->rcode, rcode);
	assert_true(r->aa);
	assert_int_equal(r->an, 0);
	assert_int_equal(r->ns, 1);
	assert_int_equal(r->type[0], TYPE_SOA);
	assert_int_equal(r->ttl[0], 120); /* min(SOA TTL 600, MINIMUM 120), RFC 2308 5 */
}

static void test_nodes(void **state)
{
	const struct node *n;

	(void)state;
	/* every ancestor up to the apex is a node: ENTs hold no RRsets */
	static const char *const ents[] = {"y.zt.example", "x.y.zt.example", "e.x.y.zt.example",
					   "b.w.zt.example", "w.zt.example"};

	for (unsigned i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		n = find(ents[i]);
		assert_non_null(n);
		assert_null(n->rrsets);
	}
	assert_null(find("nothing.y.zt.example"));
	/* owners are kept lower case; two owners that differ in case are one */
	n = find("DEEP.e.x.y.zt.example");
	assert_non_null(n);
	const struct rrset *a = node_rrset(n, TYPE_A);

	assert_non_null(a);
	assert_int_equal(a->count, 2);
	assert_int_equal(a->ttl, 100); /* the lowest TTL of the RRset */
	assert_null(node_rrset(n, TYPE_AAAA));
	/* the wildcard is a node like any other, its label a literal '*' */
	n = find("*.w.zt.example");
	assert_non_null(n);
	assert_non_null(node_rrset(n, TYPE_TXT));
	assert_int_equal(zone_negative_ttl(config_find_zone(cfg, n->name)), 120);
}

static void test_empty_non_terminals(void **state)
{
	struct reply r;

	(void)state;
	ask("x.y.zt.example", TYPE_A, &r);
	assert_negative(&r, RCODE_NOERROR); /* NODATA, not NXDOMAIN */
	ask("Y.zt.example", TYPE_TXT, &r);
	assert_negative(&r, RCODE_NOERROR);
	ask("nothing.x.y.zt.example", TYPE_A, &r);
	assert_negative(&r, RCODE_NXDOMAIN);
	ask("deep.e.x.y.zt.example", TYPE_A, &r);
	assert_int_equal(r.rcode, RCODE_NOERROR);
	assert_int_equal(r.an, 2);
	assert_int_equal(r.ttl[0], 100);
	assert_int_equal(r.ttl[1], 100);
}

static void test_wildcards(void **state)
{
	struct reply r;

	(void)state;
	/* synthesised: owner is the query's name, by type */
	ask("q.w.zt.example", TYPE_A, &r);
	assert_int_equal(r.rcode, RCODE_NOERROR);
	assert_true(r.aa);
	assert_int_equal(r.an, 1);
	assert_int_equal(r.type[0], TYPE_A);
	assert_owner(&r, 0, "q.w.zt.example");
	assert_memory_equal(r.rdata[0], ((uint8_t[]){192, 0, 2, 10}), 4);
	ask("q.w.zt.example", TYPE_TXT, &r);
	assert_int_equal(r.an, 1);
	assert_int_equal(r.type[0], TYPE_TXT);
	/* a type the wildcard lacks: NODATA */
	ask("q.w.zt.example", TYPE_MX, &r);
	assert_negative(&r, RCODE_NOERROR);
	/* any depth below the closest encloser (RFC 4592 3.3.1) */
	ask("a.b.c.w.zt.example", TYPE_A, &r);
	assert_int_equal(r.an, 1);
	assert_owner(&r, 0, "a.b.c.w.zt.example");
	/* a name that exists is never synthesised: x.w has TXT, not A */
	ask("x.w.zt.example", TYPE_A, &r);
	assert_negative(&r, RCODE_NOERROR);
	ask("x.w.zt.example", TYPE_TXT, &r);
	assert_int_equal(r.an, 1);
	assert_int_equal(r.rdata[0][1], 'x');
	/* an empty non-terminal below the wildcard's parent is the closest
	 * encloser: *.b.w does not exist, so NXDOMAIN (RFC 4592 2.2.1) */
	ask("other.b.w.zt.example", TYPE_A, &r);
	assert_negative(&r, RCODE_NXDOMAIN);
	/* the wildcard asked for by its own name */
	ask("*.w.zt.example", TYPE_A, &r);
	assert_int_equal(r.an, 1);
	assert_owner(&r, 0, "*.w.zt.example");
	/* a wildcard CNAME: the chain restarts at its target */
	ask("any.c.zt.example", TYPE_A, &r);
	assert_int_equal(r.an, 2);
	assert_int_equal(r.type[0], TYPE_CNAME);
	assert_owner(&r, 0, "any.c.zt.example");
	assert_int_equal(r.type[1], TYPE_A);
	assert_owner(&r, 1, "ns.zt.example");
}

static void test_delegations(void **state)
{
	struct reply r;

	(void)state;
	/* at, below, and at the glue of the cut: a referral, glue in additional */
	static const char *const below[] = {"sub.zt.example", "a.b.sub.zt.example",
					    "ns.sub.zt.example", "in.sub.zt.example",
					    "wild.sub.zt.example"};

	for (unsigned i = 0; i < sizeof(below) / sizeof(below[0]); i++) {
		ask(below[i], TYPE_A, &r);
		assert_int_equal(r.rcode, RCODE_NOERROR);
		assert_false(r.aa);
		assert_int_equal(r.an, 0);
		assert_int_equal(r.ns, 1);
		assert_int_equal(r.type[0], TYPE_NS);
		assert_owner(&r, 0, "sub.zt.example");
		assert_int_equal(r.ar, 1);
		assert_int_equal(r.type[1], TYPE_A);
		assert_owner(&r, 1, "ns.sub.zt.example");
	}
	/* occluded data below the cut is never answered, whatever the type */
	ask("in.sub.zt.example", TYPE_TXT, &r);
	assert_false(r.aa);
	assert_int_equal(r.type[0], TYPE_NS);
	/* DS belongs to the parent side of the cut (RFC 4035 3.1.4.1): we hold
	 * none, so NODATA from the parent zone, authoritative */
	ask("sub.zt.example", TYPE_DS, &r);
	assert_negative(&r, RCODE_NOERROR);
	/* the apex's own NS is an answer, not a referral */
	ask("zt.example", TYPE_NS, &r);
	assert_true(r.aa);
	assert_int_equal(r.an, 1);
	assert_int_equal(r.type[0], TYPE_NS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nodes),
		cmocka_unit_test(test_empty_non_terminals),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_delegations),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
