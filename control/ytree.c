/* ytree.c -- YAML nodes from libyaml's event parser into chunks of our
 * own (no malloc per node), read by recursive descent over the events. */
#include "ytree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YTREE_CHUNK (1u << 20)
#define YTREE_MAX_DEPTH 64 /* a config nests a few levels; a fuzzer nests thousands */

struct ychunk {
	struct ychunk *next;
	size_t size;
	_Alignas(16) unsigned char mem[];
};

struct anchor {
	char *name;
	struct ynode *node;
};

struct ytree {
	yaml_parser_t parser;
	FILE *f;
	const char *path;
	char *err;
	size_t err_len;
	bool failed, in_root, done;
	/* node memory: chunks in order, the current one and its fill */
	struct ychunk *first, *cur;
	size_t off, held; /* held: bytes of every chunk */
	/* children of the containers being read, a stack shared by all levels */
	struct ynode **kids;
	size_t nkids, cap_kids;
	struct anchor *anchors;
	size_t nanchors, cap_anchors;
	struct ynode root;
	/* a list being read an item at a time */
	bool in_items;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "event=fatal reason=out-of-memory\n");
		abort();
	}
	return p;
}

static void *tree_alloc(struct ytree *t, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	while (!t->cur || t->cur->size - t->off < n) {
		struct ychunk *next = t->cur ? t->cur->next : t->first;

		if (!next || next->size < n) { /* a new chunk, before any too small */
			size_t size = n > YTREE_CHUNK ? n : YTREE_CHUNK;
			struct ychunk *c = xrealloc(NULL, sizeof(*c) + size);

			c->size = size;
			c->next = next;
			t->held += sizeof(*c) + size;
			if (t->cur)
				t->cur->next = c;
			else
				t->first = c;
			next = c;
		}
		t->cur = next;
		t->off = 0;
	}
	void *p = t->cur->mem + t->off;

	t->off += n;
	return p;
}

int ytree_verr(char *err, size_t err_len, const char *path, size_t line, size_t column,
	       const char *fmt, va_list ap)
{
	int k = snprintf(err, err_len, "%s:%zu:%zu: ", path, line, column);

	if (k >= 0 && (size_t)k < err_len)
		vsnprintf(err + k, err_len - (size_t)k, fmt, ap);
	return -1;
}

__attribute__((format(printf, 3, 4))) static int tfail(struct ytree *t, const yaml_mark_t *m,
						       const char *fmt, ...)
{
	va_list ap;

	t->failed = true;
	va_start(ap, fmt);
	ytree_verr(t->err, t->err_len, t->path, m ? m->line + 1 : 1, m ? m->column + 1 : 1, fmt,
		   ap);
	va_end(ap);
	return -1;
}

/* The next event; -1 (message set) on bad YAML. */
static int next_event(struct ytree *t, yaml_event_t *ev)
{
	if (t->failed)
		return -1;
	if (!yaml_parser_parse(&t->parser, ev)) {
		const yaml_parser_t *p = &t->parser;

		snprintf(t->err, t->err_len, "%s:%zu:%zu: %s%s%s", t->path,
			 p->problem_mark.line + 1, p->problem_mark.column + 1,
			 p->problem ? p->problem : "bad YAML", p->context ? " " : "",
			 p->context ? p->context : "");
		t->failed = true;
		return -1;
	}
	return 0;
}

static void push_kid(struct ytree *t, struct ynode *n)
{
	if (t->nkids == t->cap_kids) {
		t->cap_kids = t->cap_kids ? t->cap_kids * 2 : 256;
		t->kids = xrealloc(t->kids, t->cap_kids * sizeof(*t->kids));
	}
	t->kids[t->nkids++] = n;
}

static struct ynode *new_node(struct ytree *t, yaml_node_type_t type, const yaml_mark_t *m)
{
	struct ynode *n = tree_alloc(t, sizeof(*n));

	*n = (struct ynode){
	    .type = type, .line = (uint32_t)m->line + 1, .column = (uint32_t)m->column + 1};
	return n;
}

static void add_anchor(struct ytree *t, const yaml_char_t *name, struct ynode *n)
{
	if (!name)
		return;
	if (t->nanchors == t->cap_anchors) {
		t->cap_anchors = t->cap_anchors ? t->cap_anchors * 2 : 16;
		t->anchors = xrealloc(t->anchors, t->cap_anchors * sizeof(*t->anchors));
	}
	t->anchors[t->nanchors].name = strdup((const char *)name);
	if (!t->anchors[t->nanchors].name)
		abort();
	t->anchors[t->nanchors++].node = n;
}

static struct ynode *read_node(struct ytree *t, yaml_event_t *ev, unsigned depth);

/* The children of a sequence or mapping up to its end event, then moved
 * from the shared stack into the tree. */
static struct ynode *read_container(struct ytree *t, yaml_event_t *ev, unsigned depth)
{
	bool map = ev->type == YAML_MAPPING_START_EVENT;
	yaml_event_type_t end = map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	struct ynode *n =
	    new_node(t, map ? YAML_MAPPING_NODE : YAML_SEQUENCE_NODE, &ev->start_mark);
	size_t base = t->nkids;

	if (depth > YTREE_MAX_DEPTH) {
		yaml_mark_t m = ev->start_mark; /* yaml_event_delete clears it */

		yaml_event_delete(ev);
		tfail(t, &m, "nested more than %d levels deep", YTREE_MAX_DEPTH);
		return NULL;
	}
	add_anchor(t, map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor, n);
	yaml_event_delete(ev);
	for (;;) {
		yaml_event_t e;

		if (next_event(t, &e) < 0)
			return NULL;
		if (e.type == end) {
			yaml_event_delete(&e);
			break;
		}
		struct ynode *kid = read_node(t, &e, depth + 1);

		if (!kid)
			return NULL;
		push_kid(t, kid);
	}
	size_t nk = t->nkids - base;
	void *arr = tree_alloc(t, (nk ? nk : 1) * sizeof(struct ynode *));

	if (nk) /* an empty one may come before any kid: kids is NULL */
		memcpy(arr, t->kids + base, nk * sizeof(struct ynode *));
	t->nkids = base;
	if (map) {
		n->pairs = arr;
		n->n = (uint32_t)(nk / 2);
	} else {
		n->items = arr;
		n->n = (uint32_t)nk;
	}
	return n;
}

/* One node from its first event (which this consumes). */
static struct ynode *read_node(struct ytree *t, yaml_event_t *ev, unsigned depth)
{
	struct ynode *n;

	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		size_t len = ev->data.scalar.length;
		char *v = tree_alloc(t, len + 1);

		memcpy(v, ev->data.scalar.value, len);
		v[len] = '\0';
		n = new_node(t, YAML_SCALAR_NODE, &ev->start_mark);
		n->value = v;
		n->n = (uint32_t)len;
		add_anchor(t, ev->data.scalar.anchor, n);
		yaml_event_delete(ev);
		return n;
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return read_container(t, ev, depth);
	case YAML_ALIAS_EVENT:
		for (size_t i = t->nanchors; i-- > 0;)
			if (strcmp(t->anchors[i].name, (const char *)ev->data.alias.anchor) == 0) {
				yaml_event_delete(ev);
				return t->anchors[i].node;
			}
		tfail(t, &ev->start_mark, "found undefined alias");
		yaml_event_delete(ev);
		return NULL;
	default:
		tfail(t, &ev->start_mark, "unexpected YAML event");
		yaml_event_delete(ev);
		return NULL;
	}
}

struct ytree *ytree_open(const char *path, char *err, size_t err_len)
{
	struct ytree *t = calloc(1, sizeof(*t));

	if (!t)
		abort();
	t->path = path;
	t->err = err;
	t->err_len = err_len;
	t->f = fopen(path, "r");
	if (!t->f) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		free(t);
		return NULL;
	}
	yaml_parser_initialize(&t->parser);
	yaml_parser_set_input_file(&t->parser, t->f);
	t->root = (struct ynode){.type = YAML_MAPPING_NODE, .line = 1, .column = 1};
	return t;
}

void ytree_close(struct ytree *t)
{
	if (!t)
		return;
	yaml_parser_delete(&t->parser);
	fclose(t->f);
	for (struct ychunk *c = t->first, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	for (size_t i = 0; i < t->nanchors; i++)
		free(t->anchors[i].name);
	free(t->anchors);
	free(t->kids);
	free(t);
}

struct ynode *ytree_root(struct ytree *t)
{
	return &t->root;
}

size_t ytree_peak(const struct ytree *t)
{
	return t->held;
}

/* Up to the start of the top-level mapping. */
static int open_root(struct ytree *t)
{
	for (;;) {
		yaml_event_t e;

		if (next_event(t, &e) < 0)
			return -1;
		switch (e.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
			yaml_event_delete(&e);
			continue;
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&e);
			return tfail(t, NULL, "the file is empty");
		case YAML_MAPPING_START_EVENT:
			t->root.line = (uint32_t)e.start_mark.line + 1;
			t->root.column = (uint32_t)e.start_mark.column + 1;
			add_anchor(t, e.data.mapping_start.anchor, &t->root);
			yaml_event_delete(&e);
			t->in_root = true;
			return 0;
		default: {
			yaml_mark_t m = e.start_mark;

			yaml_event_delete(&e);
			return tfail(t, &m, "the config must be a mapping");
		}
		}
	}
}

int ytree_next_key(struct ytree *t, struct ynode **key)
{
	yaml_event_t e;

	if (t->failed)
		return -1;
	if (t->done)
		return 0;
	if (!t->in_root && open_root(t) < 0)
		return -1;
	if (next_event(t, &e) < 0)
		return -1;
	if (e.type == YAML_MAPPING_END_EVENT) { /* later documents are not read */
		yaml_event_delete(&e);
		t->done = true;
		return 0;
	}
	*key = read_node(t, &e, 1);
	if (!*key)
		return -1;
	if ((*key)->type != YAML_SCALAR_NODE) {
		yaml_mark_t m = {.line = (*key)->line - 1, .column = (*key)->column - 1};

		return tfail(t, &m, "keys in the config must be plain words");
	}
	return 1;
}

struct ynode *ytree_value(struct ytree *t)
{
	yaml_event_t e;

	if (next_event(t, &e) < 0)
		return NULL;
	return read_node(t, &e, 1);
}

int ytree_begin_items(struct ytree *t, struct ynode **node)
{
	yaml_event_t e;

	*node = NULL;
	if (next_event(t, &e) < 0)
		return -1;
	/* read whole: not a list, or one a later *alias may name */
	if (e.type != YAML_SEQUENCE_START_EVENT || e.data.sequence_start.anchor) {
		*node = read_node(t, &e, 1);
		return -1;
	}
	*node = new_node(t, YAML_SEQUENCE_NODE, &e.start_mark);
	yaml_event_delete(&e);
	t->in_items = true;
	return 0;
}

int ytree_next_item(struct ytree *t, struct ynode **item)
{
	yaml_event_t e;

	if (!t->in_items)
		return 0;
	if (next_event(t, &e) < 0)
		return -1;
	if (e.type == YAML_SEQUENCE_END_EVENT) {
		yaml_event_delete(&e);
		t->in_items = false;
		return 0;
	}
	*item = read_node(t, &e, 2);
	return *item ? 1 : -1;
}

struct ytree_mark ytree_mark(const struct ytree *t)
{
	return (struct ytree_mark){.chunk = t->cur, .off = t->off, .anchors = t->nanchors};
}

bool ytree_release(struct ytree *t, struct ytree_mark m)
{
	if (t->nanchors > m.anchors)
		return false; /* a later item may refer to what this one anchored */
	t->cur = m.chunk;     /* the chunks after it are reused, not freed */
	t->off = m.off;
	return true;
}
