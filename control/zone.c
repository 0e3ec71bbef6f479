/* zone.c -- zone data: a hash of nodes per zone, loaded with libzscanner. */
#include "zone.h"

#include <libzscanner/scanner.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"

static struct node *find_hashed(const struct zone *z, const uint8_t *name, size_t len,
				uint32_t h)
{
	for (struct node *n = z->buckets[h & z->mask]; n; n = n->hash_next)
		if (n->hash == h && n->name_len == len && memcmp(n->name, name, len) == 0)
			return n;
	return NULL;
}

struct node *zone_find(const struct zone *z, const uint8_t *name, size_t len)
{
	return find_hashed(z, name, len, dname_hash(name, len));
}

static void zone_grow(struct arena *a, struct zone *z)
{
	uint32_t size = (z->mask + 1) * 2;
	struct node **b = arena_alloc(a, size * sizeof(*b));

	for (uint32_t i = 0; i <= z->mask; i++) {
		struct node *n = z->buckets[i];

		while (n) {
			struct node *next = n->hash_next;

			n->hash_next = b[n->hash & (size - 1)];
			b[n->hash & (size - 1)] = n;
			n = next;
		}
	}
	z->buckets = b; /* the old array stays in the arena until retirement */
	z->mask = size - 1;
}

struct node *zone_add_node(struct arena *a, struct zone *z, const uint8_t *name)
{
	size_t len = dname_len(name);
	uint32_t h = dname_hash(name, len); /* once: a million names load */
	struct node *n = find_hashed(z, name, len, h);

	if (n)
		return n;
	if (z->nodes >= z->mask)
		zone_grow(a, z);
	n = arena_alloc(a, sizeof(*n) + len);
	n->hash = h;
	n->name_len = (uint8_t)len;
	memcpy(n->name, name, len);
	n->hash_next = z->buckets[h & z->mask];
	z->buckets[h & z->mask] = n;
	z->nodes++;
	/* Empty non-terminals exist as nodes, so they answer NODATA; the
	 * apex is there once the zone is */
	const uint8_t *parent = len > z->apex_len ? dname_parent(name) : NULL;

	if (parent && !(z->apex_node && len - (size_t)(parent - name) == z->apex_len))
		zone_add_node(a, z, parent);
	return n;
}

struct rrset *node_rrset(const struct node *n, uint16_t type)
{
	for (struct rrset *s = n->rrsets; s; s = s->next)
		if (s->type == type)
			return s;
	return NULL;
}

void node_add_rr(struct arena *a, struct node *n, uint16_t type, uint32_t ttl,
		 const uint8_t *rdata, uint16_t rdlen)
{
	struct rrset *s = node_rrset(n, type);

	if (!s) {
		struct rrset **tail = &n->rrsets;

		while (*tail)
			tail = &(*tail)->next;
		s = arena_alloc(a, sizeof(*s));
		s->type = type;
		s->ttl = ttl;
		*tail = s;
	}
	for (struct rr *r = s->head; r; r = r->next)
		if (r->len == rdlen && memcmp(r->data, rdata, rdlen) == 0)
			return; /* RFC 2181 5: an RRset has no duplicates */
	struct rr *r = arena_alloc(a, sizeof(*r) + rdlen);

	r->len = rdlen;
	memcpy(r->data, rdata, rdlen);
	if (s->tail)
		s->tail->next = r;
	else
		s->head = r;
	s->tail = r;
	s->count++;
	if (ttl < s->ttl)
		s->ttl = ttl;
}

const struct node *zone_find_cut(const struct zone *z, const uint8_t *name,
				 const struct node **self, bool *seen)
{
	const uint8_t *anc[DNAME_MAXLEN / 2 + 1];
	size_t len[DNAME_MAXLEN / 2 + 1];
	int k = 0;

	*seen = false;
	if (z->cuts == 0)
		return NULL;
	for (const uint8_t *p = name; (len[k] = dname_len(p)) > z->apex_len; p = dname_parent(p))
		anc[k++] = p;
	while (k-- > 0) {
		const struct node *n = zone_find(z, anc[k], len[k]);

		if (!n || k == 0) {
			*self = n; /* nothing below exists either */
			*seen = true;
		}
		if (!n)
			return NULL;
		if (node_rrset(n, TYPE_NS))
			return n;
	}
	return NULL;
}

bool zone_below_cut(const struct zone *z, const uint8_t *name)
{
	const struct node *self;
	bool seen;

	return zone_find_cut(z, name, &self, &seen) != NULL;
}

uint32_t zone_negative_ttl(const struct zone *z)
{
	const struct rr *soa = z->soa->head;
	uint32_t minimum = wire_read32(soa->data + soa->len - 4);

	return z->soa->ttl < minimum ? z->soa->ttl : minimum;
}

/* Lower-case the domain names inside RDATA of the types whose names we
 * compare or follow (RFC 4034 6.2 lists them). */
static void rdata_lower_names(uint16_t type, uint8_t *rd, uint32_t len)
{
	switch (type) {
	case TYPE_NS:
	case TYPE_CNAME:
	case TYPE_PTR:
		dname_lower(rd);
		break;
	case TYPE_MX:
		if (len > 2)
			dname_lower(rd + 2);
		break;
	case TYPE_SRV:
		if (len > 6)
			dname_lower(rd + 6);
		break;
	case TYPE_SOA:
		dname_lower(rd);
		dname_lower(rd + dname_len(rd));
		break;
	default:
		break;
	}
}

struct load_ctx {
	struct arena *a;
	struct zone *z;
	const char *file;
	char *err;
	size_t err_len;
};

static void load_record(zs_scanner_t *s)
{
	struct load_ctx *c = s->process.data;
	struct zone *z = c->z;
	uint8_t owner[DNAME_MAXLEN];
	char text[DNAME_STRLEN];

	if (s->r_owner_length > DNAME_MAXLEN)
		goto bad;
	memcpy(owner, s->r_owner, s->r_owner_length);
	dname_lower(owner);
	if (!dname_is_sub(owner, z->apex)) {
		dname_to_str(owner, text, sizeof(text));
		snprintf(c->err, c->err_len, "%s:%llu: record for %s is outside the zone", c->file,
			 (unsigned long long)s->line_counter, text);
		goto stop;
	}
	if (s->r_class != CLASS_IN) {
		snprintf(c->err, c->err_len, "%s:%llu: only class IN is served", c->file,
			 (unsigned long long)s->line_counter);
		goto stop;
	}
	if (s->r_type == TYPE_SOA && !dname_equal(owner, z->apex)) {
		snprintf(c->err, c->err_len, "%s:%llu: SOA is only allowed at the apex", c->file,
			 (unsigned long long)s->line_counter);
		goto stop;
	}
	uint8_t rdata[65535];

	memcpy(rdata, s->r_data, s->r_data_length);
	rdata_lower_names(s->r_type, rdata, s->r_data_length);
	struct node *n = zone_add_node(c->a, z, owner);
	struct rrset *cname = node_rrset(n, TYPE_CNAME);

	/* RFC 1034 3.6.2: a CNAME owner has no other data */
	if ((s->r_type == TYPE_CNAME && n->rrsets && !cname) ||
	    (s->r_type != TYPE_CNAME && cname)) {
		dname_to_str(owner, text, sizeof(text));
		snprintf(c->err, c->err_len, "%s:%llu: %s has a CNAME and other data", c->file,
			 (unsigned long long)s->line_counter, text);
		goto stop;
	}
	node_add_rr(c->a, n, s->r_type, s->r_ttl, rdata, (uint16_t)s->r_data_length);
	if (s->r_type == TYPE_CNAME && node_rrset(n, TYPE_CNAME)->count > 1) {
		dname_to_str(owner, text, sizeof(text));
		snprintf(c->err, c->err_len, "%s:%llu: %s has more than one CNAME", c->file,
			 (unsigned long long)s->line_counter, text);
		goto stop;
	}
	z->records++;
	if (s->r_type == TYPE_NS && !dname_equal(owner, z->apex))
		z->cuts++;
	return;
bad:
	snprintf(c->err, c->err_len, "%s:%llu: bad owner name", c->file,
		 (unsigned long long)s->line_counter);
stop:
	s->state = ZS_STATE_STOP;
}

static void load_error(zs_scanner_t *s)
{
	struct load_ctx *c = s->process.data;

	if (c->err[0] == '\0')
		snprintf(c->err, c->err_len, "%s:%llu: %s", c->file,
			 (unsigned long long)s->line_counter, zs_strerror(s->error.code));
	s->state = ZS_STATE_STOP;
}

struct zone *zone_empty(struct arena *a, const uint8_t *apex, const char *file)
{
	struct zone *z = arena_alloc(a, sizeof(*z));

	z->apex_len = (uint8_t)dname_len(apex);
	memcpy(z->apex, apex, z->apex_len);
	z->file = arena_strdup(a, file);
	z->mask = 63;
	z->buckets = arena_alloc(a, 64 * sizeof(*z->buckets));
	z->apex_node = zone_add_node(a, z, z->apex);
	return z;
}

struct zone *zone_load(struct arena *a, const uint8_t *apex, const char *file, char *err,
		       size_t err_len)
{
	char origin[DNAME_STRLEN];
	struct zone *z = arena_alloc(a, sizeof(*z));
	struct load_ctx ctx = {.a = a, .z = z, .file = file, .err = err, .err_len = err_len};
	zs_scanner_t *s = arena_alloc(a, sizeof(*s)); /* large: keep off the stack */

	err[0] = '\0';
	z->apex_len = (uint8_t)dname_len(apex);
	memcpy(z->apex, apex, z->apex_len);
	z->file = arena_strdup(a, file);
	z->mask = 63;
	z->buckets = arena_alloc(a, 64 * sizeof(*z->buckets));
	dname_to_str(apex, origin, sizeof(origin));
	if (zs_init(s, origin, CLASS_IN, 3600) != 0) {
		snprintf(err, err_len, "%s: cannot initialise the zone scanner", file);
		return NULL;
	}
	if (zs_set_input_file(s, file) != 0) {
		snprintf(err, err_len, "%s: cannot open: %s", file, zs_strerror(s->error.code));
		zs_deinit(s);
		return NULL;
	}
	zs_set_processing(s, load_record, load_error, &ctx);
	zs_parse_all(s);
	if (err[0] == '\0' && s->error.counter > 0)
		snprintf(err, err_len, "%s:%llu: %s", file, (unsigned long long)s->line_counter,
			 zs_strerror(s->error.code));
	zs_deinit(s);
	if (err[0] != '\0')
		return NULL;
	z->apex_node = zone_find(z, z->apex, z->apex_len);
	z->soa = z->apex_node ? node_rrset(z->apex_node, TYPE_SOA) : NULL;
	if (!z->soa) {
		snprintf(err, err_len, "%s: no SOA record at the zone apex %s", file, origin);
		return NULL;
	}
	if (z->soa->count != 1) {
		snprintf(err, err_len, "%s: more than one SOA record at the apex", file);
		return NULL;
	}
	if (!node_rrset(z->apex_node, TYPE_NS)) {
		snprintf(err, err_len, "%s: no NS records at the zone apex %s", file, origin);
		return NULL;
	}
	return z;
}
