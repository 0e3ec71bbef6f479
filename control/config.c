/* config.c -- YAML config loader: the file is read a section at a time
 * (ytree.c) and every section through its schema rows (one per key); every
 * error is reported as file:line:col, and a config is only returned whole. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool.h"
#include "wire.h"
#include "ytree.h"

struct cfg_ctx {
	struct config *cfg;
	const char *path;
	char *err;
	size_t err_len;
	char dir[PATH_MAX];
	/* pools as they are read: cfg->pools grows (malloc'd until
	 * finish_pools), with each one's on-all-down pool and where it was */
	size_t pools_cap;
	struct ynode *fallbacks;
	bool check_named; /* the backend being read has check: {name: ...} */
};

__attribute__((format(printf, 3, 4))) static int fail(struct cfg_ctx *c, const struct ynode *n,
						     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ytree_verr(c->err, c->err_len, c->path, n ? n->line : 1, n ? n->column : 1, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *scalar(const struct ynode *n)
{
	return (const char *)n->value;
}

static int want(struct cfg_ctx *c, const struct ynode *n, yaml_node_type_t type, const char *what)
{
	static const char *const names[] = {
		[YAML_SCALAR_NODE] = "a scalar",
		[YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a mapping",
	};

	if (n->type != type)
		return fail(c, n, "%s must be %s", what, names[type]);
	return 0;
}

static int get_uint(struct cfg_ctx *c, const struct ynode *n, const char *what, unsigned long min,
		    unsigned long max, unsigned long *out)
{
	char *end;

	if (want(c, n, YAML_SCALAR_NODE, what) < 0)
		return -1;
	errno = 0;
	const char *s = scalar(n);
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *s == '-' || *end != '\0' || errno)
		return fail(c, n, "%s must be a whole number, not '%s'", what, s);
	if (v < min || v > max)
		return fail(c, n, "%s must be between %lu and %lu", what, min, max);
	*out = v;
	return 0;
}

/* "30", "30s", "500ms", "2m", "1h" -> milliseconds */
static int get_duration_ms(struct cfg_ctx *c, const struct ynode *n, const char *what,
			   unsigned long *out)
{
	char *end;

	if (want(c, n, YAML_SCALAR_NODE, what) < 0)
		return -1;
	const char *s = scalar(n);

	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	unsigned long mult = 1000;

	if (end == s || *s == '-' || errno)
		return fail(c, n, "%s must be a duration like 10s or 500ms, not '%s'", what, s);
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else if (*end != '\0' && strcmp(end, "s") != 0)
		return fail(c, n, "%s must be a duration like 10s or 500ms, not '%s'", what, s);
	if (v > 86400000UL / mult)
		return fail(c, n, "%s is longer than a day", what);
	*out = v * mult;
	return 0;
}

static int get_dname(struct cfg_ctx *c, const struct ynode *n, const char *what, uint8_t *out)
{
	if (want(c, n, YAML_SCALAR_NODE, what) < 0)
		return -1;
	if (dname_from_str(scalar(n), out, DNAME_MAXLEN) < 0)
		return fail(c, n, "%s: '%s' is not a valid domain name", what, scalar(n));
	dname_lower(out);
	return 0;
}

/* ---- the schema: every key of every section is one row of a table ----
 *
 * A row names the key, its type and range, its default as a config would
 * write it, and where the value goes (an offset into the section's
 * struct). walk_section checks a mapping against the rows (unknown and
 * duplicate keys are errors at their file:line:col), reads each value by
 * its type, and tells the section which keys were given; apply_defaults
 * sets the defaults from the same rows. Only keys whose value is more than
 * a scalar of one type have a parser of their own (K_CUSTOM). The docs
 * test reads the rows (`.name = "..."`) and checks configuration.md and
 * carousel.yaml(5) against them. */

enum key_type {
	K_UINT,     /* a whole number in [min, max] */
	K_BOOL,     /* true/false, yes/no */
	K_DURATION, /* "10s", "500ms", "2m", "1h": milliseconds in [min, max], stored in .unit */
	K_SIZE,     /* "64M": bytes, 1M to 64G */
	K_TEXT,     /* a string of 1 to max bytes (max 0: any), kept in the arena */
	K_DNAME,    /* a domain name, lower-cased, into uint8_t[DNAME_MAXLEN] */
	K_CHOICE,   /* one of .choices (from index min), stored as its index */
	K_NODE,     /* read by the section after the walk (given[]) */
	K_CUSTOM,   /* .parse reads it */
};

enum key_unit { U_MS, U_S, U_US };

struct key_row {
	const char *name;
	enum key_type type;
	size_t offset; /* of the value in the section's struct */
	unsigned size; /* its width, for integers */
	unsigned long min, max;
	enum key_unit unit;
	const char *def; /* the default, as written in a config; NULL: zero */
	const char *const *choices;
	unsigned nchoices;
	/* K_CUSTOM: read v into field (the section's struct + offset) */
	int (*parse)(struct cfg_ctx *c, struct ynode *v, void *field, const char *what);
	/* K_TEXT: more to check than the length (not run on defaults) */
	int (*check)(struct cfg_ctx *c, const struct ynode *v, const char *what);
};

struct section {
	const char *name;   /* for messages about the mapping: "unknown key 'x' in server" */
	const char *prefix; /* prefix + key names a value: "server.workers", "monitor port" */
	const struct key_row *rows;
	size_t nrows;
};

#define FIELD(type, member) .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)
#define CHOICES(names) .choices = (names), .nchoices = sizeof(names) / sizeof((names)[0])
#define SECTION(var, name, prefix, rows)                                                          \
	static const struct section var = {name, prefix, rows, sizeof(rows) / sizeof((rows)[0])}
#define MAX_ROWS 24

static int get_size(struct cfg_ctx *c, const struct ynode *n, const char *what, uint64_t *out);
static int get_bool(struct cfg_ctx *c, const struct ynode *n, const char *what, bool *out);

static void store_uint(void *field, unsigned size, unsigned long long v)
{
	switch (size) {
	case 1:
		*(uint8_t *)field = (uint8_t)v;
		break;
	case 2:
		*(uint16_t *)field = (uint16_t)v;
		break;
	case 4:
		*(uint32_t *)field = (uint32_t)v;
		break;
	default:
		*(uint64_t *)field = v;
	}
}

/* "10ms", "1s", "1h": how a bound reads in a message */
static const char *ms_text(unsigned long ms, char *buf, size_t len)
{
	if (ms % 3600000 == 0 && ms)
		snprintf(buf, len, "%luh", ms / 3600000);
	else if (ms % 1000 == 0 && ms)
		snprintf(buf, len, "%lus", ms / 1000);
	else
		snprintf(buf, len, "%lums", ms);
	return buf;
}

static int read_duration(struct cfg_ctx *c, const struct key_row *r, struct ynode *v,
			 void *field, const char *what)
{
	unsigned long ms = 0, max = r->max ? r->max : 86400000UL;
	char lo[24], hi[24];

	if (get_duration_ms(c, v, what, &ms) < 0)
		return -1;
	if (ms < r->min || ms > max) {
		if (r->min && max < 86400000UL)
			return fail(c, v, "%s must be between %s and %s", what,
				    ms_text(r->min, lo, sizeof(lo)), ms_text(max, hi, sizeof(hi)));
		if (ms < r->min)
			return fail(c, v, "%s must be at least %s", what,
				    ms_text(r->min, lo, sizeof(lo)));
		return fail(c, v, "%s must be at most %s", what, ms_text(max, hi, sizeof(hi)));
	}
	store_uint(field, r->size, r->unit == U_S ? ms / 1000 : r->unit == U_US ? ms * 1000 : ms);
	return 0;
}

static int read_choice(struct cfg_ctx *c, const struct key_row *r, struct ynode *v, void *field,
		       const char *what)
{
	char list[256];
	size_t k = 0;

	if (want(c, v, YAML_SCALAR_NODE, what) < 0)
		return -1;
	for (unsigned i = (unsigned)r->min; i < r->nchoices; i++)
		if (r->choices[i] && strcmp(scalar(v), r->choices[i]) == 0) {
			store_uint(field, r->size, i);
			return 0;
		}
	for (unsigned i = (unsigned)r->min; i < r->nchoices && k < sizeof(list); i++)
		k += (size_t)snprintf(list + k, sizeof(list) - k, "%s%s",
				      i == r->min ? "" : i + 1 == r->nchoices ? " or " : ", ",
				      r->choices[i]);
	return fail(c, v, "%s must be %s, not '%s'", what, list, scalar(v));
}

/* One value by its row; field is the section's struct + the row's offset. */
static int read_value(struct cfg_ctx *c, const struct key_row *r, struct ynode *v, void *field,
		      const char *what, bool check)
{
	unsigned long u = 0;
	bool b = false;

	switch (r->type) {
	case K_UINT:
		if (get_uint(c, v, what, r->min, r->max, &u) < 0)
			return -1;
		store_uint(field, r->size, u);
		return 0;
	case K_BOOL:
		if (get_bool(c, v, what, &b) < 0)
			return -1;
		*(bool *)field = b;
		return 0;
	case K_DURATION:
		return read_duration(c, r, v, field, what);
	case K_SIZE:
		return get_size(c, v, what, field);
	case K_TEXT:
		if (want(c, v, YAML_SCALAR_NODE, what) < 0)
			return -1;
		if (r->max && (v->n == 0 || v->n > r->max))
			return fail(c, v, "%s must be 1 to %lu characters", what, r->max);
		if (check && r->check && r->check(c, v, what) < 0)
			return -1;
		*(const char **)field = arena_memdup(&c->cfg->arena, scalar(v), v->n + 1);
		return 0;
	case K_DNAME:
		return get_dname(c, v, what, field);
	case K_CHOICE:
		return read_choice(c, r, v, field, what);
	case K_NODE:
		return 0;
	case K_CUSTOM:
		return r->parse(c, v, field, what);
	}
	return -1;
}

static const char *row_what(const struct section *s, const struct key_row *r, char *buf,
			    size_t len)
{
	snprintf(buf, len, "%s%s", s->prefix, r->name);
	return buf;
}

/* The defaults of every row that has one, into obj. */
static void apply_defaults(struct cfg_ctx *c, const struct section *s, void *obj)
{
	for (const struct key_row *r = s->rows; r < s->rows + s->nrows; r++) {
		char what[64];

		if (!r->def)
			continue;
		struct ynode v = {.type = YAML_SCALAR_NODE,
				  .line = 0,
				  .value = r->def,
				  .n = (uint32_t)strlen(r->def)};

		if (read_value(c, r, &v, (char *)obj + r->offset, row_what(s, r, what, sizeof(what)),
			       false) < 0) {
			fprintf(stderr, "event=fatal reason=bad-default key=%s error=\"%s\"\n", what,
				c->err);
			abort(); /* a row's default is ours, not the user's */
		}
	}
}

/* Read a mapping into obj by the section's rows. given (if not NULL, one
 * per row) gets the node of each key that was there. */
static int walk_section(struct cfg_ctx *c, struct ynode *map, const struct section *s, void *obj,
			struct ynode **given)
{
	struct ynode *seen[MAX_ROWS] = {0};

	if (s->nrows > MAX_ROWS)
		abort(); /* a section of ours with too many rows */

	if (want(c, map, YAML_MAPPING_NODE, s->name) < 0)
		return -1;
	for (struct ypair *p = map->pairs; p < map->pairs + map->n; p++) {
		struct ynode *k = p->key;
		const struct key_row *r = NULL;
		char what[64];

		if (k->type != YAML_SCALAR_NODE)
			return fail(c, k, "keys in %s must be plain words", s->name);
		for (const struct key_row *q = s->rows; q < s->rows + s->nrows; q++)
			if (strcmp(q->name, scalar(k)) == 0)
				r = q;
		if (r && seen[r - s->rows])
			return fail(c, k, "duplicate key '%s' in %s", scalar(k), s->name);
		if (!r)
			return fail(c, k, "unknown key '%s' in %s", scalar(k), s->name);
		seen[r - s->rows] = p->value;
		if (r->type != K_NODE &&
		    read_value(c, r, p->value, (char *)obj + r->offset,
			       row_what(s, r, what, sizeof(what)), true) < 0)
			return -1;
	}
	if (given)
		memcpy(given, seen, s->nrows * sizeof(*given));
	return 0;
}


/* "127.0.0.1@5353", "::1@5353", "[::1]:5353" is not accepted: '@' as in Knot. */
static int parse_listen(struct cfg_ctx *c, const struct ynode *n, struct listen_addr *l)
{
	char host[48];
	const char *s = scalar(n);
	const char *at = strrchr(s, '@');
	unsigned long port = 53;
	size_t hl = at ? (size_t)(at - s) : strlen(s);

	if (hl == 0 || hl >= sizeof(host))
		return fail(c, n, "listen address '%s' must be ADDRESS or ADDRESS@PORT", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (at) {
		char *end;

		errno = 0;
		port = strtoul(at + 1, &end, 10);
		if (at[1] == '\0' || *end != '\0' || errno || port == 0 || port > 65535)
			return fail(c, n, "listen port in '%s' must be 1-65535", s);
	}
	memset(&l->ss, 0, sizeof(l->ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->ss;

	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		l->len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		l->len = sizeof(*sin6);
	} else {
		return fail(c, n, "'%s' is not an IPv4 or IPv6 address", host);
	}
	snprintf(l->text, sizeof(l->text), "%s@%lu", host, port);
	return 0;
}

/* server.listen: one address or a list of them */
static int parse_server_listen(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct config *cfg = c->cfg;

	(void)field;
	if (v->type == YAML_SCALAR_NODE) {
		cfg->nlisten = 1;
		return parse_listen(c, v, &cfg->listen[0]);
	}
	if (want(c, v, YAML_SEQUENCE_NODE, what) < 0)
		return -1;
	cfg->nlisten = 0;
	for (struct ynode **i = v->items; i < v->items + v->n; i++) {
		struct ynode *e = *i;

		if (want(c, e, YAML_SCALAR_NODE, "a listen address") < 0)
			return -1;
		if (cfg->nlisten == CFG_MAX_LISTEN)
			return fail(c, e, "at most %d listen addresses", CFG_MAX_LISTEN);
		if (parse_listen(c, e, &cfg->listen[cfg->nlisten]) < 0)
			return -1;
		for (unsigned j = 0; j < cfg->nlisten; j++)
			if (strcmp(cfg->listen[j].text, cfg->listen[cfg->nlisten].text) == 0)
				return fail(c, e, "duplicate listen address %s",
					    cfg->listen[j].text);
		cfg->nlisten++;
	}
	if (cfg->nlisten == 0)
		return fail(c, v, "server.listen needs at least one address");
	return 0;
}

static const struct key_row server_rows[] = {
	{.name = "listen", .type = K_CUSTOM, .parse = parse_server_listen},
	{.name = "workers", .type = K_UINT, FIELD(struct config, workers), .min = 1,
	 .max = ROT_MAX_WORKERS, .def = "1"},
	{.name = "control-socket", .type = K_TEXT, FIELD(struct config, control_socket),
	 .max = 99, .def = "/run/carousel/ctl.sock"},
	{.name = "tcp-idle-timeout", .type = K_DURATION, FIELD(struct config, tcp_idle_timeout),
	 .unit = U_S, .min = 1000, .def = "10s"},
	{.name = "tcp-max-clients", .type = K_UINT, FIELD(struct config, tcp_max_clients),
	 .min = 1, .max = 65536, .def = "1024"},
	{.name = "tcp-max-per-client", .type = K_UINT, FIELD(struct config, tcp_max_per_client),
	 .min = 1, .max = 65536, .def = "32"},
};
SECTION(server_section, "server", "server.", server_rows);

enum { ZONE_NAME, ZONE_FILE, ZONE_PRIMARY, ZONE_KEY };
static const struct key_row zone_rows[] = {
	[ZONE_NAME] = {.name = "name", .type = K_NODE},
	[ZONE_FILE] = {.name = "file", .type = K_NODE},
	[ZONE_PRIMARY] = {.name = "primary", .type = K_NODE},
	[ZONE_KEY] = {.name = "key", .type = K_NODE},
};
SECTION(zone_section, "a zone", "zone ", zone_rows);

static struct zone *find_zone_exact(const struct config *cfg, const uint8_t *apex)
{
	size_t len = dname_len(apex);
	uint32_t h = dname_hash(apex, len);

	for (struct zone *z = cfg->zone_buckets[h & cfg->zone_mask]; z; z = z->hash_next)
		if (z->apex_len == len && memcmp(z->apex, apex, len) == 0)
			return z;
	return NULL;
}

struct zone *config_find_zone(const struct config *cfg, const uint8_t *name)
{
	if (!cfg->zone_buckets)
		return NULL; /* a config of backends or recursion alone */
	size_t len = dname_len(name);

	for (const uint8_t *n = name; n; n = dname_parent(n)) {
		/* no apex is longer: not worth a hash */
		if (len - (size_t)(n - name) > cfg->zone_apex_max)
			continue;
		struct zone *z = find_zone_exact(cfg, n);

		if (z)
			return z;
	}
	return NULL;
}

static int parse_zones(struct cfg_ctx *c, struct ynode *seq)
{
	struct config *cfg = c->cfg;
	struct fleet_ctx fc = {cfg, c->path, c->dir, c->err, c->err_len};
	size_t n;

	if (want(c, seq, YAML_SEQUENCE_NODE, "zones") < 0)
		return -1;
	n = (size_t)seq->n;
	cfg->zones = arena_alloc(&cfg->arena, (n ? n : 1) * sizeof(*cfg->zones));
	for (cfg->zone_mask = 15; cfg->zone_mask < n * 2; cfg->zone_mask = cfg->zone_mask * 2 + 1)
		;
	cfg->zone_buckets = arena_alloc(&cfg->arena, (cfg->zone_mask + 1) * sizeof(struct zone *));
	for (struct ynode **i = seq->items; i < seq->items + seq->n; i++) {
		struct ynode *e = *i;
		struct ynode *given[MAX_ROWS];
		uint8_t apex[DNAME_MAXLEN];
		char path[PATH_MAX + 64], zerr[CFG_ERR_LEN];

		if (walk_section(c, e, &zone_section, NULL, given) < 0)
			return -1;
		struct {
			struct ynode *name, *file, *primary, *key;
		} zi = {given[ZONE_NAME], given[ZONE_FILE], given[ZONE_PRIMARY], given[ZONE_KEY]};

		if (!zi.name)
			return fail(c, e, "zone needs a name");
		if (!zi.file)
			return fail(c, e, "zone needs a file");
		if (get_dname(c, zi.name, "zone name", apex) < 0 ||
		    want(c, zi.file, YAML_SCALAR_NODE, "zone file") < 0)
			return -1;
		if (find_zone_exact(cfg, apex))
			return fail(c, zi.name, "duplicate zone %s", scalar(zi.name));
		if (scalar(zi.file)[0] == '/')
			snprintf(path, sizeof(path), "%s", scalar(zi.file));
		else
			snprintf(path, sizeof(path), "%s/%s", c->dir, scalar(zi.file));
		struct zone *z;

		if (zi.primary || zi.key) { /* a secondary zone (config_fleet.c) */
			z = fleet_load_secondary(&fc, e, apex, path, zi.primary, zi.key,
						 (unsigned)n);
			if (!z)
				return -1;
		} else {
			z = zone_load(&cfg->arena, apex, path, zerr, sizeof(zerr));
			if (!z)
				return fail(c, zi.file, "zone %s: %s", scalar(zi.name), zerr);
		}
		uint32_t h = dname_hash(z->apex, z->apex_len) & cfg->zone_mask;

		z->hash_next = cfg->zone_buckets[h];
		cfg->zone_buckets[h] = z;
		cfg->zones[cfg->nzones++] = z;
		if (z->apex_len > cfg->zone_apex_max)
			cfg->zone_apex_max = z->apex_len;
	}
	return 0;
}

static int parse_acl(struct cfg_ctx *c, const struct ynode *n, struct acl_entry *a);
static int get_bool(struct cfg_ctx *c, const struct ynode *n, const char *what, bool *out);

const char *const monitor_type_names[MON_TYPES] = {
	[MON_NONE] = "none", [MON_TCP] = "tcp",	  [MON_HTTP] = "http",	 [MON_HTTPS] = "https",
	[MON_POP3] = "pop3", [MON_POP3S] = "pop3s", [MON_IMAP] = "imap",	 [MON_IMAPS] = "imaps",
	[MON_SMTP] = "smtp", [MON_DNS] = "dns",	  [MON_EXEC] = "exec",
};

/* A monitor as it is being read: which keys were given, for the checks
 * that need the whole mapping. */
/* The types a check query may ask for. */
static int get_qtype(struct cfg_ctx *c, const struct ynode *v, const char *what, uint16_t *out)
{
	static const struct { const char *name; uint16_t type; } types[] = {
		{"A", TYPE_A}, {"AAAA", TYPE_AAAA}, {"SOA", TYPE_SOA}, {"NS", TYPE_NS},
		{"MX", TYPE_MX}, {"TXT", TYPE_TXT}, {"SRV", TYPE_SRV}, {"CNAME", TYPE_CNAME}};

	if (want(c, v, YAML_SCALAR_NODE, what) < 0)
		return -1;
	*out = 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(scalar(v), types[i].name) == 0)
			*out = types[i].type;
	if (!*out)
		return fail(c, v, "%s must be A, AAAA, SOA, NS, MX, TXT, SRV or CNAME, not '%s'",
			    what, scalar(v));
	return 0;
}

/* The first line of a file only root (or the daemon's user) can read:
 * secrets never sit in the YAML. path gets the file's full name. */
static int read_secret_line(struct cfg_ctx *c, struct ynode *n, const char *what, char *path,
			    size_t path_len, char *line, size_t line_len)
{
	const char *s = scalar(n);
	struct stat st;

	int k = s[0] == '/' ? snprintf(path, path_len, "%s", s)
			    : snprintf(path, path_len, "%s/%s", c->dir, s);

	if (k < 0 || (size_t)k >= path_len)
		return fail(c, n, "%s file name is too long", what);
	FILE *f = fopen(path, "r");

	if (!f)
		return fail(c, n, "%s file %s: %s", what, path, strerror(errno));
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return fail(c, n, "%s file %s is not a regular file", what, path);
	}
	if (st.st_mode & 077) {
		fclose(f);
		return fail(c, n, "%s file %s is readable by others (mode %03o): chmod 600 it",
			    what, path, (unsigned)(st.st_mode & 0777));
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		fclose(f);
		return fail(c, n, "%s file %s must belong to root", what, path);
	}
	bool got = fgets(line, (int)line_len, f) != NULL;

	fclose(f);
	line[got ? strcspn(line, "\r\n") : 0] = '\0';
	return 0;
}

/* "USER:PASSWORD" on the first line of a secret file: *user and *password
 * point into line. */
static int split_credentials(struct cfg_ctx *c, struct ynode *n, const char *what,
			     const char *path, char *line, char **user, char **password)
{
	char *colon = strchr(line, ':');

	if (!colon || colon == line || colon[1] == '\0')
		return fail(c, n, "%s file %s: the first line must be USER:PASSWORD", what, path);
	*colon = '\0';
	/* they go on the wire inside one command line each */
	if (strlen(line) > 64 || strlen(colon + 1) > 128 || strpbrk(line, " \t\"\\")) {
		explicit_bzero(line, strlen(line));
		return fail(c, n, "%s file %s: the user (at most 64 characters, no spaces or "
			    "quotes) or the password (at most 128) is too long or unusable",
			    what, path);
	}
	*user = line;
	*password = colon + 1;
	return 0;
}

static int read_credentials(struct cfg_ctx *c, struct ynode *n, struct monitor *m)
{
	char path[PATH_MAX], line[512], *user, *password;
	int rc = read_secret_line(c, n, "credentials", path, sizeof(path), line, sizeof(line));

	if (rc == 0)
		rc = split_credentials(c, n, "credentials", path, line, &user, &password);
	if (rc == 0) {
		m->credentials = arena_strdup(&c->cfg->arena, path);
		m->user = arena_strdup(&c->cfg->arena, user);
		m->password = arena_strdup(&c->cfg->arena, password);
	}
	explicit_bzero(line, sizeof(line));
	return rc;
}

static int parse_qtype(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	return get_qtype(c, v, what, field);
}

static int check_http_path(struct cfg_ctx *c, const struct ynode *v, const char *what)
{
	if (scalar(v)[0] != '/' || strpbrk(scalar(v), " \r\n"))
		return fail(c, v, "%s must start with / and hold no spaces", what);
	return 0;
}

static int check_one_word(struct cfg_ctx *c, const struct ynode *v, const char *what)
{
	if (strpbrk(scalar(v), " \r\n") || !scalar(v)[0])
		return fail(c, v, "%s must be one word", what);
	return 0;
}

static const char *const up_down[] = {"down", "up"};

enum {
	MON_KEY_TYPE, MON_KEY_PORT, MON_KEY_INTERVAL, MON_KEY_TIMEOUT, MON_KEY_RISE, MON_KEY_FALL,
	MON_KEY_INITIAL, MON_KEY_PATH, MON_KEY_HOST, MON_KEY_TLS_VERIFY, MON_KEY_BODY,
	MON_KEY_EXPECT, MON_KEY_CREDENTIALS, MON_KEY_QUERY, MON_KEY_QTYPE, MON_KEY_COMMAND,
};
static const struct key_row monitor_rows[] = {
	[MON_KEY_TYPE] = {.name = "type", .type = K_CHOICE, FIELD(struct monitor, type),
			  CHOICES(monitor_type_names), .min = MON_TCP},
	[MON_KEY_PORT] = {.name = "port", .type = K_UINT, FIELD(struct monitor, port), .min = 1,
			  .max = 65535},
	[MON_KEY_INTERVAL] = {.name = "interval", .type = K_DURATION,
			      FIELD(struct monitor, interval_ms), .min = 10, .def = "5s"},
	[MON_KEY_TIMEOUT] = {.name = "timeout", .type = K_DURATION,
			     FIELD(struct monitor, timeout_ms), .min = 1, .def = "2s"},
	[MON_KEY_RISE] = {.name = "rise", .type = K_UINT, FIELD(struct monitor, rise), .min = 1,
			  .max = 100, .def = "2"},
	[MON_KEY_FALL] = {.name = "fall", .type = K_UINT, FIELD(struct monitor, fall), .min = 1,
			  .max = 100, .def = "3"},
	[MON_KEY_INITIAL] = {.name = "initial", .type = K_CHOICE, FIELD(struct monitor, initial_up),
			     CHOICES(up_down), .def = "up"},
	[MON_KEY_PATH] = {.name = "path", .type = K_TEXT, FIELD(struct monitor, path),
			  .check = check_http_path, .def = "/"},
	[MON_KEY_HOST] = {.name = "host", .type = K_TEXT, FIELD(struct monitor, host),
			  .check = check_one_word},
	[MON_KEY_TLS_VERIFY] = {.name = "tls-verify", .type = K_BOOL,
				FIELD(struct monitor, tls_verify)},
	[MON_KEY_BODY] = {.name = "body", .type = K_TEXT, FIELD(struct monitor, body)},
	[MON_KEY_EXPECT] = {.name = "expect", .type = K_UINT, FIELD(struct monitor, expect),
			    .min = 100, .max = 599, .def = "200"},
	[MON_KEY_CREDENTIALS] = {.name = "credentials", .type = K_NODE},
	[MON_KEY_QUERY] = {.name = "query", .type = K_DNAME, FIELD(struct monitor, qname)},
	[MON_KEY_QTYPE] = {.name = "qtype", .type = K_CUSTOM, FIELD(struct monitor, qtype),
			   .parse = parse_qtype, .def = "SOA"},
	[MON_KEY_COMMAND] = {.name = "command", .type = K_TEXT, FIELD(struct monitor, command)},
};
SECTION(monitor_section, "a monitor", "monitor ", monitor_rows);

/* Read a monitor mapping over *m (defaults, or the pool's for a member). */
static int parse_monitor(struct cfg_ctx *c, struct ynode *v, struct monitor *m, bool inherited)
{
	struct ynode *given[MAX_ROWS];

	if (walk_section(c, v, &monitor_section, m, given) < 0)
		return -1;
	struct ynode *credentials = given[MON_KEY_CREDENTIALS], *timeout = given[MON_KEY_TIMEOUT];

	if (!given[MON_KEY_TYPE] && !inherited)
		return fail(c, v, "monitor needs a type");
	if (credentials) {
		if (want(c, credentials, YAML_SCALAR_NODE, "monitor credentials") < 0)
			return -1;
		if (m->type != MON_POP3 && m->type != MON_POP3S && m->type != MON_IMAP &&
		    m->type != MON_IMAPS)
			return fail(c, credentials, "credentials are for pop3 and imap monitors");
		if (read_credentials(c, credentials, m) < 0)
			return -1;
	}
	if (m->tls_verify && !monitor_uses_tls(m->type))
		return fail(c, v, "tls-verify is for https, pop3s and imaps monitors");
	if (m->type == MON_TCP && !m->port)
		return fail(c, v, "a tcp monitor needs a port");
	if (m->type == MON_EXEC && !m->command)
		return fail(c, v, "an exec monitor needs a command");
	if (m->type == MON_DNS && !m->qname[0] && !given[MON_KEY_QUERY])
		return fail(c, v, "a dns monitor needs a query (the name to ask)");
	if (m->timeout_ms > m->interval_ms)
		return fail(c, timeout ? timeout : v,
			    "monitor timeout (%ums) must not exceed its interval (%ums)",
			    m->timeout_ms, m->interval_ms);
	return 0;
}

static void monitor_defaults(struct cfg_ctx *c, struct monitor *m)
{
	*m = (struct monitor){0};
	apply_defaults(c, &monitor_section, m);
}

struct pool_item {
	struct pool *pool;
	struct ynode *name, *members, *aliases, *monitor, *fallback;
};

struct member_item {
	struct ynode *address, *monitor, *group, *clients;
};

enum { MEMBER_ADDRESS, MEMBER_WEIGHT, MEMBER_MONITOR, MEMBER_GROUP, MEMBER_CLIENTS };
static const struct key_row member_rows[] = {
	[MEMBER_ADDRESS] = {.name = "address", .type = K_NODE},
	[MEMBER_WEIGHT] = {.name = "weight", .type = K_UINT, FIELD(struct member, weight),
			   .max = ROT_MAX_WEIGHT, .def = "1"},
	[MEMBER_MONITOR] = {.name = "monitor", .type = K_NODE},
	[MEMBER_GROUP] = {.name = "group", .type = K_UINT, FIELD(struct member, group),
			  .max = 1000},
	[MEMBER_CLIENTS] = {.name = "clients", .type = K_NODE},
};
SECTION(member_section, "a pool member", "member ", member_rows);

/* serve-all, servfail or {pool: NAME} (then p->fallback_name) */
static int parse_on_all_down(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct pool *p = field;

	(void)what;
	if (v->type == YAML_MAPPING_NODE) {
		struct ynode *k = v->n ? v->pairs[0].key : NULL;

		if (v->n != 1 || k->type != YAML_SCALAR_NODE || strcmp(scalar(k), "pool") != 0)
			return fail(c, v, "on-all-down takes serve-all, servfail or {pool: NAME}");
		if (want(c, v->pairs[0].value, YAML_SCALAR_NODE, "on-all-down pool") < 0)
			return -1;
		p->on_all_down = ALL_DOWN_POOL;
		p->fallback_name = arena_strdup(&c->cfg->arena, scalar(v->pairs[0].value));
	} else if (v->type == YAML_SCALAR_NODE && strcmp(scalar(v), "serve-all") == 0) {
		p->on_all_down = ALL_DOWN_SERVE_ALL;
	} else if (v->type == YAML_SCALAR_NODE && strcmp(scalar(v), "servfail") == 0) {
		p->on_all_down = ALL_DOWN_SERVFAIL;
	} else {
		return fail(c, v, "on-all-down takes serve-all, servfail or {pool: NAME}");
	}
	return 0;
}

static const char *const pool_methods[] = {
	[ROT_ROUND_ROBIN] = "round-robin",
	[ROT_WEIGHTED] = "weighted",
	[ROT_FAILOVER] = "failover",
	[ROT_TOPOLOGY] = "topology",
};

enum {
	POOL_NAME, POOL_ALIASES, POOL_METHOD, POOL_ANSWER_COUNT, POOL_TTL, POOL_MEMBERS,
	POOL_MONITOR, POOL_ON_ALL_DOWN, POOL_DEGRADED_TTL, POOL_MIN_UP
};
static const struct key_row pool_rows[] = {
	[POOL_NAME] = {.name = "name", .type = K_NODE},
	[POOL_ALIASES] = {.name = "aliases", .type = K_NODE},
	[POOL_METHOD] = {.name = "method", .type = K_CHOICE, FIELD(struct pool, method),
			 CHOICES(pool_methods), .def = "round-robin"},
	[POOL_ANSWER_COUNT] = {.name = "answer-count", .type = K_UINT,
			       FIELD(struct pool, answer_count), .max = ROT_MAX_MEMBERS},
	[POOL_TTL] = {.name = "ttl", .type = K_UINT, FIELD(struct pool, ttl),
		      .max = 2147483647UL, .def = "30"},
	[POOL_MEMBERS] = {.name = "members", .type = K_NODE},
	[POOL_MONITOR] = {.name = "monitor", .type = K_NODE},
	[POOL_ON_ALL_DOWN] = {.name = "on-all-down", .type = K_CUSTOM, .parse = parse_on_all_down},
	/* no default here: min(ttl, 5) (parse_pool) */
	[POOL_DEGRADED_TTL] = {.name = "degraded-ttl", .type = K_UINT,
			       FIELD(struct pool, degraded_ttl), .max = 2147483647UL},
	[POOL_MIN_UP] = {.name = "min-up", .type = K_UINT, FIELD(struct pool, min_up), .min = 1,
			 .max = ROT_MAX_MEMBERS, .def = "1"},
};
SECTION(pool_section, "a pool", "pool ", pool_rows);

/* A member's own policy keys: monitor override, failover group, clients. */
static int member_policy(struct cfg_ctx *c, struct pool *p, struct member_item *mi,
			 struct member *m)
{
	m->monitor = p->monitor;
	if (mi->monitor) {
		struct monitor *mon = arena_alloc(&c->cfg->arena, sizeof(*mon));

		if (p->monitor)
			*mon = *p->monitor;
		else
			monitor_defaults(c, mon);
		if (parse_monitor(c, mi->monitor, mon, p->monitor != NULL) < 0)
			return -1;
		m->monitor = mon;
	}
	if (mi->group && p->method != ROT_FAILOVER)
		return fail(c, mi->group, "member group is for method: failover");
	if (mi->clients) {
		if (p->method != ROT_TOPOLOGY)
			return fail(c, mi->clients, "member clients are for method: topology");
		if (want(c, mi->clients, YAML_SEQUENCE_NODE, "member clients") < 0)
			return -1;
		size_t n = (size_t)mi->clients->n;

		m->clients = arena_alloc(&c->cfg->arena, (n ? n : 1) * sizeof(*m->clients));
		for (struct ynode **i = mi->clients->items; i < mi->clients->items + mi->clients->n; i++) {
			struct ynode *e = *i;

			if (want(c, e, YAML_SCALAR_NODE, "a client subnet") < 0 ||
			    parse_acl(c, e, &m->clients[m->nclients]) < 0)
				return -1;
			m->nclients++;
		}
	}
	return 0;
}

static int parse_members(struct cfg_ctx *c, struct pool_item *pi)
{
	struct pool *p = pi->pool;
	struct ynode *seq = pi->members;
	size_t n;

	if (pi->monitor) {
		struct monitor *mon = arena_alloc(&c->cfg->arena, sizeof(*mon));

		monitor_defaults(c, mon);
		if (parse_monitor(c, pi->monitor, mon, false) < 0)
			return -1;
		p->monitor = mon;
	}

	if (want(c, seq, YAML_SEQUENCE_NODE, "pool members") < 0)
		return -1;
	n = (size_t)seq->n;
	if (n == 0)
		return fail(c, seq, "pool %s has no members", p->name_text);
	if (n > ROT_MAX_MEMBERS)
		return fail(c, seq, "pool %s has more than %d members", p->name_text,
			    ROT_MAX_MEMBERS);
	p->members = arena_alloc(&c->cfg->arena, n * sizeof(*p->members));
	for (struct ynode **i = seq->items; i < seq->items + seq->n; i++) {
		struct ynode *e = *i;
		struct member *m = &p->members[p->nmembers];
		struct ynode *given[MAX_ROWS];

		apply_defaults(c, &member_section, m);
		if (walk_section(c, e, &member_section, m, given) < 0)
			return -1;
		struct member_item mi = {given[MEMBER_ADDRESS], given[MEMBER_MONITOR],
					 given[MEMBER_GROUP], given[MEMBER_CLIENTS]};

		if (!mi.address)
			return fail(c, e, "pool member needs an address");
		if (want(c, mi.address, YAML_SCALAR_NODE, "member address") < 0)
			return -1;
		if (inet_pton(AF_INET, scalar(mi.address), m->addr) == 1)
			m->family = AF_INET;
		else if (inet_pton(AF_INET6, scalar(mi.address), m->addr) == 1)
			m->family = AF_INET6;
		else
			return fail(c, mi.address, "'%s' is not an IPv4 or IPv6 address",
				    scalar(mi.address));
		for (uint16_t j = 0; j < p->nmembers; j++)
			if (p->members[j].family == m->family &&
			    memcmp(p->members[j].addr, m->addr, 16) == 0)
				return fail(c, mi.address, "duplicate member %s in pool %s",
					    scalar(mi.address), p->name_text);
		snprintf(m->text, sizeof(m->text), "%s", scalar(mi.address));
		if (member_policy(c, p, &mi, m) < 0)
			return -1;
		p->nmembers++;
	}
	/* Split by family: A and AAAA rotate independently. */
	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET;

		p->fam_member[f] = arena_alloc(&c->cfg->arena, p->nmembers * sizeof(uint16_t));
		for (uint16_t j = 0; j < p->nmembers; j++) {
			if (p->members[j].family != family)
				continue;
			p->nweighted[f] += p->members[j].weight > 0;
			p->fam_member[f][p->nfam[f]++] = j;
		}
	}
	return 0;
}

/* A name is taken when a pool or an alias already claimed it: the zone
 * node remembers (constant time, so 100 000 names load in linear time). */
static const struct pool *name_owner(const struct node *n, bool *as_alias)
{
	*as_alias = n->alias_of != NULL;
	return n->pool ? n->pool : n->alias_of;
}

static int attach_pool(struct cfg_ctx *c, struct pool_item *pi)
{
	struct config *cfg = c->cfg;
	struct pool *p = pi->pool;
	struct zone *z = config_find_zone(cfg, p->name);
	bool as_alias;

	if (!z)
		return fail(c, pi->name, "pool %s is outside every configured zone", p->name_text);
	struct node *n = zone_add_node(&cfg->arena, z, p->name);
	const struct pool *o = name_owner(n, &as_alias);

	if (o)
		return fail(c, pi->name, "duplicate name %s (already %s of pool %s)", p->name_text,
			    as_alias ? "an alias" : "the name", o->name_text);
	if (node_rrset(n, TYPE_CNAME))
		return fail(c, pi->name, "pool %s: the zone has a CNAME at this name",
			    p->name_text);
	if (node_rrset(n, TYPE_A) || node_rrset(n, TYPE_AAAA))
		return fail(c, pi->name, "pool %s: the zone file already has A/AAAA at this name",
			    p->name_text);
	n->pool = p;
	if (!z->secondary && !zone_below_cut(z, p->name)) {
		p->plain_zone = z;
		p->plain_node = n;
	}
	if (!pi->aliases)
		return 0;
	size_t na = (size_t)pi->aliases->n;

	p->aliases = arena_alloc(&cfg->arena, (na ? na : 1) * sizeof(*p->aliases));
	struct rrset *cname = NULL;
	bool plain = true;

	for (struct ynode **i = pi->aliases->items; i < pi->aliases->items + pi->aliases->n; i++) {
		struct ynode *e = *i;
		uint8_t alias[DNAME_MAXLEN];

		if (get_dname(c, e, "alias", alias) < 0)
			return -1;
		struct zone *az = config_find_zone(cfg, alias);

		if (!az)
			return fail(c, e, "alias %s is outside every configured zone", scalar(e));
		if (dname_equal(alias, p->name))
			return fail(c, e, "alias %s loops: it is the pool's own name", scalar(e));
		struct node *an = zone_add_node(&cfg->arena, az, alias);

		if (an->alias_of == p)
			return fail(c, e, "duplicate alias %s", scalar(e));
		o = name_owner(an, &as_alias);
		if (o)
			return fail(c, e, "duplicate name %s (already %s of pool %s)", scalar(e),
				    as_alias ? "an alias" : "the name", o->name_text);
		if (an->rrsets)
			return fail(c, e, "alias %s: the zone already has data at this name",
				    scalar(e));
		an->alias_of = p;
		/* every alias of a pool has the same CNAME: one RRset, shared
		 * (nothing is added to a name after its pool is attached) */
		if (cname)
			an->rrsets = cname;
		else
			node_add_rr(&cfg->arena, an, TYPE_CNAME, p->ttl, p->name,
				    (uint16_t)dname_len(p->name));
		cname = an->rrsets;
		p->aliases[p->naliases++] = an->name; /* the node keeps the name */
		plain = plain && !az->secondary && !zone_below_cut(az, an->name);
	}
	p->alias_cname = cname;
	p->plain_aliases = plain;
	return 0;
}

/* One item of `pools:`. Items may come one at a time and be dropped once
 * read, so nothing here keeps a pointer to a node: a fallback's name is
 * kept with where it was, for finish_pools. */
static int parse_pool(struct cfg_ctx *c, struct ynode *e)
{
	struct config *cfg = c->cfg;
	struct pool *p = arena_alloc(&cfg->arena, sizeof(*p));
	struct pool_item pi = {.pool = p};

	if (cfg->npools == c->pools_cap) {
		c->pools_cap = c->pools_cap ? c->pools_cap * 2 : 64;
		cfg->pools = realloc(cfg->pools, c->pools_cap * sizeof(*cfg->pools));
		c->fallbacks = realloc(c->fallbacks, c->pools_cap * sizeof(*c->fallbacks));
		if (!cfg->pools || !c->fallbacks)
			abort();
	}
	struct ynode *given[MAX_ROWS];

	apply_defaults(c, &pool_section, p);
	p->degraded_ttl = UINT32_MAX; /* min(ttl, 5) unless given */
	p->line = (int)e->line;
	p->index = cfg->npools;
	if (walk_section(c, e, &pool_section, p, given) < 0)
		return -1;
	pi.name = given[POOL_NAME];
	pi.aliases = given[POOL_ALIASES];
	pi.members = given[POOL_MEMBERS];
	pi.monitor = given[POOL_MONITOR];
	if (p->on_all_down == ALL_DOWN_POOL)
		pi.fallback = given[POOL_ON_ALL_DOWN]->pairs[0].value;
	if (pi.aliases && want(c, pi.aliases, YAML_SEQUENCE_NODE, "pool aliases") < 0)
		return -1;
	if (!pi.name)
		return fail(c, e, "pool needs a name");
	if (get_dname(c, pi.name, "pool name", p->name) < 0)
		return -1;
	p->name_text = arena_memdup(&cfg->arena, scalar(pi.name), pi.name->n + 1);
	if (!pi.members)
		return fail(c, e, "pool %s needs members", p->name_text);
	if (p->degraded_ttl == UINT32_MAX)
		p->degraded_ttl = p->ttl < 5 ? p->ttl : 5;
	c->fallbacks[cfg->npools] = (struct ynode){0};
	if (pi.fallback) {
		c->fallbacks[cfg->npools] = *pi.fallback;
		c->fallbacks[cfg->npools].value = p->fallback_name;
	}
	cfg->pools[cfg->npools++] = p;
	return parse_members(c, &pi) < 0 || attach_pool(c, &pi) < 0 ? -1 : 0;
}

static int parse_pools(struct cfg_ctx *c, struct ynode *seq)
{
	if (want(c, seq, YAML_SEQUENCE_NODE, "pools") < 0)
		return -1;
	for (struct ynode **i = seq->items; i < seq->items + seq->n; i++)
		if (parse_pool(c, *i) < 0)
			return -1;
	return 0;
}

/* After every pool: the on-all-down fallbacks, and cfg->pools moved into
 * the arena with the rest. */
static int finish_pools(struct cfg_ctx *c)
{
	struct config *cfg = c->cfg;
	struct pool **pools = cfg->pools;

	for (unsigned i = 0; i < cfg->npools; i++) {
		struct pool *p = cfg->pools[i];
		struct ynode *fb = &c->fallbacks[i];
		uint8_t name[DNAME_MAXLEN];

		if (!fb->value)
			continue;
		if (get_dname(c, fb, "on-all-down pool", name) < 0)
			return -1;
		p->fallback = config_find_pool(cfg, name);
		if (!p->fallback)
			return fail(c, fb, "on-all-down: no pool named %s", scalar(fb));
		if (p->fallback == p)
			return fail(c, fb, "on-all-down: pool %s cannot fall back on itself",
				    p->name_text);
	}
	if (pools)
		cfg->pools = arena_memdup(&cfg->arena, pools, cfg->npools * sizeof(*pools));
	free(pools);
	c->pools_cap = 0;
	return 0;
}

struct pool *config_find_pool(const struct config *cfg, const uint8_t *name)
{
	struct zone *z = config_find_zone(cfg, name);
	struct node *n = z ? zone_find(z, name, dname_len(name)) : NULL;

	return n ? n->pool : NULL;
}

/* "198.51.100.1/24" or "2001:db8::1/64" (prefix optional: /24, /64) */
static int dp_address(struct cfg_ctx *c, const struct ynode *n, struct fp_config *dp)
{
	char host[64];
	const char *s = scalar(n), *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix = 0;
	uint8_t a[16];

	if (hl == 0 || hl >= sizeof(host))
		return fail(c, n, "'%s' is not an IPv4 or IPv6 address", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (slash) {
		char *end;

		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || errno)
			return fail(c, n, "bad prefix length in '%s'", s);
	}
	if (inet_pton(AF_INET, host, a) == 1) {
		if (dp->has_ip4)
			return fail(c, n, "only one IPv4 dataplane address");
		if (prefix > 32)
			return fail(c, n, "IPv4 prefix length must be 0-32");
		memcpy(dp->ip4, a, 4);
		dp->ip4_prefix = slash ? (unsigned)prefix : 24;
		dp->has_ip4 = true;
	} else if (inet_pton(AF_INET6, host, a) == 1) {
		if (dp->has_ip6)
			return fail(c, n, "only one IPv6 dataplane address");
		if (prefix > 128)
			return fail(c, n, "IPv6 prefix length must be 0-128");
		memcpy(dp->ip6, a, 16);
		dp->ip6_prefix = slash ? (unsigned)prefix : 64;
		dp->has_ip6 = true;
	} else {
		return fail(c, n, "'%s' is not an IPv4 or IPv6 address", host);
	}
	return 0;
}

/* dataplane.address: one address or a list (one IPv4, one IPv6) */
static int parse_dp_address(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct fp_config *dp = field;

	if (v->type == YAML_SCALAR_NODE)
		return dp_address(c, v, dp);
	if (want(c, v, YAML_SEQUENCE_NODE, what) < 0)
		return -1;
	for (struct ynode **i = v->items; i < v->items + v->n; i++)
		if (want(c, *i, YAML_SCALAR_NODE, "an address") < 0 || dp_address(c, *i, dp) < 0)
			return -1;
	return 0;
}

static const char *const xdp_modes[] = {
	[XDP_MODE_AUTO] = "auto", [XDP_MODE_NATIVE] = "native", [XDP_MODE_GENERIC] = "generic"};

static const struct key_row dataplane_rows[] = {
	{.name = "port", .type = K_TEXT, FIELD(struct fp_config, port), .max = 200},
	{.name = "exception", .type = K_TEXT, FIELD(struct fp_config, exception), .max = 200,
	 .def = "net_tap0,iface=cartap0"},
	{.name = "address", .type = K_CUSTOM, .parse = parse_dp_address},
	{.name = "burst", .type = K_UINT, FIELD(struct fp_config, burst), .min = 1, .max = 512,
	 .def = "32"},
	{.name = "mbufs", .type = K_UINT, FIELD(struct fp_config, mbufs), .min = 1023,
	 .max = 1048575, .def = "8191"},
	{.name = "dns-port", .type = K_UINT, FIELD(struct fp_config, dns_port), .min = 1,
	 .max = 65535, .def = "53"},
	{.name = "idle-sleep", .type = K_DURATION, FIELD(struct fp_config, idle_sleep_us),
	 .unit = U_US, .max = 100, .def = "1ms"},
	{.name = "interface", .type = K_TEXT, FIELD(struct fp_config, interface), .max = 15},
	{.name = "xdp-mode", .type = K_CHOICE, FIELD(struct fp_config, xdp_mode),
	 CHOICES(xdp_modes), .def = "auto"},
	/* no default: sized to the config (config_load) */
	{.name = "max-entries", .type = K_UINT, FIELD(struct fp_config, max_entries), .min = 1024,
	 .max = 1u << 26},
};
SECTION(dataplane_section, "dataplane", "dataplane.", dataplane_rows);

static int parse_dataplane(struct cfg_ctx *c, struct ynode *v)
{
	struct fp_config *dp = &c->cfg->dp;

	dp->present = true;
	apply_defaults(c, &dataplane_section, dp);
	if (walk_section(c, v, &dataplane_section, dp, NULL) < 0)
		return -1;
	if (!dp->port && !dp->interface)
		return fail(c, v, "dataplane needs port (DPDK, e.g. net_af_packet0,iface=eth1) or "
			    "interface (XDP)");
	if (!dp->has_ip4 && !dp->has_ip6)
		return fail(c, v, "dataplane.address is required: the appliance's address");
	return 0;
}

/* "10.0.0.0/8", "::1/128", "192.0.2.7" (a host) */
static int parse_acl(struct cfg_ctx *c, const struct ynode *n, struct acl_entry *a)
{
	char host[64];
	const char *s = scalar(n), *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix = 0;
	char *end;

	if (hl == 0 || hl >= sizeof(host))
		return fail(c, n, "'%s' is not an address or ADDRESS/PREFIX", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(a->addr, 0, sizeof(a->addr));
	if (inet_pton(AF_INET, host, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, host, a->addr) == 1)
		a->family = AF_INET6;
	else
		return fail(c, n, "'%s' is not an IPv4 or IPv6 address", host);
	unsigned max = a->family == AF_INET ? 32 : 128;

	if (slash) {
		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || errno || prefix > max)
			return fail(c, n, "prefix length in '%s' must be 0-%u", s, max);
	}
	a->prefix = slash ? (unsigned)prefix : max;
	return 0;
}

static bool acl_allows(const struct acl_entry *acl, unsigned n, const struct sockaddr *sa)
{
	const uint8_t *addr;
	int family = sa->sa_family;
	uint8_t mapped[4];

	if (family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		addr = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(mapped, a6->s6_addr + 12, 4);
			addr = mapped;
			family = AF_INET;
		}
	}
	for (unsigned i = 0; i < n; i++)
		if (acl_match(&acl[i], family, addr))
			return true;
	return false;
}

bool config_rec_allowed(const struct config *cfg, const struct sockaddr *sa)
{
	return acl_allows(cfg->rec.allow, cfg->rec.nallow, sa);
}

bool config_backend_allowed(const struct config *cfg, const struct backend *b,
			    const struct sockaddr *sa)
{
	if (b->nallow)
		return acl_allows(b->allow, b->nallow, sa);
	return config_rec_allowed(cfg, sa);
}

bool acl_match(const struct acl_entry *a, int family, const uint8_t *addr)
{
	unsigned full = a->prefix / 8, bits = a->prefix % 8;

	if (a->family != family || memcmp(a->addr, addr, full) != 0)
		return false;
	return !bits || !((a->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - bits)));
}

/* "64M", "512k", "1G", "1048576" */
static int get_size(struct cfg_ctx *c, const struct ynode *n, const char *what, uint64_t *out)
{
	char *end;

	if (want(c, n, YAML_SCALAR_NODE, what) < 0)
		return -1;
	errno = 0;
	unsigned long long v = strtoull(scalar(n), &end, 10);
	uint64_t mult = 1;

	if (end == scalar(n) || scalar(n)[0] == '-' || errno)
		return fail(c, n, "%s must be a size like 64M, not '%s'", what, scalar(n));
	if (*end == 'k' || *end == 'K')
		mult = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mult = 1024 * 1024, end++;
	else if (*end == 'g' || *end == 'G')
		mult = 1024ULL * 1024 * 1024, end++;
	if (*end != '\0')
		return fail(c, n, "%s must be a size like 64M, not '%s'", what, scalar(n));
	if (v * mult < 1024 * 1024 || v * mult > (64ULL << 30))
		return fail(c, n, "%s must be between 1M and 64G", what);
	*out = v * mult;
	return 0;
}

static int get_bool(struct cfg_ctx *c, const struct ynode *n, const char *what, bool *out)
{
	if (want(c, n, YAML_SCALAR_NODE, what) < 0)
		return -1;
	if (strcmp(scalar(n), "true") == 0 || strcmp(scalar(n), "yes") == 0)
		*out = true;
	else if (strcmp(scalar(n), "false") == 0 || strcmp(scalar(n), "no") == 0)
		*out = false;
	else
		return fail(c, n, "%s must be true or false, not '%s'", what, scalar(n));
	return 0;
}

static int check_readable(struct cfg_ctx *c, const struct ynode *v, const char *what)
{
	(void)what;
	if (access(scalar(v), R_OK) != 0)
		return fail(c, v, "cannot read root hints '%s': %s", scalar(v), strerror(errno));
	return 0;
}

static int parse_rec_forwarders(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct rec_config *r = field;

	if (want(c, v, YAML_SEQUENCE_NODE, what) < 0)
		return -1;
	for (struct ynode **i = v->items; i < v->items + v->n; i++) {
		struct listen_addr la;

		if (want(c, *i, YAML_SCALAR_NODE, "an address") < 0)
			return -1;
		if (r->nforwarders == REC_MAX_FORWARDERS)
			return fail(c, *i, "at most %d forwarders", REC_MAX_FORWARDERS);
		if (parse_listen(c, *i, &la) < 0)
			return -1;
		r->forwarders[r->nforwarders++] = arena_strdup(&c->cfg->arena, la.text);
	}
	return 0;
}

/* A list of prefixes into acl[] (max of them), replacing the default. */
static int parse_acl_list(struct cfg_ctx *c, struct ynode *v, const char *what,
			  struct acl_entry *acl, unsigned *n, unsigned max)
{
	if (want(c, v, YAML_SEQUENCE_NODE, what) < 0)
		return -1;
	*n = 0;
	for (struct ynode **i = v->items; i < v->items + v->n; i++) {
		if (want(c, *i, YAML_SCALAR_NODE, "an address") < 0)
			return -1;
		if (*n == max)
			return fail(c, *i, "at most %u allow entries", max);
		if (parse_acl(c, *i, &acl[*n]) < 0)
			return -1;
		(*n)++;
	}
	return 0;
}

static int parse_rec_allow(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct rec_config *r = field;

	return parse_acl_list(c, v, what, r->allow, &r->nallow, REC_MAX_ALLOW);
}

static const char *const rec_modes[] = {"iterate", "forward"}; /* rec_config.forward */

static const struct key_row recursion_rows[] = {
	{.name = "enable", .type = K_BOOL, FIELD(struct rec_config, enable)},
	{.name = "mode", .type = K_CHOICE, FIELD(struct rec_config, forward), CHOICES(rec_modes),
	 .def = "iterate"},
	{.name = "root-hints", .type = K_TEXT, FIELD(struct rec_config, root_hints),
	 .check = check_readable, .def = "/usr/share/dns/root.hints"},
	{.name = "forwarders", .type = K_CUSTOM, .parse = parse_rec_forwarders},
	/* the default (loopback only: never an open resolver) is set in
	 * config_load: a list has no one-word default */
	{.name = "allow", .type = K_CUSTOM, .parse = parse_rec_allow},
	{.name = "cache-size", .type = K_SIZE, FIELD(struct rec_config, cache_size), .def = "64M"},
	{.name = "prefetch", .type = K_BOOL, FIELD(struct rec_config, prefetch), .def = "true"},
	{.name = "serve-stale", .type = K_DURATION, FIELD(struct rec_config, serve_stale),
	 .unit = U_S},
	{.name = "query-loopback", .type = K_BOOL, FIELD(struct rec_config, query_loopback)},
	{.name = "min-ttl", .type = K_DURATION, FIELD(struct rec_config, min_ttl), .unit = U_S},
	{.name = "max-ttl", .type = K_DURATION, FIELD(struct rec_config, max_ttl), .unit = U_S,
	 .def = "24h"},
	{.name = "promote-qps", .type = K_UINT, FIELD(struct rec_config, promote_qps),
	 .max = 100000000, .def = "100"},
};
SECTION(recursion_section, "recursion", "recursion.", recursion_rows);

static int parse_recursion(struct cfg_ctx *c, struct ynode *v)
{
	struct rec_config *r = &c->cfg->rec;

	if (walk_section(c, v, &recursion_section, r, NULL) < 0)
		return -1;
	if (r->forward && r->nforwarders == 0)
		return fail(c, v, "recursion.mode forward needs forwarders");
	if (!r->forward && r->enable && access(r->root_hints, R_OK) != 0)
		return fail(c, v, "cannot read root hints '%s' (set recursion.root-hints)",
			    r->root_hints);
	if (r->min_ttl > r->max_ttl)
		return fail(c, v, "recursion.min-ttl is above max-ttl");
	return 0;
}

static const struct key_row rrl_rows[] = {
	{.name = "enable", .type = K_BOOL, FIELD(struct rrl_config, enable)},
	/* Knot's mod-rrl defaults */
	{.name = "rate-limit", .type = K_UINT, FIELD(struct rrl_config, rate), .min = 1,
	 .max = 60000, .def = "50"},
	{.name = "slip", .type = K_UINT, FIELD(struct rrl_config, slip), .max = 100, .def = "1"},
	{.name = "ipv4-prefix", .type = K_UINT, FIELD(struct rrl_config, v4_prefix), .min = 8,
	 .max = 32, .def = "24"},
	{.name = "ipv6-prefix", .type = K_UINT, FIELD(struct rrl_config, v6_prefix), .min = 16,
	 .max = 128, .def = "56"},
	{.name = "table-size", .type = K_UINT, FIELD(struct rrl_config, table_size), .min = 1024,
	 .max = 16777216, .def = "65536"},
};
SECTION(rrl_section, "rrl", "rrl.", rrl_rows);

static int get_secret(struct cfg_ctx *c, const struct ynode *n, const char *what, uint8_t out[16])
{
	if (want(c, n, YAML_SCALAR_NODE, what) < 0)
		return -1;
	const char *s = scalar(n);

	if (strlen(s) != 32)
		return fail(c, n, "%s must be 32 hex digits (128 bits)", what);
	for (int i = 0; i < 16; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return fail(c, n, "%s must be 32 hex digits (128 bits)", what);
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int parse_cookie_secret(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct cookie_config *k = field;

	k->configured = true;
	return get_secret(c, v, what, k->secret);
}

static int parse_previous_secret(struct cfg_ctx *c, struct ynode *v, void *field,
				 const char *what)
{
	struct cookie_config *k = field;

	k->has_previous = true;
	return get_secret(c, v, what, k->previous);
}

static const struct key_row cookie_rows[] = {
	{.name = "enable", .type = K_BOOL, FIELD(struct cookie_config, enable)},
	{.name = "secret", .type = K_CUSTOM, .parse = parse_cookie_secret},
	{.name = "previous-secret", .type = K_CUSTOM, .parse = parse_previous_secret},
};
SECTION(cookie_section, "cookies", "cookies.", cookie_rows);

static int parse_listen_key(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	if (want(c, v, YAML_SCALAR_NODE, what) < 0)
		return -1;
	return parse_listen(c, v, field);
}

static int parse_http_allow(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct http_config *h = field;

	if (parse_acl_list(c, v, what, h->allow, &h->nallow, HTTP_MAX_ALLOW) < 0)
		return -1;
	if (h->nallow == 0)
		return fail(c, v, "http.allow is empty: nobody could connect");
	return 0;
}

static int parse_password_file(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct http_config *h = field;
	char path[PATH_MAX], line[512], *user, *password;
	int rc;

	if (want(c, v, YAML_SCALAR_NODE, what) < 0)
		return -1;
	rc = read_secret_line(c, v, what, path, sizeof(path), line, sizeof(line));
	if (rc == 0)
		rc = split_credentials(c, v, what, path, line, &user, &password);
	if (rc == 0) {
		h->password_file = arena_strdup(&c->cfg->arena, path);
		h->user = arena_strdup(&c->cfg->arena, user);
		h->password = arena_strdup(&c->cfg->arena, password);
	}
	explicit_bzero(line, sizeof(line));
	return rc;
}

static int parse_api_key_file(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct http_config *h = field;
	char path[PATH_MAX], line[512];
	int rc;

	if (want(c, v, YAML_SCALAR_NODE, what) < 0)
		return -1;
	rc = read_secret_line(c, v, what, path, sizeof(path), line, sizeof(line));
	if (rc == 0 && (strlen(line) < 16 || strlen(line) > 256 || strpbrk(line, " \t")))
		rc = fail(c, v, "%s %s: the first line must be the key, 16 to 256 characters "
			  "without spaces", what, path);
	if (rc == 0) {
		h->api_key_file = arena_strdup(&c->cfg->arena, path);
		h->api_key = arena_strdup(&c->cfg->arena, line);
	}
	explicit_bzero(line, sizeof(line));
	return rc;
}

static const struct key_row http_rows[] = {
	{.name = "listen", .type = K_CUSTOM, FIELD(struct http_config, listen),
	 .parse = parse_listen_key, .def = "127.0.0.1@9153"},
	{.name = "allow", .type = K_CUSTOM, .parse = parse_http_allow},
	{.name = "password-file", .type = K_CUSTOM, .parse = parse_password_file},
	{.name = "api-key-file", .type = K_CUSTOM, .parse = parse_api_key_file},
};
SECTION(http_section, "http", "http.", http_rows);

/* the old name of the listener: /metrics only, listen required */
static const struct key_row metrics_rows[] = {
	{.name = "listen", .type = K_CUSTOM, FIELD(struct http_config, listen),
	 .parse = parse_listen_key},
};
SECTION(metrics_section, "metrics", "metrics.", metrics_rows);

static bool is_loopback(const struct listen_addr *l)
{
	if (l->ss.ss_family == AF_INET)
		return ((const uint8_t *)&((const struct sockaddr_in *)&l->ss)->sin_addr)[0] == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&l->ss)->sin6_addr);
}

/* `http:` (or the old `metrics:`, then only listen). */
static int parse_http(struct cfg_ctx *c, const char *key, struct ynode *v)
{
	struct http_config *h = &c->cfg->http;
	bool old = strcmp(key, "metrics") == 0;

	if (h->enable)
		return fail(c, v, "http and metrics are one listener: keep http (metrics is its "
			    "old name, serving /metrics only)");
	h->enable = true;
	h->metrics_only = old;
	if (!old)
		apply_defaults(c, &http_section, h);
	if (walk_section(c, v, old ? &metrics_section : &http_section, h, NULL) < 0)
		return -1;
	if (old && !h->listen.len)
		return fail(c, v, "metrics.listen is required (e.g. 127.0.0.1@9153)");
	/* the page shows the replicas and the API drains them: off loopback,
	 * both need a secret */
	if (!old && !is_loopback(&h->listen) && (!h->password || !h->api_key))
		return fail(c, v, "http.listen %s is not loopback: set http.password-file and "
			    "http.api-key-file", h->listen.text);
	return 0;
}

/* sink: unix:PATH, tcp:ADDRESS@PORT, or a file PATH */
static int parse_dnstap_sink(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct dnstap_config *d = field;

	if (want(c, v, YAML_SCALAR_NODE, what) < 0)
		return -1;
	const char *s = scalar(v);

	d->sink = arena_strdup(&c->cfg->arena, s);
	if (strncmp(s, "tcp:", 4) == 0) {
		struct listen_addr la;
		struct ynode n = *v;

		n.value = s + 4;
		if (parse_listen(c, &n, &la) < 0)
			return -1;
		const char *at = strrchr(la.text, '@');

		if (!strchr(s + 4, '@'))
			return fail(c, v, "dnstap.sink tcp: needs ADDRESS@PORT");
		d->sink_type = DNSTAP_SINK_TCP;
		snprintf(d->tcp_host, sizeof(d->tcp_host), "%.*s", (int)(at - la.text), la.text);
		snprintf(d->tcp_port, sizeof(d->tcp_port), "%s", at + 1);
		return 0;
	}
	bool unix_sock = strncmp(s, "unix:", 5) == 0;
	const char *path = unix_sock ? s + 5 : s;

	if (path[0] == '\0')
		return fail(c, v, "dnstap.sink must be unix:PATH, tcp:ADDRESS@PORT or a file path");
	if (unix_sock && strlen(path) >= 108)
		return fail(c, v, "dnstap.sink: a unix socket path is at most 107 characters");
	d->sink_type = unix_sock ? DNSTAP_SINK_UNIX : DNSTAP_SINK_FILE;
	if (path[0] == '/') {
		d->path = arena_strdup(&c->cfg->arena, path);
	} else {
		char full[PATH_MAX];
		int k = snprintf(full, sizeof(full), "%s/%s", c->dir, path);

		if (k < 0 || (size_t)k >= sizeof(full))
			return fail(c, v, "dnstap.sink path is too long");
		d->path = arena_strdup(&c->cfg->arena, full);
	}
	return 0;
}

static const struct key_row dnstap_rows[] = {
	{.name = "sink", .type = K_CUSTOM, .parse = parse_dnstap_sink},
	{.name = "identity", .type = K_TEXT, FIELD(struct dnstap_config, identity), .max = 255},
	{.name = "log-queries", .type = K_BOOL, FIELD(struct dnstap_config, log_queries),
	 .def = "true"},
	{.name = "log-responses", .type = K_BOOL, FIELD(struct dnstap_config, log_responses),
	 .def = "true"},
	{.name = "sample", .type = K_UINT, FIELD(struct dnstap_config, sample), .min = 1,
	 .max = 1000000, .def = "1"},
};
SECTION(dnstap_section, "dnstap", "dnstap.", dnstap_rows);

static int parse_dnstap(struct cfg_ctx *c, struct ynode *v)
{
	struct dnstap_config *d = &c->cfg->dnstap;

	d->enable = true;
	apply_defaults(c, &dnstap_section, d);
	if (walk_section(c, v, &dnstap_section, d, NULL) < 0)
		return -1;
	if (!d->sink)
		return fail(c, v, "dnstap.sink is required (unix:/run/carousel/dnstap.sock, "
			    "tcp:ADDRESS@PORT or a file)");
	return 0;
}

/* ---- backends ---- */

const char *const backend_policy_names[BP_POLICIES] = {
	[BP_ROUND_ROBIN] = "round-robin",
	[BP_WEIGHTED] = "weighted",
	[BP_LEAST_OUTSTANDING] = "least-outstanding",
	[BP_CONSISTENT_HASH] = "consistent-hash",
	[BP_FIRST_AVAILABLE] = "first-available",
};

struct backend_item {
	struct backend *b;
	struct ynode *name, *domains, *servers;
};

static const struct key_row backend_server_rows[] = {
	{.name = "address", .type = K_CUSTOM, FIELD(struct backend_server, addr),
	 .parse = parse_listen_key},
	{.name = "weight", .type = K_UINT, FIELD(struct backend_server, weight), .min = 1,
	 .max = 1000, .def = "1"},
	{.name = "order", .type = K_UINT, FIELD(struct backend_server, order), .min = 1,
	 .max = 1000, .def = "1"},
};
SECTION(backend_server_section, "a backend server", "backend server ", backend_server_rows);

static int backend_servers(struct cfg_ctx *c, struct backend *b, struct ynode *v)
{
	if (want(c, v, YAML_SEQUENCE_NODE, "backend servers") < 0)
		return -1;
	size_t n = (size_t)v->n;

	if (n == 0)
		return fail(c, v, "backend %s needs at least one server", b->name);
	if (n > BACKEND_MAX_SERVERS)
		return fail(c, v, "backend %s: at most %d servers", b->name, BACKEND_MAX_SERVERS);
	b->servers = arena_alloc(&c->cfg->arena, n * sizeof(*b->servers));
	for (struct ynode **i = v->items; i < v->items + v->n; i++) {
		struct ynode *e = *i;
		struct backend_server *s = &b->servers[b->nservers];

		apply_defaults(c, &backend_server_section, s);
		if (e->type == YAML_SCALAR_NODE) { /* just "ADDRESS@PORT" */
			if (parse_listen(c, e, &s->addr) < 0)
				return -1;
		} else if (walk_section(c, e, &backend_server_section, s, NULL) < 0) {
			return -1;
		}
		if (!s->addr.len)
			return fail(c, e, "backend server needs an address");
		for (unsigned k = 0; k < b->nservers; k++)
			if (strcmp(b->servers[k].addr.text, s->addr.text) == 0)
				return fail(c, e, "server %s appears twice in backend %s",
					    s->addr.text, b->name);
		b->nservers++;
	}
	return 0;
}

enum { CHECK_NAME, CHECK_TYPE, CHECK_INTERVAL, CHECK_TIMEOUT, CHECK_RISE, CHECK_FALL };
static const struct key_row backend_check_rows[] = {
	/* no default: the first domain (parse_backends) */
	[CHECK_NAME] = {.name = "name", .type = K_DNAME, FIELD(struct backend, check_name)},
	[CHECK_TYPE] = {.name = "type", .type = K_CUSTOM, FIELD(struct backend, check_type),
			.parse = parse_qtype, .def = "SOA"},
	[CHECK_INTERVAL] = {.name = "interval", .type = K_DURATION,
			    FIELD(struct backend, check_interval_ms), .min = 100, .def = "1s"},
	[CHECK_TIMEOUT] = {.name = "timeout", .type = K_DURATION,
			   FIELD(struct backend, check_timeout_ms), .min = 10, .def = "500ms"},
	[CHECK_RISE] = {.name = "rise", .type = K_UINT, FIELD(struct backend, rise), .min = 1,
			.max = 100, .def = "2"},
	[CHECK_FALL] = {.name = "fall", .type = K_UINT, FIELD(struct backend, fall), .min = 1,
			.max = 100, .def = "3"},
};
SECTION(backend_check_section, "check", "check ", backend_check_rows);

static int parse_backend_check(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct ynode *given[MAX_ROWS];

	(void)what;
	if (walk_section(c, v, &backend_check_section, field, given) < 0)
		return -1;
	c->check_named = given[CHECK_NAME] != NULL;
	return 0;
}

static const struct key_row backend_cache_rows[] = {
	{.name = "size", .type = K_SIZE, FIELD(struct backend, cache_size), .def = "16M"},
	{.name = "min-ttl", .type = K_DURATION, FIELD(struct backend, cache_min_ttl), .unit = U_S},
	{.name = "max-ttl", .type = K_DURATION, FIELD(struct backend, cache_max_ttl), .unit = U_S,
	 .def = "24h"},
	{.name = "stale", .type = K_DURATION, FIELD(struct backend, cache_stale), .unit = U_S},
};
SECTION(backend_cache_section, "cache", "cache ", backend_cache_rows);

static int parse_backend_cache(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct backend *b = field;

	(void)what;
	b->cache = true;
	if (walk_section(c, v, &backend_cache_section, b, NULL) < 0)
		return -1;
	if (b->cache_min_ttl > b->cache_max_ttl)
		return fail(c, v, "cache min-ttl is above max-ttl");
	return 0;
}

static int parse_backend_allow(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct backend *b = field;

	if (want(c, v, YAML_SEQUENCE_NODE, what) < 0)
		return -1;
	if (v->n == 0)
		return fail(c, v, "backend allow needs at least one prefix (leave it out to use "
			    "recursion.allow)");
	b->allow = arena_alloc(&c->cfg->arena, v->n * sizeof(*b->allow));
	return parse_acl_list(c, v, what, b->allow, &b->nallow, v->n);
}

static int check_backend_name(struct cfg_ctx *c, const struct ynode *v, const char *what)
{
	const char *s = scalar(v);

	(void)what;
	if (!*s || strlen(s) > 63 ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
		    strlen(s))
		return fail(c, v, "backend name '%s' must be 1-63 letters, digits, '-', '_' or '.'",
			    s);
	return 0;
}

enum {
	BACKEND_NAME, BACKEND_DOMAINS, BACKEND_POLICY, BACKEND_SERVERS, BACKEND_CHECK,
	BACKEND_CACHE, BACKEND_TIMEOUT, BACKEND_ALLOW
};
static const struct key_row backend_rows[] = {
	[BACKEND_NAME] = {.name = "name", .type = K_TEXT, FIELD(struct backend, name),
			  .check = check_backend_name},
	[BACKEND_DOMAINS] = {.name = "domains", .type = K_NODE},
	[BACKEND_POLICY] = {.name = "policy", .type = K_CHOICE, FIELD(struct backend, policy),
			    CHOICES(backend_policy_names), .def = "round-robin"},
	[BACKEND_SERVERS] = {.name = "servers", .type = K_NODE},
	[BACKEND_CHECK] = {.name = "check", .type = K_CUSTOM, .parse = parse_backend_check},
	[BACKEND_CACHE] = {.name = "cache", .type = K_CUSTOM, .parse = parse_backend_cache},
	[BACKEND_TIMEOUT] = {.name = "timeout", .type = K_DURATION, FIELD(struct backend, timeout_ms),
			     .min = 10, .max = 30000, .def = "1s"},
	[BACKEND_ALLOW] = {.name = "allow", .type = K_CUSTOM, .parse = parse_backend_allow},
};
SECTION(backend_section, "a backend", "backend ", backend_rows);

static int backend_domains(struct cfg_ctx *c, struct backend_item *bi)
{
	struct backend *b = bi->b;
	struct ynode *v = bi->domains;
	size_t n = v->type == YAML_SEQUENCE_NODE
			   ? (size_t)v->n
			   : 0;

	if (want(c, v, YAML_SEQUENCE_NODE, "backend domains") < 0)
		return -1;
	if (n == 0)
		return fail(c, v, "backend %s needs at least one domain", b->name);
	b->domains = arena_alloc(&c->cfg->arena, n * sizeof(*b->domains));
	for (struct ynode **i = v->items; i < v->items + v->n; i++) {
		struct ynode *e = *i;
		uint8_t *d = b->domains[b->ndomains];

		if (get_dname(c, e, "backend domain", d) < 0)
			return -1;
		/* one group per domain, over every group parsed so far */
		for (struct backend *o = c->cfg->backends; o <= b; o++)
			for (unsigned k = 0; k < (o == b ? b->ndomains : o->ndomains); k++)
				if (dname_equal(o->domains[k], d))
					return fail(c, e, "domain %s is already forwarded to backend "
						    "%s", scalar(e), o->name);
		b->ndomains++;
	}
	return 0;
}

static int parse_backends(struct cfg_ctx *c, struct ynode *seq)
{
	struct config *cfg = c->cfg;

	if (want(c, seq, YAML_SEQUENCE_NODE, "backends") < 0)
		return -1;
	size_t n = (size_t)seq->n;

	cfg->backends = arena_alloc(&cfg->arena, (n ? n : 1) * sizeof(*cfg->backends));
	for (struct ynode **i = seq->items; i < seq->items + seq->n; i++) {
		struct ynode *e = *i;
		struct backend *b = &cfg->backends[cfg->nbackends];
		struct ynode *given[MAX_ROWS];

		memset(b, 0, sizeof(*b));
		b->line = (int)e->line;
		apply_defaults(c, &backend_section, b);
		apply_defaults(c, &backend_check_section, b);
		apply_defaults(c, &backend_cache_section, b);
		c->check_named = false;
		if (walk_section(c, e, &backend_section, b, given) < 0)
			return -1;
		struct backend_item bi = {b, given[BACKEND_NAME], given[BACKEND_DOMAINS],
					  given[BACKEND_SERVERS]};

		if (!bi.name)
			return fail(c, e, "a backend needs a name");
		for (unsigned k = 0; k < cfg->nbackends; k++)
			if (strcmp(cfg->backends[k].name, b->name) == 0)
				return fail(c, bi.name, "backend %s is defined twice", b->name);
		if (!bi.domains)
			return fail(c, e, "backend %s needs domains", b->name);
		if (!bi.servers)
			return fail(c, e, "backend %s needs servers", b->name);
		if (backend_domains(c, &bi) < 0 || backend_servers(c, b, bi.servers) < 0)
			return -1;
		if (!c->check_named) /* the check asks for the first domain's SOA by default */
			memcpy(b->check_name, b->domains[0], dname_len(b->domains[0]));
		cfg->nbackends++;
	}
	return 0;
}

const struct backend *config_find_backend(const struct config *cfg, const uint8_t *name,
					  size_t *domain_len)
{
	const struct backend *best = NULL;
	size_t best_len = 0;

	for (unsigned i = 0; i < cfg->nbackends; i++) {
		const struct backend *b = &cfg->backends[i];

		for (unsigned k = 0; k < b->ndomains; k++) {
			size_t len = dname_len(b->domains[k]);

			if ((!best || len > best_len) && dname_is_sub(name, b->domains[k])) {
				best = b;
				best_len = len;
			}
		}
	}
	*domain_len = best_len;
	return best;
}

/* The top-level sections, each read by its parser (field: unused). */
static int top_server(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	(void)field, (void)what;
	return walk_section(c, v, &server_section, c->cfg, NULL);
}

static int top_zones(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	(void)field, (void)what;
	return parse_zones(c, v);
}

static int top_pools(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	(void)field, (void)what;
	return parse_pools(c, v);
}

static int top_dataplane(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	(void)field, (void)what;
	return parse_dataplane(c, v);
}

static int top_recursion(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	(void)field, (void)what;
	return parse_recursion(c, v);
}

static int top_rrl(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	(void)field, (void)what;
	c->cfg->rrl.enable = true; /* a section turns it on unless it says enable: false */
	return walk_section(c, v, &rrl_section, &c->cfg->rrl, NULL);
}

static int top_cookies(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	(void)field, (void)what;
	c->cfg->cookies.enable = true;
	return walk_section(c, v, &cookie_section, &c->cfg->cookies, NULL);
}

static int top_http(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	(void)field;
	return parse_http(c, what, v);
}

static int top_backends(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	(void)field, (void)what;
	return parse_backends(c, v);
}

static int top_dnstap(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	(void)field, (void)what;
	return parse_dnstap(c, v);
}

static int top_fleet(struct cfg_ctx *c, struct ynode *v, void *field, const char *what)
{
	struct fleet_ctx fc = {c->cfg, c->path, c->dir, c->err, c->err_len};

	(void)field;
	return strcmp(what, "keys") == 0 ? fleet_parse_keys(&fc, v) : fleet_parse_anycast(&fc, v);
}

static const struct key_row top_rows[] = {
	{.name = "server", .type = K_CUSTOM, .parse = top_server},
	{.name = "zones", .type = K_CUSTOM, .parse = top_zones},
	{.name = "pools", .type = K_CUSTOM, .parse = top_pools},
	{.name = "dataplane", .type = K_CUSTOM, .parse = top_dataplane},
	{.name = "recursion", .type = K_CUSTOM, .parse = top_recursion},
	{.name = "rrl", .type = K_CUSTOM, .parse = top_rrl},
	{.name = "cookies", .type = K_CUSTOM, .parse = top_cookies},
	{.name = "metrics", .type = K_CUSTOM, .parse = top_http},
	{.name = "backends", .type = K_CUSTOM, .parse = top_backends},
	{.name = "http", .type = K_CUSTOM, .parse = top_http},
	{.name = "dnstap", .type = K_CUSTOM, .parse = top_dnstap},
	{.name = "keys", .type = K_CUSTOM, .parse = top_fleet},
	{.name = "anycast", .type = K_CUSTOM, .parse = top_fleet},
};
SECTION(top_section, "the config", "", top_rows);

/* `pools:` an item at a time, each dropped once read: what makes a
 * million names fit. Pools need their zones, so this is only done when
 * `zones:` came first (as it does in every config we ship); otherwise the
 * list is read whole and taken apart after the rest. */
static int stream_pools(struct cfg_ctx *c, struct ytree *t)
{
	struct ynode *seq, *item;
	int rc;

	if (ytree_begin_items(t, &seq) < 0) /* not a list as it is read (or *alias) */
		return seq ? parse_pools(c, seq) : -1;
	struct ytree_mark m = ytree_mark(t);

	while ((rc = ytree_next_item(t, &item)) > 0) {
		if (parse_pool(c, item) < 0)
			return -1;
		if (!ytree_release(t, m))
			m = ytree_mark(t);
	}
	return rc;
}

/* The top level, a key at a time, in file order; pools after the rest
 * unless they could be read as they came (stream_pools). */
static int load_top(struct cfg_ctx *c, struct ytree *t)
{
	bool seen[sizeof(top_rows) / sizeof(top_rows[0])] = {0}, zones = false;
	struct ynode *k, *pools = NULL;
	int rc;

	while ((rc = ytree_next_key(t, &k)) > 0) {
		const struct key_row *r = NULL;

		for (const struct key_row *q = top_rows; q < top_rows + top_section.nrows; q++)
			if (strcmp(q->name, scalar(k)) == 0)
				r = q;
		if (r && seen[r - top_rows])
			return fail(c, k, "duplicate key '%s' in the config", scalar(k));
		if (!r)
			return fail(c, k, "unknown key '%s' in the config", scalar(k));
		seen[r - top_rows] = true;
		if (r->parse == top_pools && zones) {
			if (stream_pools(c, t) < 0)
				return -1;
			continue;
		}
		struct ynode *v = ytree_value(t);

		if (!v)
			return -1;
		if (r->parse == top_pools) {
			pools = v;
			continue;
		}
		zones |= r->parse == top_zones;
		if (r->parse(c, v, NULL, r->name) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	return pools ? parse_pools(c, pools) : 0;
}

struct config *config_load(const char *path, char *err, size_t err_len)
{
	static uint32_t generation;
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct cfg_ctx c = {.cfg = cfg, .path = path, .err = err, .err_len = err_len};
	struct ytree *t;
	struct ynode *root;
	int rc = -1;

	if (!cfg)
		abort();
	err[0] = '\0';
	arena_init(&cfg->arena);
	cfg->path = arena_strdup(&cfg->arena, path);
	cfg->generation = ++generation;
	apply_defaults(&c, &server_section, cfg);
	apply_defaults(&c, &rrl_section, &cfg->rrl);
	apply_defaults(&c, &recursion_section, &cfg->rec);
	cfg->rec.nallow = 2; /* loopback only: never an open resolver */
	cfg->rec.allow[0] = (struct acl_entry){.family = AF_INET, .addr = {127}, .prefix = 8};
	cfg->rec.allow[1] = (struct acl_entry){.family = AF_INET6, .addr = {[15] = 1}, .prefix = 128};
	const char *slash = strrchr(path, '/');

	if (slash)
		snprintf(c.dir, sizeof(c.dir), "%.*s", (int)(slash - path), path);
	else
		snprintf(c.dir, sizeof(c.dir), ".");
	t = ytree_open(path, err, err_len);
	if (!t) {
		config_free(cfg);
		return NULL;
	}
	root = ytree_root(t);
	if (load_top(&c, t) < 0 || finish_pools(&c) < 0)
		goto out;
	if (cfg->nlisten == 0) {
		fail(&c, root, "server.listen is required");
		goto out;
	}
	if (!cfg->zone_buckets && !cfg->nbackends && !cfg->rec.enable) {
		fail(&c, root, "at least one zone, backend group or recursion.enable is required");
		goto out;
	}
	for (unsigned i = 0; i < cfg->nbackends; i++) {
		const struct backend *b = &cfg->backends[i];

		for (unsigned k = 0; k < b->ndomains; k++) {
			const struct zone *z = config_find_zone(cfg, b->domains[k]);

			size_t len = dname_len(b->domains[k]);

			/* one source of answers per name, on every path: the fast
			 * paths serve zone data and know nothing of backends */
			if (z && (z->apex_len == len || zone_find(z, b->domains[k], len))) {
				char text[DNAME_STRLEN];

				dname_to_str(b->domains[k], text, sizeof(text));
				snprintf(err, err_len, "%s:%d:1: backend %s: %s %s", path, b->line,
					 b->name, text,
					 z->apex_len == len ? "is also a zone of ours"
							    : "has data in a zone of ours");
				goto out;
			}
		}
	}
	struct fleet_ctx fc = {cfg, path, c.dir, err, err_len};

	if (fleet_finish(&fc) < 0)
		goto out;
	pool_views_init(cfg);
	config_set_workers(cfg, cfg->workers);
	if (!cfg->cookies.configured && getrandom(cfg->cookies.secret, 16, 0) != 16) {
		fail(&c, root, "no randomness for the cookie secret");
		goto out;
	}
	if (!cfg->dp.max_entries) {
		/* every pool name and alias, A and AAAA, a quarter more for
		 * promoted cache answers and growth, at least 64 Ki */
		size_t names = 0;

		for (unsigned i = 0; i < cfg->npools; i++)
			names += 2 * (1 + (size_t)cfg->pools[i]->naliases);
		names += names / 4;
		cfg->dp.max_entries = names < 65536 ? 65536 : names > (1u << 26) ? 1u << 26
										  : (unsigned)names;
		cfg->dp.max_entries_sized = true;
	}
	rc = 0;
out:
	if (getenv("CAROUSEL_YTREE_STATS"))
		fprintf(stderr, "ytree-bytes %zu\n", ytree_peak(t));
	ytree_close(t);
	free(c.fallbacks);
	if (rc < 0) {
		if (c.pools_cap) { /* not moved into the arena yet */
			free(cfg->pools);
			cfg->pools = NULL;
			cfg->npools = 0;
		}
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

void config_set_workers(struct config *cfg, unsigned workers)
{
	for (unsigned i = 0; i < cfg->npools; i++) {
		struct pool *p = cfg->pools[i];

		if (p->state_workers >= workers)
			continue;
		p->state = arena_alloc_aligned(&cfg->arena, workers * sizeof(*p->state),
					       alignof(struct rot_state));
		p->state_workers = workers;
	}
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (unsigned i = 0; i < cfg->npools; i++)
		pool_view_free(atomic_load(&cfg->pools[i]->view));
	arena_free(&cfg->arena);
	free(cfg);
}
