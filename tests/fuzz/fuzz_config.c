/* fuzz_config.c -- any bytes as a config file (and, for fuzz_zone, as a
 * zone file under a config with a pool and aliases): the loader either
 * returns a config or a file:line:col error, never crashes or leaks; and
 * the entries of pool names (looked up at load time) and of aliases
 * (built from their pool name's answer) equal the engine's own. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "wire.h"

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char path[128], err[CFG_ERR_LEN];

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/carousel-fuzz-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		/* a zone the configs may name */
		snprintf(path, sizeof(path), "%s/z.zone", dir);
		FILE *z = fopen(path, "w");

		fputs("$ORIGIN example.test.\n@ 300 SOA ns hm 1 2 3 4 5\n@ 300 NS ns\nns 300 A "
		      "192.0.2.1\n",
		      z);
		fclose(z);
	}
#ifdef FUZZ_ZONE
	snprintf(path, sizeof(path), "%s/f.zone", dir);
	FILE *f = fopen(path, "w");

	fwrite(data, 1, len, f);
	fclose(f);
	char yaml[512];

	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	snprintf(yaml, sizeof(yaml),
		 "server:\n  listen: [127.0.0.1@53]\nzones:\n  - {name: example.test., file: f.zone}\n"
		 "pools:\n  - {name: www.example.test., aliases: [a.example.test., c.d.example.test.,"
		 " x.www.example.test.],\n     members: [{address: 192.0.2.7},"
		 " {address: \"2001:db8::7\"}]}\n"
		 "  - {name: w2.example.test., aliases: [b.sub.example.test.],"
		 " members: [{address: 192.0.2.8}]}\n");
	f = fopen(path, "w");
	fputs(yaml, f);
	fclose(f);
#else
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	FILE *f = fopen(path, "w");

	fwrite(data, 1, len, f);
	fclose(f);
#endif
	struct config *cfg = config_load(path, err, sizeof(err));

	if (!cfg && strncmp(err, path, strlen(path)) != 0 && strstr(err, "f.zone") == NULL)
		abort(); /* every error names the file */
	if (cfg) { /* the entry builders on whatever pools the input made */
		static struct entry e, ref;
		static struct engine_alias_base base;

		for (unsigned i = 0; i < cfg->npools; i++)
			for (int t = 0; t < 2; t++) {
				const struct pool *p = cfg->pools[i];
				uint16_t qtype = t ? TYPE_AAAA : TYPE_A;

				int prc = engine_build_pool_entry(cfg, p, p->name, qtype, &e, &base);

				if (prc != engine_build_entry(cfg, p->name, qtype, &ref) ||
				    (prc == 0 && entry_fingerprint(&e) != entry_fingerprint(&ref)))
					abort(); /* a pool name answered otherwise than the engine */
				for (unsigned j = 0; j < p->naliases; j++) {
					int want = engine_build_entry(cfg, p->aliases[j], qtype, &ref);
					int got = engine_build_alias_entry(&base, p->aliases[j], &e);

					if ((base.ok && got != want) ||
					    (got == 0 &&
					     (entry_fingerprint(&e) != entry_fingerprint(&ref) ||
					      e.head_len != ref.head_len ||
					      memcmp(e.bytes, ref.bytes,
						     (size_t)ref.head_len + (size_t)ref.rr_count * ref.rr_len +
							 ref.tail_len) != 0)))
						abort(); /* an alias answered otherwise than the engine */
				}
			}
	}
	config_free(cfg);
	return 0;
}
