/* topnames.c -- Space-Saving top names per worker, merged on request. */
#include "topnames.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "xorshift.h"

void topnames_init(struct topnames *t)
{
	memset(t, 0, sizeof(*t));
	t->seq = (uint64_t)(uintptr_t)t | 1; /* any nonzero seed */
	pthread_mutex_init(&t->lock, NULL);
}

void topnames_destroy(struct topnames *t)
{
	pthread_mutex_destroy(&t->lock);
}

static void add(struct topnames *t, const uint8_t *name, uint8_t len, uint16_t qtype,
		uint64_t weight)
{
	struct topname *min = NULL;

	for (unsigned i = 0; i < t->n; i++) {
		struct topname *e = &t->e[i];

		if (e->qtype == qtype && e->len == len && memcmp(e->name, name, len) == 0) {
			e->count += weight;
			return;
		}
		if (!min || e->count < min->count)
			min = e;
	}
	if (t->n < TOPNAMES_K) {
		min = &t->e[t->n++];
		min->count = 0;
	}
	/* Space-Saving: the newcomer takes the smallest counter over */
	memcpy(min->name, name, len);
	min->len = len;
	min->qtype = qtype;
	min->count += weight;
}

void topnames_query(struct topnames *t, const uint8_t *query, size_t len)
{
	struct wire_query q;

	/* xorshift64: random, not every n-th query, so a client that cycles
	 * through a list of names is not sampled on the same ones */
	if (xorshift64(&t->seq) % TOPNAMES_SAMPLE != 0)
		return;
	if (wire_query_parse(query, len, &q) != WIRE_ANSWER || !q.question_ok)
		return;
	pthread_mutex_lock(&t->lock);
	add(t, q.qname, q.qname_len, q.qtype, TOPNAMES_SAMPLE);
	pthread_mutex_unlock(&t->lock);
}

/* Mnemonics of the common types, else RFC 3597's TYPEnnn. */
static void type_text(uint16_t qtype, char *out, size_t len)
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {{TYPE_A, "A"},     {TYPE_NS, "NS"},   {TYPE_CNAME, "CNAME"}, {TYPE_SOA, "SOA"},
		     {TYPE_PTR, "PTR"}, {TYPE_MX, "MX"},   {TYPE_TXT, "TXT"},     {TYPE_AAAA, "AAAA"},
		     {TYPE_SRV, "SRV"}, {TYPE_ANY, "ANY"}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].type == qtype) {
			snprintf(out, len, "%s", names[i].name);
			return;
		}
	snprintf(out, len, "TYPE%u", qtype);
}

static int by_count(const void *a, const void *b)
{
	const struct topname *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

size_t topnames_text(struct topnames *const *tables, unsigned n, unsigned limit, char *buf,
		     size_t len)
{
	struct topname *all = calloc((size_t)n * TOPNAMES_K, sizeof(*all));
	unsigned m = 0;
	size_t k = 0;

	if (!all)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		pthread_mutex_lock(&tables[i]->lock);
		for (unsigned j = 0; j < tables[i]->n; j++) {
			const struct topname *e = &tables[i]->e[j];
			unsigned x = 0;

			while (x < m && !(all[x].qtype == e->qtype && all[x].len == e->len &&
					  memcmp(all[x].name, e->name, e->len) == 0))
				x++;
			if (x == m)
				all[m++] = *e;
			else
				all[x].count += e->count;
		}
		pthread_mutex_unlock(&tables[i]->lock);
	}
	qsort(all, m, sizeof(*all), by_count);
	for (unsigned i = 0; i < m && i < limit && k < len; i++) {
		char name[DNAME_STRLEN], type[16];
		int w;

		dname_to_str(all[i].name, name, sizeof(name));
		type_text(all[i].qtype, type, sizeof(type));
		w = snprintf(buf + k, len - k, "%s %s %llu\n", name, type,
			     (unsigned long long)all[i].count);
		k += w > 0 ? (size_t)w : 0;
	}
	free(all);
	return k < len ? k : len;
}
