/* fuzz_notify.c -- any bytes as a NOTIFY (and any query) from a primary of
 * a secondary zone with a TSIG key: the engine's NOTIFY answer, the TSIG
 * reader and verifier; any bytes as the first response of a transfer to
 * the stream verifier. Never a crash or a read past the end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "engine.h"
#include "tsig.h"
#include "wire.h"

static struct config *cfg;
static struct tsig_key key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[64] = "/tmp/carousel-fuzz-notify-XXXXXX", path[128], err[CFG_ERR_LEN];

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	FILE *f = fopen(path, "w");

	if (!f)
		abort();
	fprintf(f,
		"server:\n  listen: [127.0.0.1@5353]\n"
		"keys:\n  - {name: xfr-key., algorithm: hmac-sha256, "
		"secret: Y2Fyb3VzZWwtZmxlZXQtdGVzdC1zZWNyZXQtMDEyMw==}\n"
		"zones:\n  - {name: example.net., primary: 127.0.0.1@5300, key: xfr-key., "
		"file: %s/never.zone}\n",
		dir);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	key = *cfg->fleet.secondaries[0].key;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static uint8_t out[WIRE_TCP_MAX];
	struct engine_result r;
	struct sockaddr_in client = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	struct engine_ctx ctx = {.worker = 0, .client = (struct sockaddr *)&client};
	struct tsig_stream s;
	struct tsig_rr t;
	const char *why;
	uint8_t mac[32] = {0};

	for (int tcp = 0; tcp < 2; tcp++) {
		size_t n = engine_answer(cfg, &ctx, data, len, out,
					 tcp ? sizeof(out) : WIRE_EDNS_UDP, tcp, &r);

		if (n > (tcp ? sizeof(out) : WIRE_EDNS_UDP))
			abort();
	}
	if (tsig_find(data, len, &t) == 1)
		tsig_verify_request(&key, data, len, &t, 1700000000);
	tsig_stream_init(&s, &key, mac, sizeof(mac));
	tsig_stream_next(&s, data, len, 1700000000, &why);
	tsig_stream_free(&s);
	return 0;
}
