/* fuzz_backend.c -- any bytes as a backend server's reply to the question
 * www.corp.example. TXT (the first byte picks the client: UDP without
 * EDNS, UDP with EDNS and DO, or TCP): the reply is taken whole or
 * refused, and an entry made from it answers the client within the
 * client's limit, never reading or writing past a buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "config.h"
#include "engine.h"
#include "wire.h"

static struct config *cfg;

static struct config *load(void)
{
	char dir[] = "/tmp/carousel-fuzz-XXXXXX", path[64], err[CFG_ERR_LEN];

	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	FILE *f = fopen(path, "w");

	fputs("server:\n  listen: [127.0.0.1@53]\nbackends:\n  - name: corp\n"
	      "    domains: [corp.example.]\n    servers: [127.0.0.1]\n"
	      "    cache: {min-ttl: 1, max-ttl: 1h}\n",
	      f);
	fclose(f);
	struct config *c = config_load(path, err, sizeof(err));

	unlink(path);
	rmdir(dir);
	if (!c)
		abort();
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const uint8_t qname[] = "\3www\4corp\7example";
	uint8_t query[64], out[WIRE_TCP_MAX];
	size_t ql = WIRE_HDR_LEN, nl = sizeof(qname); /* with the root's 0 */
	bool cacheable;

	if (len < 1)
		return 0;
	if (!cfg)
		cfg = load();
	unsigned mode = data[0] % 3; /* 0 UDP, 1 UDP+EDNS+DO, 2 TCP */

	memset(query, 0, sizeof(query));
	wire_write16(query, 0x4242);
	wire_write16(query + 2, WIRE_RD);
	wire_write16(query + 4, 1);
	wire_write16(query + 10, mode == 1);
	memcpy(query + ql, qname, nl);
	ql += nl;
	wire_write16(query + ql, TYPE_TXT);
	wire_write16(query + ql + 2, CLASS_IN);
	ql += 4;
	if (mode == 1) {
		query[ql] = 0;
		wire_write16(query + ql + 1, TYPE_OPT);
		wire_write16(query + ql + 3, 1232);
		wire_write32(query + ql + 5, WIRE_EDNS_DO);
		wire_write16(query + ql + 9, 0);
		ql += WIRE_OPT_RR_LEN;
	}
	struct bentry *e = backend_entry_from_reply(data + 1, len - 1, qname, (uint8_t)nl,
						    TYPE_TXT, CLASS_IN, BK_RD, &cfg->backends[0],
						    &cacheable);

	if (!e)
		return 0;
	if (e->len > len - 1 || e->body_off > e->len)
		abort();
	for (uint32_t i = 0; i < e->nttl; i++)
		if (e->ttl_off[i] + 4u > e->len)
			abort();
	struct engine_ctx ctx = {.fwd = e};
	struct engine_result res;
	size_t n = engine_answer(cfg, &ctx, query, ql, out, mode == 2 ? WIRE_TCP_MAX : WIRE_EDNS_UDP,
				 mode == 2, &res);
	size_t limit = mode == 0 ? WIRE_UDP_MIN : mode == 1 ? 1232 : WIRE_TCP_MAX;

	if (n > limit || (n && wire_read16(out) != 0x4242) || res.forward)
		abort();
	backend_entry_put(e);
	return 0;
}
