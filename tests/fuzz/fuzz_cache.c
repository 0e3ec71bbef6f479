/* fuzz_cache.c -- any bytes as a sequence of cache operations (insert,
 * lookup, flush, reclaim): the byte budget always holds, lookups only
 * return what matches. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "wire.h"

static uint64_t worker_qs(void *arg, unsigned worker)
{
	(void)arg;
	(void)worker;
	return 0; /* one worker, always quiescent */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct cache_hooks hooks = {.worker_qs = worker_qs};
	struct cache *c = cache_create(1 << 20, 1, &hooks);

	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint8_t op = data[i] & 3, n = data[i + 1] & 31, t = data[i + 2] & 1;
		uint8_t name[8] = {1, (uint8_t)('a' + n), 4, 't', 'e', 's', 't', 0};
		uint16_t qtype = t ? TYPE_AAAA : TYPE_A;

		if (op == 0) {
			size_t blob = (size_t)data[i + 3] * 64;
			struct centry *e = calloc(1, sizeof(*e) + blob);

			memcpy(e->name, name, 8);
			e->name_len = 8;
			e->qtype = qtype;
			e->qclass = CLASS_IN;
			e->digest = entry_digest(name, 8, qtype, CLASS_IN);
			e->expires = 100;
			e->ede = 0xffff;
			e->blob_len = (uint32_t)blob;
			e->bytes = (uint32_t)(sizeof(*e) + blob);
			cache_insert(c, e);
		} else if (op == 1) {
			const struct centry *e = cache_lookup(c, 0, name, 8, qtype, CLASS_IN, 1);

			if (e && (e->qtype != qtype || memcmp(e->name, name, 8) != 0))
				abort();
		} else if (op == 2) {
			cache_flush(c, data[i + 3] & 1 ? name : NULL);
		} else {
			cache_reclaim(c);
		}
		if (c->used_bytes > c->max_bytes)
			abort();
	}
	cache_destroy(c);
	return 0;
}
