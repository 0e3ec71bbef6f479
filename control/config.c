/* config.c -- YAML config loader (libyaml document API): every error is
 * reported as file:line:col, and a config is only returned whole. */
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
};

__attribute__((format(printf, 3, 4))) static int fail(struct cfg_ctx *c, const struct ynode *n,
						     const char *fmt, ...)
{
	va_list ap;
	int k = snprintf(c->err, c->err_len, "%s:%u:%u: ", c->path,
			 n ? n->line : 1, n ? n->column : 1);

	if (k < 0 || (size_t)k >= c->err_len)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + k, c->err_len - (size_t)k, fmt, ap);
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

/* Walk a mapping, checking every key against the allowed list. */
typedef int (*key_fn)(struct cfg_ctx *c, const char *key, struct ynode *val, void *arg);

static int walk_map(struct cfg_ctx *c, struct ynode *map, const char *what,
		    const char *const *allowed, key_fn fn, void *arg)
{
	if (want(c, map, YAML_MAPPING_NODE, what) < 0)
		return -1;
	for (struct ypair *p = map->pairs; p < map->pairs + map->n; p++) {
		struct ynode *k = p->key, *v = p->value;
		bool ok = false;

		if (k->type != YAML_SCALAR_NODE)
			return fail(c, k, "keys in %s must be plain words", what);
		for (struct ypair *q = map->pairs; q < p; q++) {
			struct ynode *k2 = q->key;

			if (k2->type == YAML_SCALAR_NODE && strcmp(scalar(k2), scalar(k)) == 0)
				return fail(c, k, "duplicate key '%s' in %s", scalar(k), what);
		}
		for (const char *const *a = allowed; *a; a++)
			ok |= strcmp(*a, scalar(k)) == 0;
		if (!ok)
			return fail(c, k, "unknown key '%s' in %s", scalar(k), what);
		if (fn(c, scalar(k), v, arg) < 0)
			return -1;
	}
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

static int server_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct config *cfg = c->cfg;
	unsigned long u = 0;

	(void)arg;
	if (strcmp(key, "listen") == 0) {
		if (v->type == YAML_SCALAR_NODE) {
			cfg->nlisten = 1;
			return parse_listen(c, v, &cfg->listen[0]);
		}
		if (want(c, v, YAML_SEQUENCE_NODE, "server.listen") < 0)
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
	if (strcmp(key, "workers") == 0) {
		if (get_uint(c, v, "server.workers", 1, ROT_MAX_WORKERS, &u) < 0)
			return -1;
		cfg->workers = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "control-socket") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "server.control-socket") < 0)
			return -1;
		if (strlen(scalar(v)) >= 100 || scalar(v)[0] == '\0')
			return fail(c, v, "server.control-socket must be a path under 100 bytes");
		cfg->control_socket = arena_strdup(&cfg->arena, scalar(v));
		return 0;
	}
	if (strcmp(key, "tcp-idle-timeout") == 0) {
		if (get_duration_ms(c, v, "server.tcp-idle-timeout", &u) < 0)
			return -1;
		if (u < 1000)
			return fail(c, v, "server.tcp-idle-timeout must be at least 1s");
		cfg->tcp_idle_timeout = (unsigned)(u / 1000);
		return 0;
	}
	if (strcmp(key, "tcp-max-per-client") == 0) {
		if (get_uint(c, v, "server.tcp-max-per-client", 1, 65536, &u) < 0)
			return -1;
		cfg->tcp_max_per_client = (unsigned)u;
		return 0;
	}
	/* tcp-max-clients */
	if (get_uint(c, v, "server.tcp-max-clients", 1, 65536, &u) < 0)
		return -1;
	cfg->tcp_max_clients = (unsigned)u;
	return 0;
}

struct zone_item {
	struct ynode *name, *file, *primary, *key;
};

static int zone_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct zone_item *z = arg;

	(void)c;
	if (strcmp(key, "name") == 0)
		z->name = v;
	else if (strcmp(key, "primary") == 0)
		z->primary = v;
	else if (strcmp(key, "key") == 0)
		z->key = v;
	else
		z->file = v;
	return 0;
}

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
	for (const uint8_t *n = name; n; n = dname_parent(n)) {
		struct zone *z = find_zone_exact(cfg, n);

		if (z)
			return z;
	}
	return NULL;
}

static int parse_zones(struct cfg_ctx *c, struct ynode *seq)
{
	static const char *const keys[] = {"name", "file", "primary", "key", NULL};
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
		struct zone_item zi = {0};
		uint8_t apex[DNAME_MAXLEN];
		char path[PATH_MAX + 64], zerr[CFG_ERR_LEN];

		if (walk_map(c, e, "a zone", keys, zone_key, &zi) < 0)
			return -1;
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

struct monitor_item {
	struct monitor *mon;
	struct ynode *credentials, *query, *timeout;
	bool have_type;
};

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

static int monitor_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct monitor_item *mi = arg;
	struct monitor *m = mi->mon;
	unsigned long u;

	if (strcmp(key, "type") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "monitor type") < 0)
			return -1;
		for (int t = MON_TCP; t < MON_TYPES; t++)
			if (strcmp(scalar(v), monitor_type_names[t]) == 0)
				m->type = (enum monitor_type)t;
		if (m->type == MON_NONE || strcmp(scalar(v), monitor_type_names[m->type]) != 0)
			return fail(c, v, "monitor type must be tcp, http, https, pop3, pop3s, "
				    "imap, imaps, smtp, dns or exec, not '%s'", scalar(v));
		mi->have_type = true;
	} else if (strcmp(key, "port") == 0) {
		if (get_uint(c, v, "monitor port", 1, 65535, &u) < 0)
			return -1;
		m->port = (uint16_t)u;
	} else if (strcmp(key, "interval") == 0) {
		if (get_duration_ms(c, v, "monitor interval", &u) < 0)
			return -1;
		if (u < 10)
			return fail(c, v, "monitor interval must be at least 10ms");
		m->interval_ms = (unsigned)u;
	} else if (strcmp(key, "timeout") == 0) {
		if (get_duration_ms(c, v, "monitor timeout", &u) < 0)
			return -1;
		if (u < 1)
			return fail(c, v, "monitor timeout must be at least 1ms");
		m->timeout_ms = (unsigned)u;
		mi->timeout = v;
	} else if (strcmp(key, "rise") == 0 || strcmp(key, "fall") == 0) {
		if (get_uint(c, v, key[0] == 'r' ? "monitor rise" : "monitor fall", 1, 100, &u) < 0)
			return -1;
		*(key[0] == 'r' ? &m->rise : &m->fall) = (unsigned)u;
	} else if (strcmp(key, "initial") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "monitor initial") < 0)
			return -1;
		if (strcmp(scalar(v), "up") != 0 && strcmp(scalar(v), "down") != 0)
			return fail(c, v, "monitor initial must be up or down, not '%s'", scalar(v));
		m->initial_up = scalar(v)[0] == 'u';
	} else if (strcmp(key, "path") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "monitor path") < 0)
			return -1;
		if (scalar(v)[0] != '/' || strpbrk(scalar(v), " \r\n"))
			return fail(c, v, "monitor path must start with / and hold no spaces");
		m->path = arena_strdup(&c->cfg->arena, scalar(v));
	} else if (strcmp(key, "host") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "monitor host") < 0)
			return -1;
		if (strpbrk(scalar(v), " \r\n") || !scalar(v)[0])
			return fail(c, v, "monitor host must be one word");
		m->host = arena_strdup(&c->cfg->arena, scalar(v));
	} else if (strcmp(key, "tls-verify") == 0) {
		if (get_bool(c, v, "monitor tls-verify", &m->tls_verify) < 0)
			return -1;
	} else if (strcmp(key, "body") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "monitor body") < 0)
			return -1;
		m->body = arena_strdup(&c->cfg->arena, scalar(v));
	} else if (strcmp(key, "expect") == 0) {
		if (get_uint(c, v, "monitor expect", 100, 599, &u) < 0)
			return -1;
		m->expect = (unsigned)u;
	} else if (strcmp(key, "credentials") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "monitor credentials") < 0)
			return -1;
		mi->credentials = v;
	} else if (strcmp(key, "query") == 0) {
		if (get_dname(c, v, "monitor query", m->qname) < 0)
			return -1;
		mi->query = v;
	} else if (strcmp(key, "qtype") == 0) {
		return get_qtype(c, v, "monitor qtype", &m->qtype);
	} else { /* command */
		if (want(c, v, YAML_SCALAR_NODE, "monitor command") < 0)
			return -1;
		m->command = arena_strdup(&c->cfg->arena, scalar(v));
	}
	return 0;
}

/* Read a monitor mapping over *m (defaults, or the pool's for a member). */
static int parse_monitor(struct cfg_ctx *c, struct ynode *v, struct monitor *m, bool inherited)
{
	static const char *const keys[] = {"type",   "port",	 "interval", "timeout",
					   "rise",   "fall",	 "initial",  "path",
					   "host",   "body",	 "expect",   "credentials",
					   "query",  "qtype",	 "command",  "tls-verify",
					   NULL};
	struct monitor_item mi = {.mon = m};

	if (walk_map(c, v, "a monitor", keys, monitor_key, &mi) < 0)
		return -1;
	if (!mi.have_type && !inherited)
		return fail(c, v, "monitor needs a type");
	if (mi.credentials) {
		if (m->type != MON_POP3 && m->type != MON_POP3S && m->type != MON_IMAP &&
		    m->type != MON_IMAPS)
			return fail(c, mi.credentials, "credentials are for pop3 and imap monitors");
		if (read_credentials(c, mi.credentials, m) < 0)
			return -1;
	}
	if (m->tls_verify && !monitor_uses_tls(m->type))
		return fail(c, v, "tls-verify is for https, pop3s and imaps monitors");
	if (m->type == MON_TCP && !m->port)
		return fail(c, v, "a tcp monitor needs a port");
	if (m->type == MON_EXEC && !m->command)
		return fail(c, v, "an exec monitor needs a command");
	if (m->type == MON_DNS && !m->qname[0] && !mi.query)
		return fail(c, v, "a dns monitor needs a query (the name to ask)");
	if (m->timeout_ms > m->interval_ms)
		return fail(c, mi.timeout ? mi.timeout : v,
			    "monitor timeout (%ums) must not exceed its interval (%ums)",
			    m->timeout_ms, m->interval_ms);
	return 0;
}

static void monitor_defaults(struct monitor *m)
{
	*m = (struct monitor){.interval_ms = 5000, .timeout_ms = 2000, .rise = 2, .fall = 3,
			      .initial_up = true, .path = "/", .expect = 200, .qtype = TYPE_SOA};
}

struct pool_item {
	struct pool *pool;
	struct ynode *name, *members, *aliases, *node, *monitor, *fallback, *method;
};

struct member_item {
	struct ynode *address, *weight, *monitor, *group, *clients;
};

static int member_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct member_item *m = arg;

	(void)c;
	if (strcmp(key, "address") == 0)
		m->address = v;
	else if (strcmp(key, "weight") == 0)
		m->weight = v;
	else if (strcmp(key, "monitor") == 0)
		m->monitor = v;
	else if (strcmp(key, "group") == 0)
		m->group = v;
	else
		m->clients = v;
	return 0;
}

/* A member's own policy keys: monitor override, failover group, clients. */
static int member_policy(struct cfg_ctx *c, struct pool *p, struct member_item *mi,
			 struct member *m)
{
	unsigned long u;

	m->monitor = p->monitor;
	if (mi->monitor) {
		struct monitor *mon = arena_alloc(&c->cfg->arena, sizeof(*mon));

		if (p->monitor)
			*mon = *p->monitor;
		else
			monitor_defaults(mon);
		if (parse_monitor(c, mi->monitor, mon, p->monitor != NULL) < 0)
			return -1;
		m->monitor = mon;
	}
	if (mi->group) {
		if (p->method != ROT_FAILOVER)
			return fail(c, mi->group, "member group is for method: failover");
		if (get_uint(c, mi->group, "member group", 0, 1000, &u) < 0)
			return -1;
		m->group = (unsigned)u;
	}
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
	static const char *const keys[] = {"address", "weight", "monitor", "group", "clients",
					   NULL};
	struct pool *p = pi->pool;
	struct ynode *seq = pi->members;
	size_t n;

	if (pi->monitor) {
		struct monitor *mon = arena_alloc(&c->cfg->arena, sizeof(*mon));

		monitor_defaults(mon);
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
		struct member_item mi = {0};
		struct member *m = &p->members[p->nmembers];
		unsigned long w = 1;

		if (walk_map(c, e, "a pool member", keys, member_key, &mi) < 0)
			return -1;
		if (!mi.address)
			return fail(c, e, "pool member needs an address");
		if (want(c, mi.address, YAML_SCALAR_NODE, "member address") < 0)
			return -1;
		if (mi.weight &&
		    get_uint(c, mi.weight, "member weight", 0, ROT_MAX_WEIGHT, &w) < 0)
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
		m->weight = (uint32_t)w;
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

static int pool_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct pool_item *pi = arg;
	struct pool *p = pi->pool;
	unsigned long u;

	if (strcmp(key, "name") == 0) {
		pi->name = v;
	} else if (strcmp(key, "aliases") == 0) {
		if (want(c, v, YAML_SEQUENCE_NODE, "pool aliases") < 0)
			return -1;
		pi->aliases = v;
	} else if (strcmp(key, "members") == 0) {
		pi->members = v;
	} else if (strcmp(key, "method") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "pool method") < 0)
			return -1;
		if (strcmp(scalar(v), "round-robin") == 0)
			p->method = ROT_ROUND_ROBIN;
		else if (strcmp(scalar(v), "weighted") == 0)
			p->method = ROT_WEIGHTED;
		else if (strcmp(scalar(v), "failover") == 0)
			p->method = ROT_FAILOVER;
		else if (strcmp(scalar(v), "topology") == 0)
			p->method = ROT_TOPOLOGY;
		else
			return fail(c, v, "pool method must be round-robin, weighted, failover or "
				    "topology, not '%s'", scalar(v));
		pi->method = v;
	} else if (strcmp(key, "monitor") == 0) {
		pi->monitor = v;
	} else if (strcmp(key, "on-all-down") == 0) {
		if (v->type == YAML_MAPPING_NODE) {
			struct ypair *pr = v->pairs;
			struct ynode *k = v->n ? pr->key : NULL;

			if (v->n != 1 || k->type != YAML_SCALAR_NODE ||
			    strcmp(scalar(k), "pool") != 0)
				return fail(c, v, "on-all-down takes serve-all, servfail or "
					    "{pool: NAME}");
			pi->fallback = pr->value;
			if (want(c, pi->fallback, YAML_SCALAR_NODE, "on-all-down pool") < 0)
				return -1;
			p->on_all_down = ALL_DOWN_POOL;
		} else if (v->type == YAML_SCALAR_NODE && strcmp(scalar(v), "serve-all") == 0) {
			p->on_all_down = ALL_DOWN_SERVE_ALL;
		} else if (v->type == YAML_SCALAR_NODE && strcmp(scalar(v), "servfail") == 0) {
			p->on_all_down = ALL_DOWN_SERVFAIL;
		} else {
			return fail(c, v, "on-all-down takes serve-all, servfail or {pool: NAME}");
		}
	} else if (strcmp(key, "degraded-ttl") == 0) {
		if (get_uint(c, v, "pool degraded-ttl", 0, 2147483647UL, &u) < 0)
			return -1;
		p->degraded_ttl = (uint32_t)u;
	} else if (strcmp(key, "min-up") == 0) {
		if (get_uint(c, v, "pool min-up", 1, ROT_MAX_MEMBERS, &u) < 0)
			return -1;
		p->min_up = (unsigned)u;
	} else if (strcmp(key, "answer-count") == 0) {
		if (get_uint(c, v, "pool answer-count", 0, ROT_MAX_MEMBERS, &u) < 0)
			return -1;
		p->answer_count = (uint32_t)u;
	} else { /* ttl */
		if (get_uint(c, v, "pool ttl", 0, 2147483647UL, &u) < 0)
			return -1;
		p->ttl = (uint32_t)u;
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
	if (!pi->aliases)
		return 0;
	size_t na = (size_t)pi->aliases->n;

	p->aliases = arena_alloc(&cfg->arena, (na ? na : 1) * sizeof(*p->aliases));
	struct rrset *cname = NULL;

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
	}
	return 0;
}

/* One item of `pools:`. Items may come one at a time and be dropped once
 * read, so nothing here keeps a pointer to a node: a fallback's name is
 * kept with where it was, for finish_pools. */
static int parse_pool(struct cfg_ctx *c, struct ynode *e)
{
	static const char *const keys[] = {"name",	   "aliases",	   "method", "answer-count",
					   "ttl",	   "members",	   "monitor", "on-all-down",
					   "degraded-ttl", "min-up",	   NULL};
	struct config *cfg = c->cfg;
	struct pool *p = arena_alloc(&cfg->arena, sizeof(*p));
	struct pool_item pi = {.pool = p, .node = e};

	if (cfg->npools == c->pools_cap) {
		c->pools_cap = c->pools_cap ? c->pools_cap * 2 : 64;
		cfg->pools = realloc(cfg->pools, c->pools_cap * sizeof(*cfg->pools));
		c->fallbacks = realloc(c->fallbacks, c->pools_cap * sizeof(*c->fallbacks));
		if (!cfg->pools || !c->fallbacks)
			abort();
	}
	p->ttl = 30;
	p->degraded_ttl = UINT32_MAX; /* min(ttl, 5) unless given */
	p->min_up = 1;
	p->line = (int)e->line;
	p->index = cfg->npools;
	if (walk_map(c, e, "a pool", keys, pool_key, &pi) < 0)
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
		p->fallback_name = arena_strdup(&cfg->arena, scalar(pi.fallback));
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

static int dp_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct fp_config *dp = &c->cfg->dp;
	unsigned long u = 0;

	(void)arg;
	if (strcmp(key, "port") == 0 || strcmp(key, "exception") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, key) < 0)
			return -1;
		if (scalar(v)[0] == '\0' || strlen(scalar(v)) > 200)
			return fail(c, v, "dataplane.%s must be device arguments like "
				    "net_af_packet0,iface=eth1", key);
		*(key[0] == 'p' ? &dp->port : &dp->exception) = arena_strdup(&c->cfg->arena,
									       scalar(v));
		return 0;
	}
	if (strcmp(key, "interface") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "dataplane.interface") < 0)
			return -1;
		if (scalar(v)[0] == '\0' || strlen(scalar(v)) >= 16)
			return fail(c, v, "dataplane.interface must be an interface name");
		dp->interface = arena_strdup(&c->cfg->arena, scalar(v));
		return 0;
	}
	if (strcmp(key, "xdp-mode") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "dataplane.xdp-mode") < 0)
			return -1;
		if (strcmp(scalar(v), "auto") == 0)
			dp->xdp_mode = XDP_MODE_AUTO;
		else if (strcmp(scalar(v), "native") == 0)
			dp->xdp_mode = XDP_MODE_NATIVE;
		else if (strcmp(scalar(v), "generic") == 0)
			dp->xdp_mode = XDP_MODE_GENERIC;
		else
			return fail(c, v, "dataplane.xdp-mode must be auto, native or generic");
		return 0;
	}
	if (strcmp(key, "address") == 0) {
		if (v->type == YAML_SCALAR_NODE)
			return dp_address(c, v, dp);
		if (want(c, v, YAML_SEQUENCE_NODE, "dataplane.address") < 0)
			return -1;
		for (struct ynode **i = v->items; i < v->items + v->n; i++) {
			struct ynode *e = *i;

			if (want(c, e, YAML_SCALAR_NODE, "an address") < 0 ||
			    dp_address(c, e, dp) < 0)
				return -1;
		}
		return 0;
	}
	if (strcmp(key, "burst") == 0) {
		if (get_uint(c, v, "dataplane.burst", 1, 512, &u) < 0)
			return -1;
		dp->burst = (unsigned)u;
	} else if (strcmp(key, "mbufs") == 0) {
		if (get_uint(c, v, "dataplane.mbufs", 1023, 1048575, &u) < 0)
			return -1;
		dp->mbufs = (unsigned)u;
	} else if (strcmp(key, "dns-port") == 0) {
		if (get_uint(c, v, "dataplane.dns-port", 1, 65535, &u) < 0)
			return -1;
		dp->dns_port = (uint16_t)u;
	} else if (strcmp(key, "max-entries") == 0) {
		if (get_uint(c, v, "dataplane.max-entries", 1024, 1u << 26, &u) < 0)
			return -1;
		dp->max_entries = (unsigned)u;
	} else { /* idle-sleep */
		if (get_duration_ms(c, v, "dataplane.idle-sleep", &u) < 0)
			return -1;
		if (u > 100)
			return fail(c, v, "dataplane.idle-sleep must be at most 100ms");
		dp->idle_sleep_us = (unsigned)(u * 1000);
	}
	return 0;
}

static int parse_dataplane(struct cfg_ctx *c, struct ynode *v)
{
	static const char *const keys[] = {"port",	  "exception",	 "address",  "burst",
					   "mbufs",	  "dns-port",	 "idle-sleep", "interface",
					   "xdp-mode",	  "max-entries", NULL};
	struct fp_config *dp = &c->cfg->dp;

	dp->present = true;
	dp->exception = "net_tap0,iface=cartap0";
	dp->burst = 32;
	dp->mbufs = 8191;
	dp->dns_port = 53;
	dp->idle_sleep_us = 1000;
	if (walk_map(c, v, "dataplane", keys, dp_key, NULL) < 0)
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

static int rec_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct rec_config *r = &c->cfg->rec;
	unsigned long u = 0;

	(void)arg;
	if (strcmp(key, "enable") == 0)
		return get_bool(c, v, "recursion.enable", &r->enable);
	if (strcmp(key, "prefetch") == 0)
		return get_bool(c, v, "recursion.prefetch", &r->prefetch);
	if (strcmp(key, "query-loopback") == 0)
		return get_bool(c, v, "recursion.query-loopback", &r->query_loopback);
	if (strcmp(key, "cache-size") == 0)
		return get_size(c, v, "recursion.cache-size", &r->cache_size);
	if (strcmp(key, "mode") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "recursion.mode") < 0)
			return -1;
		if (strcmp(scalar(v), "iterate") == 0)
			r->forward = false;
		else if (strcmp(scalar(v), "forward") == 0)
			r->forward = true;
		else
			return fail(c, v, "recursion.mode must be iterate or forward, not '%s'",
				    scalar(v));
		return 0;
	}
	if (strcmp(key, "root-hints") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "recursion.root-hints") < 0)
			return -1;
		if (access(scalar(v), R_OK) != 0)
			return fail(c, v, "cannot read root hints '%s': %s", scalar(v),
				    strerror(errno));
		r->root_hints = arena_strdup(&c->cfg->arena, scalar(v));
		return 0;
	}
	if (strcmp(key, "forwarders") == 0 || strcmp(key, "allow") == 0) {
		bool fwd = key[0] == 'f';

		if (want(c, v, YAML_SEQUENCE_NODE, fwd ? "recursion.forwarders" : "recursion.allow") < 0)
			return -1;
		if (!fwd)
			r->nallow = 0;
		for (struct ynode **i = v->items; i < v->items + v->n; i++) {
			struct ynode *e = *i;

			if (want(c, e, YAML_SCALAR_NODE, "an address") < 0)
				return -1;
			if (!fwd) {
				if (r->nallow == REC_MAX_ALLOW)
					return fail(c, e, "at most %d allow entries", REC_MAX_ALLOW);
				if (parse_acl(c, e, &r->allow[r->nallow]) < 0)
					return -1;
				r->nallow++;
				continue;
			}
			struct listen_addr la;

			if (r->nforwarders == REC_MAX_FORWARDERS)
				return fail(c, e, "at most %d forwarders", REC_MAX_FORWARDERS);
			if (parse_listen(c, e, &la) < 0)
				return -1;
			r->forwarders[r->nforwarders++] = arena_strdup(&c->cfg->arena, la.text);
		}
		return 0;
	}
	if (strcmp(key, "serve-stale") == 0) {
		if (get_duration_ms(c, v, "recursion.serve-stale", &u) < 0)
			return -1;
		r->serve_stale = (unsigned)(u / 1000);
		return 0;
	}
	if (strcmp(key, "min-ttl") == 0 || strcmp(key, "max-ttl") == 0) {
		if (get_duration_ms(c, v, key, &u) < 0)
			return -1;
		*(key[1] == 'i' ? &r->min_ttl : &r->max_ttl) = (uint32_t)(u / 1000);
		return 0;
	}
	/* promote-qps */
	if (get_uint(c, v, "recursion.promote-qps", 0, 100000000, &u) < 0)
		return -1;
	r->promote_qps = (uint32_t)u;
	return 0;
}

static int parse_recursion(struct cfg_ctx *c, struct ynode *v)
{
	static const char *const keys[] = {"enable",	  "mode",	  "root-hints",
					   "forwarders",  "allow",	  "cache-size",
					   "prefetch",	  "serve-stale",  "query-loopback",
					   "min-ttl",	  "max-ttl",	  "promote-qps", NULL};
	struct rec_config *r = &c->cfg->rec;

	if (walk_map(c, v, "recursion", keys, rec_key, NULL) < 0)
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

static int rrl_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct rrl_config *r = &c->cfg->rrl;
	unsigned long u = 0;

	(void)arg;
	if (strcmp(key, "enable") == 0)
		return get_bool(c, v, "rrl.enable", &r->enable);
	if (strcmp(key, "rate-limit") == 0) {
		if (get_uint(c, v, "rrl.rate-limit", 1, 60000, &u) < 0)
			return -1;
		r->rate = (unsigned)u;
	} else if (strcmp(key, "slip") == 0) {
		if (get_uint(c, v, "rrl.slip", 0, 100, &u) < 0)
			return -1;
		r->slip = (unsigned)u;
	} else if (strcmp(key, "ipv4-prefix") == 0) {
		if (get_uint(c, v, "rrl.ipv4-prefix", 8, 32, &u) < 0)
			return -1;
		r->v4_prefix = (unsigned)u;
	} else if (strcmp(key, "ipv6-prefix") == 0) {
		if (get_uint(c, v, "rrl.ipv6-prefix", 16, 128, &u) < 0)
			return -1;
		r->v6_prefix = (unsigned)u;
	} else { /* table-size */
		if (get_uint(c, v, "rrl.table-size", 1024, 16777216, &u) < 0)
			return -1;
		r->table_size = (unsigned)u;
	}
	return 0;
}

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

static int cookie_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct cookie_config *k = &c->cfg->cookies;

	(void)arg;
	if (strcmp(key, "enable") == 0)
		return get_bool(c, v, "cookies.enable", &k->enable);
	if (strcmp(key, "secret") == 0) {
		k->configured = true;
		return get_secret(c, v, "cookies.secret", k->secret);
	}
	k->has_previous = true;
	return get_secret(c, v, "cookies.previous-secret", k->previous);
}

static int http_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct http_config *h = &c->cfg->http;
	char path[PATH_MAX], line[512], *user, *password;
	int rc;

	(void)arg;
	if (strcmp(key, "listen") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "http.listen") < 0)
			return -1;
		return parse_listen(c, v, &h->listen);
	}
	if (strcmp(key, "allow") == 0) {
		if (want(c, v, YAML_SEQUENCE_NODE, "http.allow") < 0)
			return -1;
		for (struct ynode **i = v->items; i < v->items + v->n; i++) {
			struct ynode *e = *i;

			if (want(c, e, YAML_SCALAR_NODE, "an address") < 0)
				return -1;
			if (h->nallow == HTTP_MAX_ALLOW)
				return fail(c, e, "at most %d allow entries", HTTP_MAX_ALLOW);
			if (parse_acl(c, e, &h->allow[h->nallow]) < 0)
				return -1;
			h->nallow++;
		}
		if (h->nallow == 0)
			return fail(c, v, "http.allow is empty: nobody could connect");
		return 0;
	}
	if (want(c, v, YAML_SCALAR_NODE, key) < 0)
		return -1;
	if (strcmp(key, "password-file") == 0) {
		rc = read_secret_line(c, v, "http.password-file", path, sizeof(path), line,
				      sizeof(line));
		if (rc == 0)
			rc = split_credentials(c, v, "http.password-file", path, line, &user,
					       &password);
		if (rc == 0) {
			h->password_file = arena_strdup(&c->cfg->arena, path);
			h->user = arena_strdup(&c->cfg->arena, user);
			h->password = arena_strdup(&c->cfg->arena, password);
		}
	} else { /* api-key-file */
		rc = read_secret_line(c, v, "http.api-key-file", path, sizeof(path), line,
				      sizeof(line));
		if (rc == 0 && (strlen(line) < 16 || strlen(line) > 256 || strpbrk(line, " \t")))
			rc = fail(c, v, "http.api-key-file %s: the first line must be the key, "
				  "16 to 256 characters without spaces", path);
		if (rc == 0) {
			h->api_key_file = arena_strdup(&c->cfg->arena, path);
			h->api_key = arena_strdup(&c->cfg->arena, line);
		}
	}
	explicit_bzero(line, sizeof(line));
	return rc;
}

static bool is_loopback(const struct listen_addr *l)
{
	if (l->ss.ss_family == AF_INET)
		return ((const uint8_t *)&((const struct sockaddr_in *)&l->ss)->sin_addr)[0] == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&l->ss)->sin6_addr);
}

/* `http:` (or the old `metrics:`, then only listen). */
static int parse_http(struct cfg_ctx *c, const char *key, struct ynode *v)
{
	static const char *const http_keys[] = {"listen", "allow", "password-file",
						"api-key-file", NULL};
	static const char *const metrics_keys[] = {"listen", NULL};
	struct http_config *h = &c->cfg->http;
	bool old = strcmp(key, "metrics") == 0;

	if (h->enable)
		return fail(c, v, "http and metrics are one listener: keep http (metrics is its "
			    "old name, serving /metrics only)");
	h->enable = true;
	h->metrics_only = old;
	if (walk_map(c, v, key, old ? metrics_keys : http_keys, http_key, NULL) < 0)
		return -1;
	if (old && !h->listen.len)
		return fail(c, v, "metrics.listen is required (e.g. 127.0.0.1@9153)");
	if (!h->listen.len) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&h->listen.ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(9153);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		h->listen.len = sizeof(*sin);
		snprintf(h->listen.text, sizeof(h->listen.text), "127.0.0.1@9153");
	}
	/* the page shows the replicas and the API drains them: off loopback,
	 * both need a secret */
	if (!old && !is_loopback(&h->listen) && (!h->password || !h->api_key))
		return fail(c, v, "http.listen %s is not loopback: set http.password-file and "
			    "http.api-key-file", h->listen.text);
	return 0;
}

static int dnstap_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct dnstap_config *d = &c->cfg->dnstap;
	unsigned long u;

	(void)arg;
	if (strcmp(key, "log-queries") == 0)
		return get_bool(c, v, "dnstap.log-queries", &d->log_queries);
	if (strcmp(key, "log-responses") == 0)
		return get_bool(c, v, "dnstap.log-responses", &d->log_responses);
	if (strcmp(key, "sample") == 0) {
		if (get_uint(c, v, "dnstap.sample", 1, 1000000, &u) < 0)
			return -1;
		d->sample = (unsigned)u;
		return 0;
	}
	if (want(c, v, YAML_SCALAR_NODE, key) < 0)
		return -1;
	const char *s = scalar(v);

	if (strcmp(key, "identity") == 0) {
		if (strlen(s) > 255)
			return fail(c, v, "dnstap.identity is longer than 255 characters");
		d->identity = arena_strdup(&c->cfg->arena, s);
		return 0;
	}
	/* sink: unix:PATH, tcp:ADDRESS@PORT, or a file PATH */
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

static int parse_dnstap(struct cfg_ctx *c, struct ynode *v)
{
	static const char *const keys[] = {"sink", "identity", "log-queries", "log-responses",
					   "sample", NULL};
	struct dnstap_config *d = &c->cfg->dnstap;

	d->enable = true;
	d->log_queries = d->log_responses = true;
	d->sample = 1;
	if (walk_map(c, v, "dnstap", keys, dnstap_key, NULL) < 0)
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
	struct ynode *name, *domains, *servers, *check_name;
};

static int backend_server_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct backend_server *s = arg;
	unsigned long u = 0;

	if (strcmp(key, "address") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "backend server address") < 0)
			return -1;
		return parse_listen(c, v, &s->addr);
	}
	if (strcmp(key, "weight") == 0) {
		if (get_uint(c, v, "backend server weight", 1, 1000, &u) < 0)
			return -1;
		s->weight = (uint32_t)u;
		return 0;
	}
	if (get_uint(c, v, "backend server order", 1, 1000, &u) < 0)
		return -1;
	s->order = (uint32_t)u;
	return 0;
}

static int backend_servers(struct cfg_ctx *c, struct backend *b, struct ynode *v)
{
	static const char *const keys[] = {"address", "weight", "order", NULL};
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

		*s = (struct backend_server){.weight = 1, .order = 1};
		if (e->type == YAML_SCALAR_NODE) { /* just "ADDRESS@PORT" */
			if (parse_listen(c, e, &s->addr) < 0)
				return -1;
		} else if (walk_map(c, e, "a backend server", keys, backend_server_key, s) < 0) {
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

static int backend_check_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct backend_item *bi = arg;
	struct backend *b = bi->b;
	unsigned long u = 0;

	if (strcmp(key, "name") == 0) {
		bi->check_name = v;
		return get_dname(c, v, "check name", b->check_name);
	}
	if (strcmp(key, "type") == 0)
		return get_qtype(c, v, "check type", &b->check_type);
	if (strcmp(key, "interval") == 0 || strcmp(key, "timeout") == 0) {
		bool iv = key[0] == 'i';

		if (get_duration_ms(c, v, iv ? "check interval" : "check timeout", &u) < 0)
			return -1;
		if (u < (iv ? 100 : 10))
			return fail(c, v, "check %s must be at least %s", key, iv ? "100ms" : "10ms");
		*(iv ? &b->check_interval_ms : &b->check_timeout_ms) = (unsigned)u;
		return 0;
	}
	if (get_uint(c, v, key[0] == 'r' ? "check rise" : "check fall", 1, 100, &u) < 0)
		return -1;
	*(key[0] == 'r' ? &b->rise : &b->fall) = (unsigned)u;
	return 0;
}

static int backend_cache_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct backend *b = arg;
	unsigned long u = 0;

	if (strcmp(key, "size") == 0)
		return get_size(c, v, "cache size", &b->cache_size);
	if (get_duration_ms(c, v, key, &u) < 0)
		return -1;
	if (strcmp(key, "min-ttl") == 0)
		b->cache_min_ttl = (uint32_t)(u / 1000);
	else if (strcmp(key, "max-ttl") == 0)
		b->cache_max_ttl = (uint32_t)(u / 1000);
	else
		b->cache_stale = (uint32_t)(u / 1000);
	return 0;
}

static int backend_key(struct cfg_ctx *c, const char *key, struct ynode *v, void *arg)
{
	struct backend_item *bi = arg;
	struct backend *b = bi->b;
	unsigned long u = 0;

	if (strcmp(key, "name") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "backend name") < 0)
			return -1;
		const char *s = scalar(v);

		if (!*s || strlen(s) > 63 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
						     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
							    strlen(s))
			return fail(c, v, "backend name '%s' must be 1-63 letters, digits, '-', "
				    "'_' or '.'", s);
		b->name = arena_strdup(&c->cfg->arena, s);
		bi->name = v;
		return 0;
	}
	if (strcmp(key, "domains") == 0) {
		bi->domains = v;
		return 0; /* after the name: messages name the group */
	}
	if (strcmp(key, "servers") == 0) {
		bi->servers = v;
		return 0;
	}
	if (strcmp(key, "policy") == 0) {
		if (want(c, v, YAML_SCALAR_NODE, "backend policy") < 0)
			return -1;
		for (unsigned p = 0; p < BP_POLICIES; p++)
			if (strcmp(scalar(v), backend_policy_names[p]) == 0) {
				b->policy = (enum backend_policy)p;
				return 0;
			}
		return fail(c, v, "backend policy must be round-robin, weighted, "
			    "least-outstanding, consistent-hash or first-available, not '%s'",
			    scalar(v));
	}
	if (strcmp(key, "check") == 0) {
		static const char *const keys[] = {"name", "type", "interval", "timeout",
						   "rise", "fall", NULL};

		return walk_map(c, v, "check", keys, backend_check_key, bi);
	}
	if (strcmp(key, "cache") == 0) {
		static const char *const keys[] = {"size", "min-ttl", "max-ttl", "stale", NULL};

		b->cache = true;
		if (walk_map(c, v, "cache", keys, backend_cache_key, b) < 0)
			return -1;
		if (b->cache_min_ttl > b->cache_max_ttl)
			return fail(c, v, "cache min-ttl is above max-ttl");
		return 0;
	}
	if (strcmp(key, "timeout") == 0) {
		if (get_duration_ms(c, v, "backend timeout", &u) < 0)
			return -1;
		if (u < 10 || u > 30000)
			return fail(c, v, "backend timeout must be between 10ms and 30s");
		b->timeout_ms = (unsigned)u;
		return 0;
	}
	/* allow */
	size_t n = v->type == YAML_SEQUENCE_NODE
			   ? (size_t)v->n
			   : 0;

	if (want(c, v, YAML_SEQUENCE_NODE, "backend allow") < 0)
		return -1;
	if (n == 0)
		return fail(c, v, "backend allow needs at least one prefix (leave it out to use "
			    "recursion.allow)");
	b->allow = arena_alloc(&c->cfg->arena, n * sizeof(*b->allow));
	for (struct ynode **i = v->items; i < v->items + v->n; i++) {
		struct ynode *e = *i;

		if (want(c, e, YAML_SCALAR_NODE, "an address") < 0 ||
		    parse_acl(c, e, &b->allow[b->nallow]) < 0)
			return -1;
		b->nallow++;
	}
	return 0;
}

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
	static const char *const keys[] = {"name",  "domains", "policy",  "servers",
					   "check", "cache",   "timeout", "allow", NULL};
	struct config *cfg = c->cfg;

	if (want(c, seq, YAML_SEQUENCE_NODE, "backends") < 0)
		return -1;
	size_t n = (size_t)seq->n;

	cfg->backends = arena_alloc(&cfg->arena, (n ? n : 1) * sizeof(*cfg->backends));
	for (struct ynode **i = seq->items; i < seq->items + seq->n; i++) {
		struct ynode *e = *i;
		struct backend *b = &cfg->backends[cfg->nbackends];
		struct backend_item bi = {.b = b};

		memset(b, 0, sizeof(*b));
		b->line = (int)e->line;
		b->policy = BP_ROUND_ROBIN;
		b->timeout_ms = 1000;
		b->check_type = TYPE_SOA;
		b->check_interval_ms = 1000;
		b->check_timeout_ms = 500;
		b->rise = 2;
		b->fall = 3;
		b->cache_size = 16ULL << 20;
		b->cache_max_ttl = 86400;
		if (walk_map(c, e, "a backend", keys, backend_key, &bi) < 0)
			return -1;
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
		if (!bi.check_name) /* the check asks for the first domain's SOA by default */
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

static int top_key(struct cfg_ctx *c, const char *key, struct ynode *v)
{
	static const char *const server_keys[] = {"listen",	    "workers",
						  "control-socket", "tcp-idle-timeout",
						  "tcp-max-clients", "tcp-max-per-client", NULL};

	if (strcmp(key, "server") == 0)
		return walk_map(c, v, "server", server_keys, server_key, NULL);
	if (strcmp(key, "zones") == 0)
		return parse_zones(c, v);
	if (strcmp(key, "pools") == 0)
		return parse_pools(c, v);
	if (strcmp(key, "dataplane") == 0)
		return parse_dataplane(c, v);
	if (strcmp(key, "recursion") == 0)
		return parse_recursion(c, v);
	if (strcmp(key, "backends") == 0)
		return parse_backends(c, v);
	if (strcmp(key, "cookies") == 0) {
		static const char *const ckeys[] = {"enable", "secret", "previous-secret", NULL};

		c->cfg->cookies.enable = true;
		return walk_map(c, v, "cookies", ckeys, cookie_key, NULL);
	}
	if (strcmp(key, "rrl") == 0) {
		static const char *const rkeys[] = {"enable",	   "rate-limit",  "slip",
						    "ipv4-prefix", "ipv6-prefix", "table-size",
						    NULL};

		c->cfg->rrl.enable = true; /* a section turns it on unless it says enable: false */
		return walk_map(c, v, "rrl", rkeys, rrl_key, NULL);
	}
	if (strcmp(key, "http") == 0 || strcmp(key, "metrics") == 0)
		return parse_http(c, key, v);
	if (strcmp(key, "dnstap") == 0)
		return parse_dnstap(c, v);
	struct fleet_ctx fc = {c->cfg, c->path, c->dir, c->err, c->err_len};

	return strcmp(key, "keys") == 0 ? fleet_parse_keys(&fc, v) : fleet_parse_anycast(&fc, v);
}

/* `pools:` an item at a time, each dropped once read: what makes a
 * million names fit. Pools need their zones, so this is only done when
 * `zones:` came first (as it does in every config we ship); otherwise the
 * list is read whole and taken apart after the rest. */
static int stream_pools(struct cfg_ctx *c, struct ytree *t)
{
	struct ynode *seq, *item;
	int rc;

	if (ytree_begin_items(t, &seq) < 0)
		return seq ? want(c, seq, YAML_SEQUENCE_NODE, "pools") : -1;
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
	static const char *const keys[] = {"server", "zones",	"pools",   "dataplane",
					   "recursion", "rrl", "cookies", "metrics", "backends",
					   "http", "dnstap", "keys", "anycast", NULL};
	const char *seen[sizeof(keys) / sizeof(keys[0])];
	unsigned nseen = 0;
	struct ynode *k, *pools = NULL;
	bool zones = false;
	int rc;

	while ((rc = ytree_next_key(t, &k)) > 0) {
		const char *key = NULL;

		for (unsigned i = 0; i < nseen; i++)
			if (strcmp(seen[i], scalar(k)) == 0)
				return fail(c, k, "duplicate key '%s' in the config", scalar(k));
		for (const char *const *a = keys; *a; a++)
			if (strcmp(*a, scalar(k)) == 0)
				key = *a;
		if (!key)
			return fail(c, k, "unknown key '%s' in the config", scalar(k));
		seen[nseen++] = key;
		if (strcmp(key, "pools") == 0 && zones) {
			if (stream_pools(c, t) < 0)
				return -1;
			continue;
		}
		struct ynode *v = ytree_value(t);

		if (!v)
			return -1;
		if (strcmp(key, "pools") == 0) {
			pools = v;
			continue;
		}
		zones |= strcmp(key, "zones") == 0;
		if (top_key(c, key, v) < 0)
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
	cfg->workers = 1;
	cfg->tcp_idle_timeout = 10;
	cfg->tcp_max_clients = 1024;
	cfg->tcp_max_per_client = 32;
	cfg->control_socket = "/run/carousel/ctl.sock";
	cfg->generation = ++generation;
	cfg->rrl = (struct rrl_config){.rate = 50, .slip = 1, .v4_prefix = 24, .v6_prefix = 56,
				       .table_size = 65536}; /* Knot's mod-rrl defaults */
	cfg->rec.root_hints = "/usr/share/dns/root.hints";
	cfg->rec.cache_size = 64ULL << 20;
	cfg->rec.prefetch = true;
	cfg->rec.max_ttl = 86400;
	cfg->rec.promote_qps = 100;
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
