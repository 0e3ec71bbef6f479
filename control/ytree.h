/* ytree.h -- a compact YAML node tree read from libyaml's event parser,
 * a section at a time: a config of a million names is parsed without
 * libyaml's document tree (a malloc per node and per scalar), and a long
 * list can be taken an item at a time and its memory reused. */
#ifndef CAROUSEL_YTREE_H
#define CAROUSEL_YTREE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

struct ypair;

struct ynode {
	yaml_node_type_t type; /* YAML_SCALAR_NODE, YAML_SEQUENCE_NODE, YAML_MAPPING_NODE */
	uint32_t line, column; /* 1-based, where the node starts */
	uint32_t n;	       /* scalar: length; sequence: items; mapping: pairs */
	union {
		const char *value; /* NUL-terminated */
		struct ynode **items;
		struct ypair *pairs;
	};
};

struct ypair {
	struct ynode *key, *value;
};

struct ytree;

/* Open a YAML file for reading. NULL with "path: reason" in err. */
struct ytree *ytree_open(const char *path, char *err, size_t err_len);
void ytree_close(struct ytree *t);

/* The next key of the top-level mapping: 1 and *key, 0 after the last
 * one, -1 with "file:line:col: message" in err (bad YAML, an empty file,
 * a top level that is not a mapping, a key that is not a scalar). */
int ytree_next_key(struct ytree *t, struct ynode **key);
/* The value of the key just read, whole. NULL on error (err is set). */
struct ynode *ytree_value(struct ytree *t);
/* Or the value a sequence item at a time: ytree_begin_items starts it
 * (0), ytree_next_item gives each item (1), then 0 at the end, -1 on
 * error. -1 from ytree_begin_items with *node set: the value was not the
 * start of a sequence and has been read whole into *node (a scalar, a
 * mapping, or an *alias, which may well be a sequence); NULL: an error. */
int ytree_begin_items(struct ytree *t, struct ynode **node);
int ytree_next_item(struct ytree *t, struct ynode **item);

/* Everything read after a mark can be dropped once nothing points into it
 * (a list item that has been taken apart): true when it was, false when it
 * is kept because it defined an anchor (&name) a later node may use. */
struct ytree_mark {
	void *chunk;
	size_t off, anchors;
};
struct ytree_mark ytree_mark(const struct ytree *t);
bool ytree_release(struct ytree *t, struct ytree_mark m);

/* "path:line:col: " and the message into err, for the config readers'
 * errors (line and column 1-based); -1, to return. */
__attribute__((format(printf, 6, 0))) int ytree_verr(char *err, size_t err_len, const char *path,
						     size_t line, size_t column, const char *fmt,
						     va_list ap);

/* The top-level mapping as a node (line 1), for messages about the file. */
struct ynode *ytree_root(struct ytree *t);
/* Bytes the tree holds (its chunks), for the benchmark. */
size_t ytree_peak(const struct ytree *t);

#endif
