/* fuzz_wire.c -- any bytes as a query: the parser, then the whole answer
 * engine on the bundled config (UDP and TCP sizes); any bytes as a
 * response: the RR reader over every section. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "../unit/frame_util.h"
#include "engine.h"
#include "wire.h"

static struct config *cfg;
static struct wire_rr rr;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	cfg = fu_load_bundled();
	if (!cfg)
		abort();
	cfg->cookies.enable = true; /* COOKIE options are parsed and answered too */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static uint8_t out[WIRE_TCP_MAX];
	struct wire_query q;
	struct engine_result r;
	struct sockaddr_in client = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	struct engine_ctx ctx = {.worker = 0, .client = (struct sockaddr *)&client};

	wire_query_parse(data, len, &q);
	for (int tcp = 0; tcp < 2; tcp++) {
		size_t n = engine_answer(cfg, &ctx, data, len, out, tcp ? sizeof(out) : WIRE_EDNS_UDP,
					 tcp, &r);

		if (n > (tcp ? sizeof(out) : WIRE_EDNS_UDP))
			abort();
		if (n > 0 && !tcp && n > 512 && !(len > 11 && (data[11] || data[10])))
			abort(); /* without EDNS a UDP reply stays within 512 */
	}
	size_t pos = WIRE_HDR_LEN;

	if (len >= WIRE_HDR_LEN &&
	    wire_skip_question(data, len, &pos, wire_read16(data + 4) & 7) == CAR_EOK)
		for (int i = 0; i < 64 && pos < len; i++)
			if (wire_rr_read(data, len, &pos, &rr) != CAR_EOK)
				break;
	return 0;
}
