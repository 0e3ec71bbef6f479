/* fuzz_config.c -- any bytes as a config file (and, for fuzz_zone, as a
 * zone file): the loader either returns a config or a file:line:col
 * error, never crashes or leaks. */
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
	char yaml[256];

	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	snprintf(yaml, sizeof(yaml),
		 "server:\n  listen: [127.0.0.1@53]\nzones:\n  - {name: example.test., file: f.zone}\n");
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
	if (cfg) { /* the entry builder on whatever pools the input made */
		static struct entry e;

		for (unsigned i = 0; i < cfg->npools; i++)
			for (unsigned j = 0; j <= cfg->pools[i]->naliases; j++) {
				const uint8_t *n = j ? cfg->pools[i]->aliases[j - 1] : cfg->pools[i]->name;

				engine_build_entry(cfg, n, TYPE_A, &e);
				engine_build_entry(cfg, n, TYPE_AAAA, &e);
			}
	}
	config_free(cfg);
	return 0;
}
