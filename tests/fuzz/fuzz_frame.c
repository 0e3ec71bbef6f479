/* fuzz_frame.c -- any bytes as a frame on the wire: the fast-path parser,
 * then, on a hit for a published entry, the in-place reply, which must
 * fit the buffer and carry valid checksums; and the prebuilt variant's
 * reply (frame_answer) must equal the assembled one (frame_respond) byte
 * for byte: a differential target, old builder against prebuilt. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/frame_util.h"
#include "engine.h"

static struct entry *entries[64];
static struct frame_entry *prebuilt[64];
static unsigned nentries;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct config *cfg = fu_load_bundled();

	if (!cfg)
		abort();
	for (unsigned i = 0; i < cfg->npools; i++)
		for (unsigned j = 0; j <= cfg->pools[i]->naliases; j++)
			for (int t = 0; t < 2 && nentries < 64; t++) {
				struct entry *e = aligned_alloc(64, sizeof(*e));
				const uint8_t *n = j ? cfg->pools[i]->aliases[j - 1] : cfg->pools[i]->name;

				if (engine_build_entry(cfg, n, t ? TYPE_AAAA : TYPE_A, e) == 0) {
					prebuilt[nentries] = frame_entry_build(e);
					if (!prebuilt[nentries] || prebuilt[nentries]->slow)
						abort();
					entries[nentries++] = e;
				} else {
					free(e);
				}
			}
	config_free(cfg);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static uint8_t f[2048], g[2048];
	struct frame_addrs a = fu_addrs();
	struct frame_query q;

	if (len > 1500)
		return 0;
	memcpy(f, data, len);
	/* cookies on: every option is made and checked */
	static const struct fp_cookies k = {.enable = true, .has_previous = true,
					    .secret = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
					    .previous = {7}};

	if (frame_parse(f, len, &a, &q) != FRAME_HIT || frame_options(&q, f, &k, 1700000000) < 0)
		return 0;
	memcpy(g, f, len);
	for (unsigned i = 0; i < nentries; i++) {
		if (entries[i]->digest != q.digest ||
		    !entry_matches(entries[i], q.name, q.name_len, q.qtype, q.qclass))
			continue;
		if (!frame_entry_matches(prebuilt[i], &q))
			abort();
		unsigned step = (unsigned)(len % prebuilt[i]->sched_len);
		int n = frame_respond(f, sizeof(f), &q, entries[i], step, 0);
		int m = frame_answer(g, sizeof(g), &q, prebuilt[i], step);

		if (n > (int)sizeof(f) || (n > 0 && !fu_checksums_ok(f, (size_t)n)))
			abort();
		if (n != m || (n > 0 && memcmp(f, g, (size_t)n) != 0))
			abort();
		break;
	}
	return 0;
}
