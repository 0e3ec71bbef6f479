/* config_fleet.c -- `keys:`, secondary zones and `anycast:` (the fleet's
 * part of the config), with the same file:line:col errors as config.c. */
#include "config_fleet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "zone.h"

static uint8_t staged_apex[DNAME_MAXLEN];
static const char *staged_file;

void fleet_stage(const uint8_t *apex, const char *staged)
{
	staged_file = staged;
	if (staged)
		memcpy(staged_apex, apex, dname_len(apex));
}

__attribute__((format(printf, 3, 4))) static int ffail(struct fleet_ctx *c, const struct ynode *n,
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

static int want_scalar(struct fleet_ctx *c, const struct ynode *n, const char *what)
{
	return n->type == YAML_SCALAR_NODE ? 0 : ffail(c, n, "%s must be a scalar", what);
}

/* Every pair of a mapping, keys checked against allowed (no duplicates). */
static int fleet_map(struct fleet_ctx *c, struct ynode *map, const char *what,
		     const char *const *allowed, struct ynode **vals)
{
	if (map->type != YAML_MAPPING_NODE)
		return ffail(c, map, "%s must be a mapping", what);
	for (struct ypair *p = map->pairs; p < map->pairs + map->n; p++) {
		struct ynode *k = p->key;
		int i = 0;

		if (k->type != YAML_SCALAR_NODE)
			return ffail(c, k, "keys in %s must be plain words", what);
		while (allowed[i] && strcmp(allowed[i], scalar(k)) != 0)
			i++;
		if (!allowed[i])
			return ffail(c, k, "unknown key '%s' in %s", scalar(k), what);
		if (vals[i])
			return ffail(c, k, "duplicate key '%s' in %s", scalar(k), what);
		vals[i] = p->value;
	}
	return 0;
}

static int fleet_dname(struct fleet_ctx *c, const struct ynode *n, const char *what, uint8_t *out)
{
	if (want_scalar(c, n, what) < 0)
		return -1;
	if (dname_from_str(scalar(n), out, DNAME_MAXLEN) < 0)
		return ffail(c, n, "%s: '%s' is not a valid domain name", what, scalar(n));
	dname_lower(out);
	return 0;
}

/* "ADDRESS" or "ADDRESS@PORT", as Knot writes them. */
static int fleet_address(struct fleet_ctx *c, const struct ynode *n, struct fleet_addr *a)
{
	char host[48];

	if (want_scalar(c, n, "primary") < 0)
		return -1;
	const char *s = scalar(n), *at = strrchr(s, '@');
	size_t hl = at ? (size_t)(at - s) : strlen(s);
	unsigned long port = 53;

	if (hl == 0 || hl >= sizeof(host))
		return ffail(c, n, "primary '%s' must be ADDRESS or ADDRESS@PORT", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (at) {
		char *end;

		errno = 0;
		port = strtoul(at + 1, &end, 10);
		if (at[1] == '\0' || *end || errno || port == 0 || port > 65535)
			return ffail(c, n, "primary port in '%s' must be 1-65535", s);
	}
	memset(a, 0, sizeof(*a));
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a->len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*sin6);
	} else {
		return ffail(c, n, "primary '%s' is not an IPv4 or IPv6 address", host);
	}
	snprintf(a->text, sizeof(a->text), "%s@%lu", host, port);
	return 0;
}

/* A secret file: one base64 line, readable by root (or us) alone. */
static int read_secret_file(struct fleet_ctx *c, const struct ynode *n, char *line, size_t len)
{
	char path[PATH_MAX];
	struct stat st;
	const char *s = scalar(n);
	int k = s[0] == '/' ? snprintf(path, sizeof(path), "%s", s)
			    : snprintf(path, sizeof(path), "%s/%s", c->dir, s);

	if (k < 0 || (size_t)k >= sizeof(path))
		return ffail(c, n, "secret-file name is too long");
	FILE *f = fopen(path, "r");

	if (!f)
		return ffail(c, n, "secret-file %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return ffail(c, n, "secret-file %s is not a regular file", path);
	}
	if (st.st_mode & 077) {
		fclose(f);
		return ffail(c, n, "secret-file %s is readable by others (mode %03o): chmod 600 it",
			     path, (unsigned)(st.st_mode & 0777));
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		fclose(f);
		return ffail(c, n, "secret-file %s must belong to root", path);
	}
	bool got = fgets(line, (int)len, f) != NULL;

	fclose(f);
	line[got ? strcspn(line, "\r\n \t") : 0] = '\0';
	return 0;
}

int fleet_parse_keys(struct fleet_ctx *c, struct ynode *seq)
{
	static const char *const keys[] = {"name", "algorithm", "secret", "secret-file", NULL};
	struct config *cfg = c->cfg;
	struct fleet_config *f = &cfg->fleet;

	if (seq->type != YAML_SEQUENCE_NODE)
		return ffail(c, seq, "keys must be a list");
	size_t n = (size_t)seq->n;

	f->keys = arena_alloc(&cfg->arena, (n ? n : 1) * sizeof(*f->keys));
	for (struct ynode **i = seq->items; i < seq->items + seq->n; i++) {
		struct ynode *e = *i, *v[4] = {0};
		struct fleet_key *k = &f->keys[f->nkeys];
		char line[512];

		if (fleet_map(c, e, "a key", keys, v) < 0)
			return -1;
		if (!v[0])
			return ffail(c, e, "key needs a name");
		if (fleet_dname(c, v[0], "key name", k->key.name) < 0)
			return -1;
		for (unsigned j = 0; j < f->nkeys; j++)
			if (dname_equal(f->keys[j].key.name, k->key.name))
				return ffail(c, v[0], "duplicate key %s", scalar(v[0]));
		k->name_text = arena_strdup(&cfg->arena, scalar(v[0]));
		k->line = (int)e->line;
		if (!v[1])
			return ffail(c, e, "key %s needs an algorithm", k->name_text);
		if (want_scalar(c, v[1], "key algorithm") < 0)
			return -1;
		int alg = tsig_alg_from_str(scalar(v[1]));

		if (alg < 0)
			return ffail(c, v[1],
				     "key algorithm must be hmac-sha256, hmac-sha384, "
				     "hmac-sha512 or hmac-sha1, not '%s'",
				     scalar(v[1]));
		k->key.alg = (enum tsig_alg)alg;
		if (!v[2] == !v[3])
			return ffail(c, e, "key %s needs one of secret and secret-file",
				     k->name_text);
		struct ynode *sn = v[2] ? v[2] : v[3];

		if (want_scalar(c, sn, "key secret") < 0)
			return -1;
		if (v[3] && read_secret_file(c, v[3], line, sizeof(line)) < 0)
			return -1;
		int rc = tsig_key_secret(&k->key, v[3] ? line : scalar(v[2]));

		explicit_bzero(line, sizeof(line));
		if (rc < 0)
			return ffail(c, sn, "key %s: the secret must be base64 (at most %d bytes)",
				     k->name_text, TSIG_SECRET_MAX);
		f->nkeys++;
	}
	return 0;
}

struct zone *fleet_load_secondary(struct fleet_ctx *c, struct ynode *zone_node, const uint8_t *apex,
				  const char *file, struct ynode *primary, struct ynode *key,
				  unsigned nzones)
{
	struct config *cfg = c->cfg;
	struct fleet_config *f = &cfg->fleet;
	char zerr[CFG_ERR_LEN];

	if (!primary) {
		ffail(c, zone_node,
		      "a zone with key: needs primary: (where it is transferred from)");
		return NULL;
	}
	if (!f->secondaries)
		f->secondaries =
		    arena_alloc(&cfg->arena, (nzones ? nzones : 1) * sizeof(*f->secondaries));
	struct secondary *s = &f->secondaries[f->nsecondaries];

	memcpy(s->apex, apex, dname_len(apex));
	s->file = arena_strdup(&cfg->arena, file);
	s->line = (int)zone_node->line;
	char text[DNAME_STRLEN];

	dname_to_str(apex, text, sizeof(text));
	s->name_text = arena_strdup(&cfg->arena, text);
	if (primary->type == YAML_SCALAR_NODE) {
		if (fleet_address(c, primary, &s->primaries[0]) < 0)
			return NULL;
		s->nprimaries = 1;
	} else if (primary->type == YAML_SEQUENCE_NODE) {
		for (struct ynode **i = primary->items; i < primary->items + primary->n; i++) {
			if (s->nprimaries == FLEET_MAX_PRIMARIES) {
				ffail(c, primary, "at most %d primaries", FLEET_MAX_PRIMARIES);
				return NULL;
			}
			if (fleet_address(c, *i, &s->primaries[s->nprimaries++]) < 0)
				return NULL;
		}
	}
	if (s->nprimaries == 0) {
		ffail(c, primary, "primary must be an address or a list of addresses");
		return NULL;
	}
	if (key) {
		if (want_scalar(c, key, "zone key") < 0)
			return NULL;
		s->key_name = arena_strdup(&cfg->arena, scalar(key)); /* resolved at the end */
	}
	struct zone *z;
	bool staged = staged_file && dname_equal(staged_apex, apex);

	if (!staged && access(file, F_OK) != 0 && errno == ENOENT) {
		/* nothing transferred yet: SERVFAIL until the first transfer */
		z = zone_empty(&cfg->arena, apex, file);
	} else {
		z = zone_load(&cfg->arena, apex, staged ? staged_file : file, zerr, sizeof(zerr));
		if (!z) {
			ffail(c, zone_node, "zone %s: %s", s->name_text, zerr);
			return NULL;
		}
		z->file = s->file;
	}
	z->secondary = s;
	s->zone = z;
	f->nsecondaries++;
	return z;
}

/* "192.0.2.53/32", "2001:db8::53/128" */
static int fleet_prefix(struct fleet_ctx *c, const struct ynode *n, struct anycast_prefix *a)
{
	char host[64];

	if (want_scalar(c, n, "anycast prefix") < 0)
		return -1;
	const char *s = scalar(n), *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);

	if (hl == 0 || hl >= sizeof(host))
		return ffail(c, n, "anycast prefix '%s' must be ADDRESS/LENGTH", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, host, a->addr) == 1)
		a->family = AF_INET6;
	else
		return ffail(c, n, "anycast prefix '%s' is not an IPv4 or IPv6 address", s);
	unsigned max = a->family == AF_INET ? 32 : 128;
	char *end;
	unsigned long len = slash ? strtoul(slash + 1, &end, 10) : max;

	if (slash && (slash[1] == '\0' || *end))
		return ffail(c, n, "anycast prefix '%s' must be ADDRESS/LENGTH", s);
	/* the address is put on the anycast device: a host route, so the
	 * appliance takes exactly the traffic it announces */
	if (len != max)
		return ffail(c, n, "anycast prefix '%s' must be a /%u (one service address)", s,
			     max);
	a->prefix = (unsigned)len;
	snprintf(a->text, sizeof(a->text), "%.48s/%lu", host, len);
	return 0;
}

int fleet_parse_anycast(struct fleet_ctx *c, struct ynode *seq)
{
	static const char *const keys[] = {"prefix", "pools", NULL};
	struct config *cfg = c->cfg;
	struct fleet_config *f = &cfg->fleet;

	if (seq->type != YAML_SEQUENCE_NODE)
		return ffail(c, seq, "anycast must be a list");
	size_t n = (size_t)seq->n;

	f->anycast = arena_alloc(&cfg->arena, (n ? n : 1) * sizeof(*f->anycast));
	for (struct ynode **i = seq->items; i < seq->items + seq->n; i++) {
		struct ynode *e = *i, *v[2] = {0};
		struct anycast_prefix *a = &f->anycast[f->nanycast];

		if (fleet_map(c, e, "an anycast prefix", keys, v) < 0)
			return -1;
		if (!v[0])
			return ffail(c, e, "anycast entry needs a prefix");
		if (fleet_prefix(c, v[0], a) < 0)
			return -1;
		for (unsigned j = 0; j < f->nanycast; j++)
			if (strcmp(f->anycast[j].text, a->text) == 0)
				return ffail(c, v[0], "duplicate anycast prefix %s", a->text);
		a->line = (int)e->line;
		if (v[1] && v[1]->type != YAML_SEQUENCE_NODE)
			return ffail(c, v[1], "anycast pools must be a list of pool names");
		for (struct ynode **p = v[1] ? v[1]->items : NULL;
		     v[1] && p < v[1]->items + v[1]->n; p++) {
			struct ynode *pn = *p;

			if (a->npools == FLEET_MAX_ANYCAST_POOLS)
				return ffail(c, pn, "at most %d pools per anycast prefix",
					     FLEET_MAX_ANYCAST_POOLS);
			if (want_scalar(c, pn, "anycast pool") < 0)
				return -1;
			a->pool_names[a->npools++] = arena_strdup(&cfg->arena, scalar(pn));
		}
		f->nanycast++;
	}
	return 0;
}

int fleet_finish(struct fleet_ctx *c)
{
	struct fleet_config *f = &c->cfg->fleet;

	for (unsigned i = 0; i < f->nsecondaries; i++) {
		struct secondary *s = &f->secondaries[i];
		uint8_t name[DNAME_MAXLEN];

		if (!s->key_name)
			continue;
		if (dname_from_str(s->key_name, name, sizeof(name)) < 0) {
			snprintf(c->err, c->err_len, "%s:%d:1: zone %s: '%s' is not a key name",
				 c->path, s->line, s->name_text, s->key_name);
			return -1;
		}
		dname_lower(name);
		for (unsigned k = 0; k < f->nkeys && !s->key; k++)
			if (dname_equal(f->keys[k].key.name, name))
				s->key = &f->keys[k].key;
		if (!s->key) {
			snprintf(c->err, c->err_len,
				 "%s:%d:1: zone %s: no key named %s in keys:", c->path, s->line,
				 s->name_text, s->key_name);
			return -1;
		}
	}
	for (unsigned i = 0; i < f->nanycast; i++) {
		struct anycast_prefix *a = &f->anycast[i];

		for (unsigned k = 0; k < a->npools; k++) {
			uint8_t name[DNAME_MAXLEN];

			if (dname_from_str(a->pool_names[k], name, sizeof(name)) < 0 ||
			    (dname_lower(name), !(a->pools[k] = config_find_pool(c->cfg, name)))) {
				snprintf(c->err, c->err_len,
					 "%s:%d:1: anycast %s: no pool named %s", c->path, a->line,
					 a->text, a->pool_names[k]);
				return -1;
			}
		}
	}
	return 0;
}

const struct secondary *fleet_find_secondary(const struct fleet_config *f, const uint8_t *apex)
{
	for (unsigned i = 0; i < f->nsecondaries; i++)
		if (dname_equal(f->secondaries[i].apex, apex))
			return &f->secondaries[i];
	return NULL;
}
